"""A failed scheduled period is tried again each night until done or the next period is due:
the pure rule (schedule.decide with an Attempt), retry_end and next_try."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cwpublish.domain.period import Period
from cwpublish.domain.schedule import (
    Attempt,
    DayState,
    Schedule,
    decide,
    next_try,
    observe,
    retry_end,
)

LONG_AGO = date(2020, 1, 1)
NOV = Period(2026, 11)


def nights(
    start: date, end: date, schedule: Schedule, fails: set[date], state: DayState | None = None
) -> list[tuple[date, str]]:
    """Run the rule night by night as the nightly run does: a due night publishes, unless it
    is in `fails`; returns (night, period) of every night that published or tried."""
    state = state or DayState(schedule.day, LONG_AGO)
    done: set[Period] = set()
    attempt = None
    tried = []
    day = start
    while day <= end:
        decision = decide(day, schedule, state, done.__contains__, attempt)
        attempt = decision.attempt
        if decision.due:
            tried.append((day, str(decision.period)))
            if day not in fails:
                done.add(decision.period)
        day += timedelta(days=1)
    return tried


def test_failed_on_the_day_succeeds_the_next_night_then_nothing():
    tried = nights(date(2026, 11, 1), date(2026, 12, 4), Schedule(day=5), {date(2026, 11, 5)})
    assert tried == [(date(2026, 11, 5), "2026-11"), (date(2026, 11, 6), "2026-11")]


def test_a_period_that_never_succeeds_is_tried_until_the_night_before_the_next_period():
    always = {date(2026, 11, 5) + timedelta(days=n) for n in range(40)}
    tried = nights(date(2026, 11, 1), date(2026, 12, 6), Schedule(day=5), always)
    nov = [d for d, p in tried if p == "2026-11"]
    assert nov[0] == date(2026, 11, 5) and nov[-1] == date(2026, 12, 4) and len(nov) == 30
    assert [d for d, p in tried if p == "2026-12"] == [date(2026, 12, 5), date(2026, 12, 6)]


def test_without_an_attempt_a_missed_day_stays_missed_catch_up_keeps_its_meaning():
    # the machine was off on the 5th: no attempt, so no retry; catch_up_days decides
    state = DayState(5, LONG_AGO)
    never = decide(date(2026, 11, 6), Schedule(day=5), state, lambda p: False)
    assert not never.due and never.attempt is None
    late = decide(date(2026, 11, 7), Schedule(day=5, catch_up_days=3), state, lambda p: False)
    assert late.due and late.attempt == Attempt(NOV, date(2026, 11, 7), date(2026, 11, 7))
    # a catch-up night that failed is then retried like a day that failed
    tried = nights(
        date(2026, 11, 6), date(2026, 11, 12), Schedule(day=5, catch_up_days=1),
        {date(2026, 11, 6)},
    )
    assert tried == [(date(2026, 11, 6), "2026-11"), (date(2026, 11, 7), "2026-11")]


def test_retry_reason_and_attempt_bookkeeping():
    attempt = Attempt(NOV, date(2026, 11, 5), date(2026, 11, 5))
    state = DayState(5, LONG_AGO)
    decision = decide(date(2026, 11, 6), Schedule(day=5), state, lambda p: False, attempt)
    assert decision.due and decision.retry and decision.period == NOV
    assert decision.run_date is None  # not a scheduled day: no night-before check for it
    assert "2026-11 is tried again" in decision.reason
    assert "last try on 2026-12-04" in decision.reason
    assert decision.attempt == Attempt(NOV, date(2026, 11, 5), date(2026, 11, 6))
    done = decide(date(2026, 11, 7), Schedule(day=5), state, lambda p: True, decision.attempt)
    assert not done.due
    assert done.attempt == Attempt(NOV, date(2026, 11, 5), date(2026, 11, 6), False)


def test_a_closed_attempt_never_reads_the_ledger_again():
    closed = Attempt(NOV, date(2026, 11, 5), date(2026, 11, 6), open=False)

    def is_done(period):
        raise AssertionError("the nightly no-op must not read the ledger")

    for n in range(8, 30):
        night = date(2026, 11, n)
        decision = decide(night, Schedule(day=5), DayState(5, LONG_AGO), is_done, closed)
        assert not decision.due and decision.attempt is closed


def test_force_never_forces_a_retry():
    attempt = Attempt(NOV, date(2026, 11, 5), date(2026, 11, 5))
    decision = decide(
        date(2026, 11, 6), Schedule(day=5), DayState(5, LONG_AGO), lambda p: True, attempt, True
    )
    assert not decision.due
    on_the_day = decide(date(2026, 11, 5), Schedule(day=5), DayState(5, LONG_AGO), lambda p: True,
                        None, True)
    assert on_the_day.due  # --force republishes a due day's period, as before


def test_last_try_and_next_try():
    schedule, state = Schedule(day=5), DayState(5, LONG_AGO)
    attempt = Attempt(NOV, date(2026, 11, 5), date(2026, 11, 5))
    assert retry_end(attempt, schedule, state) == date(2026, 12, 5)
    assert next_try(attempt, date(2026, 11, 5), schedule, state) == date(2026, 11, 6)
    assert next_try(attempt, date(2026, 12, 3), schedule, state) == date(2026, 12, 4)
    assert next_try(attempt, date(2026, 12, 4), schedule, state) is None  # the last try


@pytest.mark.parametrize(
    "schedule, first, period, end",
    [
        (Schedule(day=5, period="previous"), date(2026, 11, 5), Period(2026, 10),
         date(2026, 12, 5)),
        # day 31: retried until the next run date; February lacks a 31st, so January's period
        # is retried through February until the night before 31 March
        (Schedule(day=31), date(2026, 12, 31), Period(2026, 12), date(2027, 1, 31)),
        (Schedule(day=31), date(2027, 1, 31), Period(2027, 1), date(2027, 3, 31)),
        # a catch-up try in the next month: its period's retries end at the next run date
        (Schedule(day=30, catch_up_days=3), date(2026, 12, 2), Period(2026, 11),
         date(2026, 12, 30)),
    ],
)
def test_retry_end_is_the_next_periods_run_date(schedule, first, period, end):
    state = DayState(schedule.day, LONG_AGO)
    assert retry_end(Attempt(period, first, first), schedule, state) == end


def test_a_changed_day_keeps_the_source_documents_rule_and_moves_the_last_try():
    attempt = Attempt(NOV, date(2026, 11, 5), date(2026, 11, 5))
    # changed on the 8th to the 20th (later): November is due on the 20th anyway (same
    # period), so retries go on until December's run date, the 20th
    later = observe(DayState(5, LONG_AGO), Schedule(day=20), date(2026, 11, 8))
    assert retry_end(attempt, Schedule(day=20), later) == date(2026, 12, 20)
    # changed on the 8th to the 3rd (earlier): not this month (rule unchanged), December's
    # run is on the 3rd, so the last try of November is on 2 December
    earlier = observe(DayState(5, LONG_AGO), Schedule(day=3), date(2026, 11, 8))
    assert retry_end(attempt, Schedule(day=3), earlier) == date(2026, 12, 3)
    assert nights(date(2026, 11, 8), date(2026, 11, 30), Schedule(day=3), set(), earlier) == []


def test_an_attempt_whose_last_try_was_missed_is_given_up_loudly_once():
    schedule, state = Schedule(day=5), DayState(5, LONG_AGO)
    missed = Attempt(NOV, date(2026, 11, 5), date(2026, 11, 9))  # machine off from the 10th
    decision = decide(date(2026, 12, 5), schedule, state, lambda p: False, missed)
    assert decision.given_up == missed
    assert decision.due and decision.period == Period(2026, 12)  # December starts as usual
    assert decision.attempt == Attempt(Period(2026, 12), date(2026, 12, 5), date(2026, 12, 5))
    # the last try ran (it said so itself), or the period got done: nothing more to say
    reported = Attempt(NOV, date(2026, 11, 5), date(2026, 12, 4))
    assert decide(date(2026, 12, 5), schedule, state, lambda p: False, reported).given_up is None
    assert decide(date(2026, 12, 5), schedule, state, lambda p: True, missed).given_up is None
    # not due that night (a day 5 schedule seen on the 6th): closed, and said once
    after = decide(date(2026, 12, 6), schedule, state, lambda p: p == Period(2026, 12), missed)
    assert after.given_up == missed and after.attempt == Attempt(
        NOV, date(2026, 11, 5), date(2026, 11, 9), open=False
    )
    later = decide(date(2026, 12, 7), schedule, state, lambda p: False, after.attempt)
    assert later.given_up is None


def _entry(retry) -> dict:
    return {
        "id": "0123456789ab", "partner": "acme", "period": "2026-11", "status": "failed",
        "exit_code": 1, "error": "cannot connect", "mode": "automatic",
        "clients": [{"name": "A", "managed_id": "A-1", "billable_gb": 1.0, "status": "failed",
                     "error": "not sent", "kind": "not-sent"}],
        "scheduled_retry": retry,
    }


def test_the_advice_says_when_the_schedule_tries_again_or_that_it_will_not():
    from cwpublish.domain.advice import is_last_try, next_steps

    again = next_steps(_entry({"first_try": "2026-11-05", "next_try": "2026-11-06",
                               "last_try": "2026-12-04"}))
    assert again[0].startswith("The schedule tries the 1 client not published again on 2026-11-06")
    assert not any("Publish again once it answers" in s for s in again)
    last = _entry({"first_try": "2026-11-05", "next_try": None, "last_try": "2026-12-04"})
    assert is_last_try(last)
    assert next_steps(last)[0] == (
        "This was the last automatic try: 2026-11 is NOT published for 1 client, and the "
        "schedule will not try again. Publish it: cwpublish publish --retry 0123456789ab"
    )
    # a manual entry, or a damaged field read back from history: the advice of old
    for plain in (_entry(None), _entry("2026-11-06"), _entry({"next_try": 5})):
        steps = next_steps(plain)
        assert not is_last_try(plain) and "Publish again once it answers" in steps[0]
        assert steps[-1] == "Then publish what did not reach ConnectWise: " \
            "cwpublish publish --retry 0123456789ab"
