"""When a partner's period is due for automatic publishing: a pure function of its arguments.

What it remembers between runs (the configured day, since when) is in schedule_state.py.

Rules (source document, FAQ): publish on the configured day of each month; a day that a month
does not have (31 in April) means that month is not published; after the day is changed, the
new day counts this month only if it is not earlier than the day the change was made. A period
already published automatically is never published again by the schedule. `catch_up_days` lets
a run up to N days late publish a missed period, under the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from cwpublish.config import Schedule
from cwpublish.period import Period, default_period


@dataclass(frozen=True)
class DayState:
    """The configured day as last seen by a scheduled run, and since when."""

    day: int
    since: date


@dataclass(frozen=True)
class Decision:
    """Whether a partner is due now; `reason` says why (logged with -v when not due)."""

    due: bool
    reason: str
    period: Period | None = None
    run_date: date | None = None


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
    today: date, schedule: Schedule, state: DayState, is_done: Callable[[Period], bool]
) -> Decision:
    """Is a period due today? Pure: depends only on its arguments."""
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
        elif is_done(period):
            reasons.append(f"{period} was already published automatically")
        else:
            late = f" ({(today - run).days} days late, catch-up)" if today > run else ""
            return Decision(True, f"day {schedule.day}: {period} is due{late}", period, run)
    if run_date(this_month, schedule.day) is None:
        reasons.append(
            f"{this_month} has no day {schedule.day}, so it is not published "
            "automatically (source document)"
        )
    reasons.append(f"next automatic publish on {next_run(today, schedule.day)}")
    return Decision(False, "; ".join(reasons))


def next_run(today: date, day: int) -> date:
    """The first configured day after `today` (skipping months that lack it)."""
    month = Period.of(today)
    for _ in range(13):
        run = run_date(month, day)
        if run and run > today:
            return run
        month = month.next()
    raise ValueError(f"no month has day {day}")  # unreachable for 1-31
