"""The nightly run (`publish --scheduled`): publish each partner whose day it is, once per period.

The decision per partner is schedule.decide(), a pure function; its reason is logged (-v) when
nothing is due. With nothing due the run imports no transport, history or output code and builds
no client (config/clients.py), so cron's nightly no-op stays fast however many clients there
are. The night before a partner's day, its pre-flight runs and the managers are warned once if
tomorrow's publish would fail.

A due period is remembered as attempted (schedule.json) before anything is built or sent, so a
night that fails in any way -- ConnectWise down, some clients refused, a killed run -- is tried
again on the following nights (schedule.py). Each entry that did not publish everything carries
`scheduled_retry` {first_try, next_try, last_try}: when the schedule tries again (next_try null:
this was the last try), which the output and the managers' email state (advice.py).

Retry nights (after the first try) differ in two ways, decided here: a client published for the
period by any mode since the first try (a person ran --retry, --client or --force) is done; and a
client whose last automatic try failed as `invoiced` (Attempt.invoiced) is not sent again -- the
invoice will not un-happen -- but named in the night's entry, if there is one. A night that would
only repeat that failure sends nothing and emails nobody, except the last try, whose entry and
email say the period is NOT published and what to run; it pings `ping_url/fail` (not "alive"):
the period is not published. A night that finds an earlier publish still not recorded sends
nothing (recording.require_recorded, as a manual publish), pings its exit code and stays open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from cwpublish import log
from cwpublish.config.model import Config, Partner, state_key
from cwpublish.domain.period import Period, zone
from cwpublish.domain.run_result import RunResult
from cwpublish.domain.schedule import (
    Attempt,
    DayState,
    Decision,
    decide,
    next_try,
    observe,
    retry_end,
)
from cwpublish.errors import ConfigError, StateError
from cwpublish.notify.ping import ping
from cwpublish.state.schedule_state import ScheduleState

if TYPE_CHECKING:  # imported where used, so the nightly no-op stays light
    from cwpublish.domain.record import Entry
    from cwpublish.publish.plan import Plan
    from cwpublish.state.ledger import Ledger


@dataclass(frozen=True)
class Due:
    """A partner publishing tonight, with what its retries are judged by."""

    partner: Partner
    key: str
    period: Period
    today: date
    day_state: DayState
    attempt: Attempt


def run_scheduled(
    config: Config,
    partner_names: tuple[str, ...],
    initiated_by: str | None,
    force: bool = False,
    now: datetime | None = None,
    notify: bool = True,
) -> RunResult:
    """Publish each partner whose day it is (or whose failed period is retried) and whose
    period is not done.

    Every decision is taken first, and the attempts recorded; then the clients of each partner
    that acts tonight (due, or its night-before check) are built -- validated, when they come
    from the parse cache -- before anything is pinged or sent, so a problem stops the run
    (exit 2) listing them all. A partner that is not due has no client built.
    """
    # The publishing code (plan, ledger, lock, recording, run) is imported where it is used:
    # the nightly no-op (nothing due) loads none of it (tests/unit/test_layers.py, LIGHT_PATH).
    now = now or datetime.now(UTC)
    partners = list(config.partners)
    if partner_names:  # plan.py is heavy, and the nightly no-op names no partner
        from cwpublish.publish.plan import pick_partners

        partners = pick_partners(config, partner_names)
    partners = [p for p in partners if p.schedule]
    keys = [state_key(p) for p in partners]
    state = ScheduleState(config.state_dir)
    if not partner_names:
        state.prune(now.date(), set(keys))
    ledger: Ledger | None = None

    def done(partner: Partner, today: date, attempt: Attempt | None) -> Callable[[Period], bool]:
        def is_done(period: Period) -> bool:
            nonlocal ledger
            if ledger is None:
                from cwpublish.state.ledger import Ledger

                ledger = Ledger(config.state_dir)
            return not pending_clients(ledger, partner, period, retry_since(attempt, period, today))

        return is_done

    tonight: list[tuple[Partner, str, Decision, Decision | None, Due | None]] = []
    for partner, key in zip(partners, keys, strict=True):
        assert partner.schedule is not None
        today = now.astimezone(zone(partner.timezone)).date()
        day_state = observe(state.get(key), partner.schedule, today)
        state.set(key, day_state)
        attempt = state.attempt(key)
        decision = decide(
            today, partner.schedule, day_state, done(partner, today, attempt), attempt, force
        )
        state.set_attempt(key, decision.attempt)
        if decision.given_up:
            _report_given_up(partner, decision.given_up)
        due = None
        if decision.due and decision.period and decision.attempt:
            due = Due(partner, key, decision.period, today, day_state, decision.attempt)
        check = None  # tomorrow's decision, when its night-before check is to run tonight
        next_day = today + timedelta(days=1)
        if due is None and next_day.day == partner.schedule.day:
            tomorrow = decide(
                next_day, partner.schedule, day_state, done(partner, next_day, None), None, force
            )
            if (
                tomorrow.due
                and tomorrow.run_date == next_day
                and state.preflight_date(key) != tomorrow.run_date
            ):
                check = tomorrow
        tonight.append((partner, key, decision, check, due))
    state.save()  # attempts first: a night that fails from here on is retried
    _build_clients(config, [p for p, _, _, c, d in tonight if d or c])
    dues: list[Due] = []
    for partner, key, decision, check, due in tonight:
        assert partner.schedule is not None
        log.info("%s: %s", partner.name, decision.reason)
        if due:
            dues.append(due)
            continue
        ping(partner.schedule.ping_url)  # the nightly "still alive" ping
        if check is not None and check.run_date is not None:
            from cwpublish.usecases.night_before import warn_if_tomorrow_fails

            state.set_preflight(key, check.run_date)
            warn_if_tomorrow_fails(config, partner, check, notify)
    state.save()
    if not dues:
        return RunResult()  # light: run_result.py loads no record type
    from cwpublish.publish.plan import default_initiated_by

    return _publish_due(
        config, dues, initiated_by or default_initiated_by(), force, notify, state
    )


def _report_given_up(partner: Partner, attempt: Attempt) -> None:
    """A period whose retries ended undone while no run made its last try: said once."""
    log.warning(
        "%s: %s was NOT published automatically: it failed on %s, was last tried on %s, and "
        "its retries have ended; publish it with: cwpublish publish --partner %s --month %s",
        partner.name,
        attempt.period,
        attempt.first_try,
        attempt.tried,
        partner.name,
        attempt.period,
    )


def _build_clients(config: Config, partners: list[Partner]) -> None:
    """Read each partner's clients, so that those given lazily (config/clients.py) are built
    and validated now; one ConfigError listing every problem of them all."""
    problems: list[str] = []
    for partner in partners:
        try:
            partner.clients  # noqa: B018 - built on first read
        except ConfigError as e:
            problems += e.problems
    if problems:
        raise ConfigError(str(config.path), problems)


def _publish_due(
    config: Config,
    dues: list[Due],
    initiated_by: str,
    force: bool,
    notify: bool,
    state: ScheduleState,
) -> RunResult:
    """Plan the clients still pending of each due partner, then send them (run_plans); a
    period done tonight is closed in `state`, so it is not tried again."""
    from cwpublish.domain.record import INVOICED, Status
    from cwpublish.notify.sink import build_sinks
    from cwpublish.publish.recording import require_recorded
    from cwpublish.publish.run_plans import run_plans
    from cwpublish.state.ledger import Ledger
    from cwpublish.state.lock import PublishLock

    retried: dict[str, Due] = {}  # partner -> its retries, unless --force redid a done period
    with PublishLock(config.state_dir):
        try:  # an entry an earlier run could not record reaches the ledger first, or no send
            require_recorded(config)
        except StateError as e:  # the attempts stay open (saved above): tried again tomorrow
            for due in dues:
                assert due.partner.schedule is not None
                ping(due.partner.schedule.ping_url, str(e.exit_code))
            raise
        ledger = Ledger(config.state_dir)  # read under the lock: another run may have finished
        plans = []
        for due in dues:
            assert due.partner.schedule is not None
            plan, retries = plan_due(due, ledger, initiated_by, force)
            if plan is None:  # done meanwhile ("alive"), or only the same invoiced failure left:
                # the period is NOT published, so monitoring sees a failure (/fail)
                ping(due.partner.schedule.ping_url, "fail" if retries else "")
                continue
            if retries:
                retried[due.partner.name] = due
            plans.append(plan)
        hold_newer(config, plans, force)
        sinks = [_retry_notes(retried), *build_sinks(config, notify)]  # notes before the email
        result = run_plans(config, plans, sinks=sinks)
    for entry in result.entries:
        due = retried.get(entry.partner)
        if due and entry.status == "success":
            state.set_attempt(due.key, replace(due.attempt, open=False))
        elif due:  # remembered, so the following nights do not resend them
            invoiced = sorted(
                c.managed_id
                for c in entry.clients
                if c.status == Status.FAILED and c.kind == INVOICED
            )
            state.set_attempt(due.key, replace(due.attempt, invoiced=tuple(invoiced)))
    state.save()
    return result


def plan_due(
    due: Due, ledger: Ledger, initiated_by: str, force: bool
) -> tuple[Plan | None, bool]:
    """Tonight's plan for a due partner, decided once for the run and its --dry-run: (None
    when nothing is sent -- another run finished the period, or a retry night would only
    repeat an `invoiced` failure -- and whether the period is still unpublished and retried,
    `scheduled_retry`; with None, True means held: not published, pinged as a failure)."""
    from cwpublish.domain.record import ClientResult, Status
    from cwpublish.publish.plan import plan_partner

    partner = due.partner
    selected = [c for c in partner.clients if c.publish]
    since = retry_since(due.attempt, due.period, due.today)
    pending = pending_clients(ledger, partner, due.period, since)
    retries = bool(pending)
    if force:
        pending = selected
    if not pending:  # another run finished it while we were deciding
        return None, False
    held = set() if force or since is None else set(due.attempt.invoiced)
    held &= {c.managed_id for c in pending}
    last = retry_note(due)["next_try"] is None
    if held and len(held) == len(pending) and not last:
        _report_held(due, sorted(held))  # the same invoiced failure: no send, no email
        return None, True
    plan = plan_partner(partner, due.period, list(pending), "automatic", initiated_by)
    plan.allow_invoiced = force  # --force: even after an invoice missed it
    _hold_invoiced(plan, held, due)
    plan.skipped = [
        ClientResult(
            c.name,
            c.managed_id,
            None,
            Status.SKIPPED,
            "already published automatically for this period"
            if since is None
            else "already published for this period (automatically, or by hand since "
            f"the first try on {due.attempt.first_try})",
        )
        for c in selected
        if c not in pending
    ]
    return plan, retries


def hold_newer(config: Config, plans: list[Plan], force: bool) -> None:
    """Unless --force, fail (kind newer-held) the clients whose month is older than the one
    ConnectWise holds: a night never replaces a newer month a person published (overwrites.py)."""
    from cwpublish.publish.overwrites import fail_overwrites, find_overwrites

    if not force:
        fail_overwrites(plans, find_overwrites(config.state_dir, plans, single_period=False))


def _retry_notes(retried: dict[str, Due]):
    """A sink noting in each entry that did not publish everything when the schedule tries
    again (`scheduled_retry`), before it is recorded: history, ledger and email carry it."""
    from cwpublish.notify.sink import Sink  # with the publishing code: only when something is due

    class RetryNotes(Sink):
        def finished(self, plan: Plan, entry: Entry) -> None:
            due = retried.get(plan.partner.name)
            if due and entry.status != "success":
                entry.scheduled_retry = retry_note(due)

    return RetryNotes()


def _hold_invoiced(plan: Plan, held: set[str], due: Due) -> None:
    """Move the clients whose last automatic try failed as `invoiced` from sending to failed
    (kind invoiced): a retry night does not send them again, its entry names them."""
    from cwpublish.domain.record import INVOICED, ClientResult, Status

    for r in [r for r in plan.to_send if r.key in held]:
        plan.to_send.remove(r)
        plan.failed.append(ClientResult(
            r.client, r.key, float(r.billable_gb), Status.FAILED,
            f"not sent again: its automatic publish of {due.attempt.first_try} failed because "
            f"the agreement invoice went out without {due.period}'s usage; that needs a person "
            f"(bill it by hand, or: cwpublish publish --partner {due.partner.name} --client "
            f"{r.key} --month {due.period} --force)",
            INVOICED,
        ))


def _report_held(due: Due, keys: list[str]) -> None:
    """A retry night with only clients held as `invoiced` left: said with -v, nothing sent."""
    log.info(
        "%s: %s is not sent again for %s: its automatic publish of %s missed the agreement "
        "invoice (kind invoiced), which needs a person; the schedule's last try on %s says so "
        "again. Bill it by hand, or: cwpublish publish --partner %s --month %s --force",
        due.partner.name, due.period, ", ".join(keys), due.attempt.first_try,
        retry_note(due)["last_try"], due.partner.name, due.period,
    )


def retry_note(due: Due) -> dict[str, str | None]:
    """An entry's `scheduled_retry`: the first try, the next (None: tonight was the last) and
    the last night the schedule tries the period."""
    assert due.partner.schedule is not None
    schedule = due.partner.schedule
    following = next_try(due.attempt, due.today, schedule, due.day_state)
    last = retry_end(due.attempt, schedule, due.day_state) - timedelta(days=1)
    return {
        "first_try": due.attempt.first_try.isoformat(),
        "next_try": following.isoformat() if following else None,
        "last_try": last.isoformat(),
    }


def retry_since(attempt: Attempt | None, period: Period, today: date) -> date | None:
    """The first try of `period`'s attempt when tonight retries it (after its first night),
    else None: on a retry night a publish by any mode since then counts as done."""
    if attempt is None or attempt.period != period or today <= attempt.first_try:
        return None
    return attempt.first_try


def pending_clients(
    ledger: Ledger, partner: Partner, period: Period, since: date | None = None
) -> list:
    """Selected clients not yet published automatically for `period`; with `since` (a retry
    night), nor published by any mode on or after that day."""
    key = state_key(partner)
    pending = []
    for c in partner.clients:
        if not c.publish:
            continue
        records = ledger.published(key, str(period), c.managed_id)
        if "automatic" in records:
            continue
        if since and any(_on_or_after(r.get("at"), since, partner) for r in records.values()):
            continue
        pending.append(c)
    return pending


def _on_or_after(at: object, since: date, partner: Partner) -> bool:
    """Whether a ledger time (ISO, the publishing machine's zone and offset) falls on or after
    `since`, a date in the partner's zone: compared there, so a publish near midnight counts
    on the right day. A time without offset is the machine's local time; an unreadable one,
    never."""
    try:
        when = datetime.fromisoformat(str(at or ""))
    except ValueError:
        return False
    return when.astimezone(zone(partner.timezone)).date() >= since
