"""A whole run over partners: manual (`publish`) or automatic (`publish --scheduled`).

Both take the publish lock, publish each partner's period, and record every entry in history and
the ledger as soon as it is finished, so an interrupted run keeps what it did. One partner failing
never stops the others; the run's exit code is the worst partner's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cwpublish.config import Config, Partner
from cwpublish.errors import InputError, worst_exit_code
from cwpublish.period import Period, zone
from cwpublish.ping import ping
from cwpublish.schedule import ScheduleState, decide, observe

if TYPE_CHECKING:  # imported where used, so the nightly no-op stays light
    from cwpublish.history import Entry, Ledger
    from cwpublish.publishing import Plan, Progress

log = logging.getLogger("cwpublish")


@dataclass
class RunResult:
    entries: list[Entry] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return worst_exit_code([e.exit_code for e in self.entries])


def default_initiated_by() -> str:
    """$CWPUBLISH_INITIATED_BY, else user@host."""
    import getpass
    import os
    import socket

    if os.environ.get("CWPUBLISH_INITIATED_BY"):
        return os.environ["CWPUBLISH_INITIATED_BY"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def pick_partners(config: Config, names: tuple[str, ...]) -> list[Partner]:
    """The --partner ones (InputError for an unknown name), or all."""
    if not names:
        return list(config.partners)
    known = {p.name for p in config.partners}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"--partner: unknown partner {', '.join(map(repr, unknown))} "
            f"(configured: {', '.join(sorted(known))})"
        )
    return [p for p in config.partners if p.name in names]


def plan_manual(
    config: Config,
    partner_names: tuple[str, ...],
    client_names: tuple[str, ...],
    month: Period | None,
    initiated_by: str,
    need_password: bool = True,
) -> list[Plan]:
    """Plans for a manual publish; InputError if the selection is empty or a name is unknown."""
    from cwpublish.publishing import (
        check_client_names,
        partner_period,
        plan_partner,
        select_clients,
    )

    partners = pick_partners(config, partner_names)
    check_client_names(partners, client_names)
    plans = []
    for partner in partners:
        clients = select_clients(partner, client_names)
        if not clients:
            continue
        period = month or partner_period(partner)
        plans.append(
            plan_partner(
                partner, period, clients, "manual", initiated_by, need_password=need_password
            )
        )
    if not plans:
        raise InputError(
            "no clients selected: every client has `publish: false`; name them with --client"
        )
    return plans


def execute_plans(
    config: Config,
    plans: list[Plan],
    progress: Callable[[Plan], Progress | None] | None = None,
    after: Callable[[Entry], None] | None = None,
) -> RunResult:
    """Send every plan under the lock, recording each entry as soon as it is finished."""
    from cwpublish.history import History, Ledger
    from cwpublish.lock import PublishLock
    from cwpublish.publishing import execute

    result = RunResult()
    with PublishLock(config.state_dir):
        history, ledger = History(config.state_dir), Ledger(config.state_dir)
        for plan in plans:
            entry = execute(plan, progress(plan) if progress else None)
            history.add(entry)
            ledger.record(entry)
            result.entries.append(entry)
            if after:
                after(entry)
    return result


def run_scheduled(
    config: Config,
    partner_names: tuple[str, ...],
    initiated_by: str,
    force: bool = False,
    now: datetime | None = None,
    after: Callable[[Entry], None] | None = None,
) -> RunResult:
    """The nightly run: publish each partner whose day it is and whose period is not done."""
    now = now or datetime.now(UTC)
    partners = [p for p in pick_partners(config, partner_names) if p.schedule]
    state = ScheduleState(config.state_dir)
    if not partner_names:
        state.forget_except({p.name for p in partners})
    ledger: Ledger | None = None

    def done(partner: Partner) -> Callable[[Period], bool]:
        def is_done(period: Period) -> bool:
            nonlocal ledger
            if force:
                return False
            if ledger is None:
                from cwpublish.history import Ledger

                ledger = Ledger(config.state_dir)
            return not _pending(ledger, partner, period)

        return is_done

    due: list[tuple[Partner, Period]] = []
    for partner in partners:
        assert partner.schedule is not None
        today = now.astimezone(zone(partner.schedule.timezone)).date()
        day_state = observe(state.get(partner.name), partner.schedule, today)
        state.set(partner.name, day_state)
        decision = decide(today, partner.schedule, day_state, done(partner))
        log.info("%s: %s", partner.name, decision.reason)
        if decision.due and decision.period:
            due.append((partner, decision.period))
        else:  # the nightly "still alive" ping
            ping(partner.schedule.ping_url)
    state.save()
    result = RunResult()
    if not due:
        return result
    from cwpublish.history import ClientResult, History, Ledger
    from cwpublish.lock import PublishLock
    from cwpublish.publishing import execute, plan_partner

    initiated_by = initiated_by or default_initiated_by()
    with PublishLock(config.state_dir):
        history, ledger = History(config.state_dir), Ledger(config.state_dir)
        for partner, period in due:
            pending = partner.clients if force else _pending(ledger, partner, period)
            if not pending:  # another run finished it while we were deciding
                ping(partner.schedule.ping_url)
                continue
            ping(partner.schedule.ping_url, "start")
            plan = plan_partner(partner, period, list(pending), "automatic", initiated_by)
            plan.skipped = [
                ClientResult(
                    c.name,
                    c.managed_id,
                    None,
                    "skipped",
                    "already published automatically for this period",
                )
                for c in partner.clients
                if c.publish and c not in pending
            ]
            entry = execute(plan)
            history.add(entry)
            ledger.record(entry)
            result.entries.append(entry)
            ping(partner.schedule.ping_url, "" if entry.status == "success" else "fail")
            if after:
                after(entry)
    return result


def _pending(ledger: Ledger, partner: Partner, period: Period) -> list:
    """Selected clients not yet published automatically for `period`."""
    return [
        c
        for c in partner.clients
        if c.publish
        and "automatic" not in ledger.published(partner.name, str(period), c.managed_id)
    ]
