"""A whole run over partners: manual (`publish`) or automatic (`publish --scheduled`).

Both take the publish lock, publish each partner's period, and record every entry in history and
the ledger as soon as it is finished, so an interrupted run keeps what it did. One partner failing
never stops the others; the run's exit code is the worst partner's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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


class _Recorder:
    """Records each finished entry (history, ledger), then emails the managers about it."""

    def __init__(self, config: Config, notify: bool):
        from cwpublish.history import History, Ledger

        self.config = config
        self.notify = notify
        self.history = History(config.state_dir)
        self.ledger = Ledger(config.state_dir)
        self.result = RunResult()

    def record(self, partner: Partner, entry: Entry) -> None:
        self.history.add(entry)  # the result is decided and kept before any email
        self.ledger.record(entry)
        self.result.entries.append(entry)
        if self.notify:
            from cwpublish.notify import notify_publish

            entry.notification = notify_publish(self.config, partner, entry.to_dict())
        else:
            entry.notification = {"status": "disabled", "recipients": [], "error": "--no-email"}
        self.history.update(entry)


def execute_plans(
    config: Config,
    plans: list[Plan],
    progress: Callable[[Plan], Progress | None] | None = None,
    notify: bool = True,
) -> RunResult:
    """Send every plan under the lock, recording each entry as soon as it is finished."""
    from cwpublish.lock import PublishLock
    from cwpublish.publishing import execute

    with PublishLock(config.state_dir):
        recorder = _Recorder(config, notify)
        for plan in plans:
            entry = execute(plan, progress(plan) if progress else None)
            recorder.record(plan.partner, entry)
    return recorder.result


def run_scheduled(
    config: Config,
    partner_names: tuple[str, ...],
    initiated_by: str | None,
    force: bool = False,
    now: datetime | None = None,
    notify: bool = True,
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
            continue
        ping(partner.schedule.ping_url)  # the nightly "still alive" ping
        tomorrow = decide(today + timedelta(days=1), partner.schedule, day_state, done(partner))
        if (
            tomorrow.due
            and tomorrow.run_date == today + timedelta(days=1)
            and state.preflight_date(partner.name) != tomorrow.run_date
        ):
            state.set_preflight(partner.name, tomorrow.run_date)
            _preflight(config, partner, tomorrow, notify)
    state.save()
    if not due:
        return RunResult()
    return _publish_due(config, due, initiated_by or default_initiated_by(), force, notify)


def _publish_due(
    config: Config, due: list[tuple[Partner, Period]], initiated_by: str, force: bool, notify: bool
) -> RunResult:
    from cwpublish.history import ClientResult
    from cwpublish.lock import PublishLock
    from cwpublish.publishing import execute, plan_partner

    with PublishLock(config.state_dir):
        recorder = _Recorder(config, notify)
        for partner, period in due:
            assert partner.schedule is not None
            pending = partner.clients if force else _pending(recorder.ledger, partner, period)
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
            recorder.record(partner, entry)
            ping(partner.schedule.ping_url, "" if entry.status == "success" else "fail")
    return recorder.result


def _preflight(config: Config, partner: Partner, tomorrow, notify: bool) -> None:
    """The night before the day: log in and check the Managed IDs; warn the managers once."""
    from cwpublish.check import online_checks

    problems = [c.message for c in online_checks(partner) if c.status == "fail"]
    if not problems:
        log.info("%s: pre-flight for tomorrow's publish passed", partner.name)
        return
    log.warning(
        "%s: tomorrow's automatic publish (%s) would fail: %s",
        partner.name,
        tomorrow.period,
        "; ".join(problems),
    )
    if not notify or config.smtp is None or not partner.managers:
        return
    from cwpublish.errors import CwpublishError
    from cwpublish.notify import preflight_message, send

    try:
        send(
            config.smtp,
            preflight_message(config, partner, tomorrow.run_date, str(tomorrow.period), problems),
        )
    except CwpublishError as e:
        log.warning("%s: the pre-flight warning email was not sent: %s", partner.name, e)


def _pending(ledger: Ledger, partner: Partner, period: Period) -> list:
    """Selected clients not yet published automatically for `period`."""
    return [
        c
        for c in partner.clients
        if c.publish
        and "automatic" not in ledger.published(partner.name, str(period), c.managed_id)
    ]
