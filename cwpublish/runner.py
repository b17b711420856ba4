"""A whole run over partners: manual (`publish`) or automatic (`publish --scheduled`).

Both take the publish lock, publish each partner's period, and record every entry in history and
the ledger as soon as it is finished, so an interrupted run keeps what it did. One partner failing
never stops the others; the run's exit code is the worst partner's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from cwpublish import log
from cwpublish.config import Config, Partner
from cwpublish.errors import EXIT_FAILED, InputError, worst_exit_code
from cwpublish.period import Period, zone
from cwpublish.ping import ping
from cwpublish.schedule import ScheduleState, decide, observe

if TYPE_CHECKING:  # imported where used, so the nightly no-op stays light
    from cwpublish.history import Entry, Ledger
    from cwpublish.publishing import Plan, Progress


MAX_BACKFILL_MONTHS = 60


@dataclass
class RunResult:
    entries: list[Entry] = field(default_factory=list)
    not_attempted: list[tuple[str, str]] = field(default_factory=list)  # (partner, period)
    state_error: str | None = None  # the history or ledger could not be written

    @property
    def exit_code(self) -> int:
        codes = [e.exit_code for e in self.entries]
        return worst_exit_code(codes + ([EXIT_FAILED] if self.state_error else []))


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


def resolve_periods(
    month: str | None, first: str | None, last: str | None, today: date | None = None
) -> list[Period | None]:
    """The periods of --month or --from/--to, oldest first; [None] means each partner's default.

    A month in the future is refused: its usage is not final and it would bill ahead.
    """
    now = Period.of(today or date.today())

    def parse(option: str, text: str) -> Period:
        try:
            period = Period.parse(text)
        except ValueError as e:
            raise InputError(f"{option}: {e}") from None
        if period > now:
            raise InputError(f"{option}: {period} is in the future")
        return period

    if month and (first or last):
        raise InputError("--month cannot be combined with --from/--to")
    if month:
        return [parse("--month", month)]
    if last and not first:
        raise InputError("--to needs --from (the first month of the backfill)")
    if not first:
        return [None]
    start, end = parse("--from", first), parse("--to", last) if last else now
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    periods = [start]
    while periods[-1] < end:
        periods.append(periods[-1].next())
    if len(periods) > MAX_BACKFILL_MONTHS:
        raise InputError(
            f"--from/--to: {len(periods)} months; at most {MAX_BACKFILL_MONTHS} at once"
        )
    return periods


def plan_manual(
    config: Config,
    partner_names: tuple[str, ...],
    client_names: tuple[str, ...],
    periods: list[Period | None],
    initiated_by: str,
    need_password: bool = True,
) -> list[Plan]:
    """Plans for a manual publish, oldest period first; every usage source is read up front."""
    from cwpublish.publishing import (
        check_client_names,
        partner_period,
        plan_partner,
        select_clients,
    )

    partners = pick_partners(config, partner_names)
    check_client_names(partners, client_names)
    plans = []
    for period in periods:
        for partner in partners:
            clients = select_clients(partner, client_names)
            if clients:
                plans.append(
                    plan_partner(
                        partner,
                        period or partner_period(partner),
                        clients,
                        "manual",
                        initiated_by,
                        need_password=need_password,
                    )
                )
    if not plans:
        raise InputError(
            "no clients selected: every client has `publish: false`; name them with --client"
        )
    return plans


def check_backfill(plans: list[Plan]) -> None:
    """A backfill starts only if every month can run: InputError listing those that cannot."""
    broken = [p for p in plans if p.error]
    if broken:
        listing = "\n".join(f"  {p.partner.name} {p.period}: {p.error}" for p in broken)
        raise InputError(
            f"backfill refused, nothing was sent: {len(broken)} month(s) cannot "
            f"be published:\n{listing}"
        )


@dataclass(frozen=True)
class Duplicate:
    """A client a manual publish would send again for a period it was already published for."""

    partner: str
    period: str
    client: str
    managed_id: str
    at: str
    by: str
    mode: str

    def __str__(self) -> str:
        return (
            f"{self.partner} {self.period}: {self.client} ({self.managed_id}) was published "
            f"{self.at} by {self.by} ({self.mode})"
        )


def find_duplicates(config: Config, plans: list[Plan]) -> list[Duplicate]:
    """Clients of the plans already published for the same period (ledger, any mode)."""
    from cwpublish.history import Ledger

    ledger = Ledger(config.state_dir)
    found = []
    for plan in plans:
        for d in plan.to_send:
            newest = ledger.last(plan.partner.name, str(plan.period), d.managed_id)
            if newest:
                mode, last = newest
                found.append(
                    Duplicate(
                        plan.partner.name,
                        str(plan.period),
                        d.client,
                        d.managed_id,
                        last.get("at") or "?",
                        last.get("by") or "?",
                        mode,
                    )
                )
    return found


def drop_duplicates(plans: list[Plan], duplicates: list[Duplicate]) -> list[Plan]:
    """The plans without the duplicate clients (plans left with nothing are dropped)."""
    dup = {(d.partner, d.period, d.managed_id) for d in duplicates}
    kept = []
    for plan in plans:
        plan.to_send = [
            d
            for d in plan.to_send
            if (plan.partner.name, str(plan.period), d.managed_id) not in dup
        ]
        if plan.to_send or plan.failed:
            kept.append(plan)
    return kept


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
        """Keep the entry (history, ledger) before any email; then email and note the outcome.

        A state file that cannot be written never hides what was sent: the entry is still
        returned and shown, and the run exits 1.
        """
        from cwpublish.errors import StateError

        self.result.entries.append(entry)
        if not self.notify:
            entry.notification = {"status": "disabled", "recipients": [], "error": "--no-email"}
        try:
            self.history.add(entry)
            self.ledger.record(entry)
        except StateError as e:
            log.error(
                "%s %s was published as shown, but could not be recorded: %s",
                entry.partner,
                entry.period,
                e,
            )
            entry.warnings.append(f"not recorded in history: {e}")
            self.result.state_error = str(e)
        if not self.notify:
            return
        from cwpublish.notify import notify_publish

        entry.notification = notify_publish(self.config, partner, entry.to_dict())
        if not self.result.state_error:
            try:
                self.history.update(entry)
            except StateError as e:
                log.error("could not record the email outcome: %s", e)
                self.result.state_error = str(e)


def execute_plans(
    config: Config,
    plans: list[Plan],
    progress: Callable[[Plan], Progress | None] | None = None,
    notify: bool = True,
    stop_on_failure: bool = False,
) -> RunResult:
    """Send every plan under the lock, recording each entry as soon as it is finished.

    With `stop_on_failure` (a backfill), the first publish that failed entirely stops the run;
    the plans left are reported as not attempted.
    """
    from cwpublish.lock import PublishLock
    from cwpublish.publishing import execute

    with PublishLock(config.state_dir):
        recorder = _Recorder(config, notify)
        for i, plan in enumerate(plans):
            entry = execute(plan, progress(plan) if progress else None)
            recorder.record(plan.partner, entry)
            if stop_on_failure and entry.status == "failed":
                recorder.result.not_attempted = [
                    (p.partner.name, str(p.period)) for p in plans[i + 1 :]
                ]
                break
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
        today = now.astimezone(zone(partner.timezone)).date()
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
            selected = [c for c in partner.clients if c.publish]
            pending = selected if force else _pending(recorder.ledger, partner, period)
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
                for c in selected
                if c not in pending
            ]
            entry = execute(plan)
            recorder.record(partner, entry)
            ping(partner.schedule.ping_url, "" if entry.status == "success" else "fail")
    return recorder.result


def _preflight(config: Config, partner: Partner, tomorrow, notify: bool) -> None:
    """The night before the day: log in and check the Managed IDs; warn the managers once."""
    from cwpublish.check import online_checks

    problems = [c.message for c in online_checks(partner, selected_only=True) if c.status == "fail"]
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
