"""When a partner's period is due for automatic publishing: a pure function of its arguments.

What it remembers between runs (the configured day, since when, the period last attempted) is
in schedule_state.py.

Rules (source document, FAQ): publish on the configured day of each month; a day that a month
does not have (31 in April) means that month is not published; after the day is changed, the
new day counts this month only if it is not earlier than the day the change was made. A period
already published automatically is never published again by the schedule. `catch_up_days` lets
a run up to N days late publish a missed period (the machine was off), under the same rules.

A period whose day was reached and whose publish was attempted (an `Attempt`) but did not get
every client published -- ConnectWise down, some clients refused -- is tried again each night
until it is done or the partner's next period becomes due: the last try is the night before the
next period's run date (`retry_end`). An attempt that ends undone without its last try having
run (the machine was off) is handed back once as `Decision.given_up`, to be reported.
Retry nights do not resend a client whose last automatic failure was `invoiced` (the invoice
will not un-happen: a person decides), and count a client published for the period by any mode
after the first try as done (usecases/scheduled_publish.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from cwpublish.domain.period import Period, default_period


@dataclass(frozen=True)
class Schedule:
    """Automatic publishing: the Auto Publishing Day and how the nightly run treats it."""

    day: int
    timezone: str | None = None  # None: the machine's zone
    catch_up_days: int = 0
    ping_url: str | None = None
    period: str = "current"  # current | previous



@dataclass(frozen=True)
class DayState:
    """The configured day as last seen by a scheduled run, and since when."""

    day: int
    since: date


@dataclass(frozen=True)
class Attempt:
    """A period whose scheduled day was reached and whose publish was tried: first and last
    night tried; `open` while it is to be tried again (closed once done or given up);
    `invoiced` the Managed IDs whose last automatic try failed as `invoiced` (not resent)."""

    period: Period
    first_try: date
    tried: date
    open: bool = True
    invoiced: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """Whether a partner is due now; `reason` says why (logged with -v when not due).

    `attempt` is what to remember after tonight; `given_up` an attempt that ended tonight
    undone, its last try missed (to report); `retry` whether tonight retries a failed period.
    """

    due: bool
    reason: str
    period: Period | None = None
    run_date: date | None = None
    attempt: Attempt | None = None
    given_up: Attempt | None = None
    retry: bool = False


def observe(previous: DayState | None, schedule: Schedule, today: date) -> DayState:
    """The day state after tonight: a new or changed day is remembered from today on."""
    if previous is None or previous.day != schedule.day:
        return DayState(schedule.day, today)
    return previous


def run_date(period_month: Period, day: int) -> date | None:
    """The configured day in a month, or None if that month has no such day."""
    try:
        return date(period_month.year, period_month.month, day)
    except ValueError:
        return None


def decide(
    today: date,
    schedule: Schedule,
    state: DayState,
    is_done: Callable[[Period], bool],
    attempt: Attempt | None = None,
    force: bool = False,
) -> Decision:
    """Is a period due today (its day, catch-up, or a retry)? Pure: depends only on its
    arguments. `force` publishes a due day's period even if done (never forces a retry)."""
    attempt, given_up, retrying = _follow_up(today, schedule, state, is_done, attempt)
    this_month = Period.of(today)
    reasons: list[str] = []
    for month in (this_month.previous(), this_month):
        run = run_date(month, schedule.day)
        if run is None or not run <= today <= run + timedelta(days=schedule.catch_up_days):
            continue
        period = default_period(run, schedule.period == "previous")
        if run < state.since:
            reasons.append(
                f"the day was set to {schedule.day} on {state.since}, after "
                f"{run}; {period} is not published automatically"
            )
        elif not force and is_done(period):
            reasons.append(f"{period} was already published automatically")
        else:
            late = f" ({(today - run).days} days late, catch-up)" if today > run else ""
            if attempt and attempt.period == period:
                tried = replace(attempt, tried=today, open=True)
            else:
                tried = Attempt(period, today, today)
            reason = f"day {schedule.day}: {period} is due{late}"
            return Decision(True, reason, period, run, tried, given_up)
    if retrying and attempt:
        last = retry_end(attempt, schedule, state) - timedelta(days=1)
        reason = (
            f"{attempt.period} is tried again: its automatic publish of {attempt.first_try} "
            f"did not publish every client (last try on {last})"
        )
        tried = replace(attempt, tried=today)
        return Decision(True, reason, attempt.period, None, tried, given_up, retry=True)
    if run_date(this_month, schedule.day) is None:
        reasons.append(
            f"{this_month} has no day {schedule.day}, so it is not published "
            "automatically"
        )
    reasons.append(f"next automatic publish on {next_run(today, schedule.day)}")
    return Decision(False, "; ".join(reasons), attempt=attempt, given_up=given_up)


def _follow_up(
    today: date,
    schedule: Schedule,
    state: DayState,
    is_done: Callable[[Period], bool],
    attempt: Attempt | None,
) -> tuple[Attempt | None, Attempt | None, bool]:
    """(the attempt after tonight, the attempt given up tonight unreported, whether it is
    retried tonight). Only an open attempt past its first night asks `is_done` (the ledger)."""
    if attempt is None or not attempt.open or today <= attempt.first_try:
        return attempt, None, False
    end = retry_end(attempt, schedule, state)
    if today < end:
        if is_done(attempt.period):
            return replace(attempt, open=False), None, False
        return attempt, None, True
    closed = replace(attempt, open=False)
    if attempt.tried >= end - timedelta(days=1) or is_done(attempt.period):
        return closed, None, False  # done, or its last try said it was not published
    return closed, attempt, False


def retry_end(attempt: Attempt, schedule: Schedule, state: DayState) -> date:
    """The run date of the partner's next period after `attempt`: its retries stop the night
    before. Under the current day and its change rule (a run date before `since` is not due)."""
    run = attempt.first_try
    for _ in range(26):  # two years of run dates: always enough (next_run skips short months)
        run = next_run(run, schedule.day)
        if run >= state.since and default_period(run, schedule.period == "previous") != (
            attempt.period
        ):
            return run
    raise ValueError(f"no run date after {attempt.first_try}")  # unreachable


def next_try(attempt: Attempt, today: date, schedule: Schedule, state: DayState) -> date | None:
    """The night after `today` on which a failed `attempt` is tried again; None if tonight was
    its last try."""
    tomorrow = today + timedelta(days=1)
    return tomorrow if tomorrow < retry_end(attempt, schedule, state) else None


def next_run(today: date, day: int) -> date:
    """The first configured day after `today` (skipping months that lack it)."""
    month = Period.of(today)
    for _ in range(13):
        run = run_date(month, day)
        if run and run > today:
            return run
        month = month.next()
    raise ValueError(f"no month has day {day}")  # unreachable for 1-31
