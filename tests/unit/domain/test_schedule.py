"""The schedule as a pure function: the source document's rules, edges, catch-up, time zones."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import pytest

from cwpublish.domain.period import Period, zone
from cwpublish.domain.schedule import DayState, Schedule, decide, next_run, observe

LONG_AGO = date(2020, 1, 1)


def never_done(period: Period) -> bool:
    return False


def due_days(
    year: int, month: int, schedule: Schedule, state: DayState | None = None, done=never_done
) -> list[int]:
    """The days of a month on which a nightly run would publish."""
    state = state or DayState(schedule.day, LONG_AGO)
    days = calendar.monthrange(year, month)[1]
    return [
        d for d in range(1, days + 1) if decide(date(year, month, d), schedule, state, done).due
    ]


def test_due_on_the_day_itself_and_no_other_day():
    assert due_days(2026, 11, Schedule(day=5)) == [5]
    decision = decide(date(2026, 11, 5), Schedule(day=5), DayState(5, LONG_AGO), never_done)
    assert decision.period == Period(2026, 11) and "is due" in decision.reason


def test_reason_when_not_due_names_the_next_run():
    decision = decide(date(2026, 11, 24), Schedule(day=5), DayState(5, LONG_AGO), never_done)
    assert not decision.due
    assert decision.reason == "next automatic publish on 2026-12-05"


@pytest.mark.parametrize(
    "day, year, month, expected",
    [
        (31, 2026, 4, []),  # April has 30 days: not published this month
        (31, 2026, 5, [31]),
        (30, 2026, 2, []),
        (29, 2026, 2, []),  # not a leap year
        (29, 2028, 2, [29]),  # leap year
        (28, 2026, 2, [28]),
    ],
)
def test_days_29_to_31_in_short_months_and_leap_years(day, year, month, expected):
    assert due_days(year, month, Schedule(day=day)) == expected


def test_short_month_reason_is_explicit():
    decision = decide(date(2026, 4, 30), Schedule(day=31), DayState(31, LONG_AGO), never_done)
    assert "2026-04 has no day 31" in decision.reason
    assert next_run(date(2026, 4, 30), 31) == date(2026, 5, 31)
    assert next_run(date(2026, 1, 31), 30) == date(2026, 3, 30)


def _change_day(old: int, new: int, on: date) -> DayState:
    before = DayState(old, LONG_AGO)
    return observe(before, Schedule(day=new), on)


def test_faq_moved_to_a_later_day_publishes_on_the_new_day_this_month():
    # Configured 6, on the 3rd changed to 5: published on the 5th.
    state = _change_day(6, 5, date(2026, 11, 3))
    assert state == DayState(5, date(2026, 11, 3))
    assert due_days(2026, 11, Schedule(day=5), state) == [5]


def test_faq_moved_to_an_earlier_day_skips_this_month_then_monthly():
    # Configured 6, on the 3rd changed to 1: not published this month, then on the 1st.
    state = _change_day(6, 1, date(2026, 11, 3))
    assert due_days(2026, 11, Schedule(day=1), state) == []
    assert due_days(2026, 11, Schedule(day=1, catch_up_days=5), state) == []
    assert due_days(2026, 12, Schedule(day=1), state) == [1]
    reason = decide(date(2026, 11, 3), Schedule(day=1, catch_up_days=5), state, never_done).reason
    assert "the day was set to 1 on 2026-11-03" in reason


def test_unchanged_day_keeps_its_state():
    state = DayState(5, LONG_AGO)
    assert observe(state, Schedule(day=5), date(2026, 11, 3)) is state
    assert observe(None, Schedule(day=5), date(2026, 11, 3)) == DayState(5, date(2026, 11, 3))


def test_once_published_automatically_a_changed_day_never_publishes_it_again():
    published = {Period(2026, 11)}
    state = _change_day(5, 20, date(2026, 11, 10))
    assert due_days(2026, 11, Schedule(day=20), state, published.__contains__) == []
    assert due_days(2026, 12, Schedule(day=20), state, published.__contains__) == [20]


def test_second_run_on_the_same_day_publishes_nothing():
    done = {Period(2026, 11)}.__contains__
    decision = decide(date(2026, 11, 5), Schedule(day=5), DayState(5, LONG_AGO), done)
    assert not decision.due and "2026-11 was already published automatically" in decision.reason


def test_catch_up_off_and_on():
    assert due_days(2026, 11, Schedule(day=5)) == [5]
    # machine down on the 5th: with catch-up 3 the 6th-8th still publish (until done)
    assert due_days(2026, 11, Schedule(day=5, catch_up_days=3)) == [5, 6, 7, 8]
    late = decide(
        date(2026, 11, 7), Schedule(day=5, catch_up_days=3), DayState(5, LONG_AGO), never_done
    )
    assert late.due and "2 days late, catch-up" in late.reason
    # done on the 5th: no catch-up later
    done = {Period(2026, 11)}.__contains__
    assert due_days(2026, 11, Schedule(day=5, catch_up_days=3), done=done) == []


def test_catch_up_crosses_into_the_next_month():
    schedule = Schedule(day=30, catch_up_days=3)
    decision = decide(date(2026, 12, 2), schedule, DayState(30, LONG_AGO), never_done)
    assert decision.due and decision.period == Period(2026, 11)


def test_previous_period_setting_publishes_last_month():
    decision = decide(
        date(2027, 1, 5), Schedule(day=5, period="previous"), DayState(5, LONG_AGO), never_done
    )
    assert decision.period == Period(2026, 12)


@pytest.mark.parametrize(
    "utc, tz, expected_due",
    [
        # cron at 23:30 UTC on the 4th: already the 5th in Tokyo, still the 4th in New York
        ("2026-11-04T23:30:00", "Asia/Tokyo", True),
        ("2026-11-04T23:30:00", "America/New_York", False),
        # 03:00 UTC on the 6th is still the 5th in Los Angeles
        ("2026-11-06T03:00:00", "America/Los_Angeles", True),
        ("2026-11-06T03:00:00", "Europe/Paris", False),
    ],
)
def test_the_date_is_taken_in_the_partner_time_zone(utc, tz, expected_due):
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    today = now.astimezone(zone(tz)).date()
    assert (
        decide(today, Schedule(day=5, timezone=tz), DayState(5, LONG_AGO), never_done).due
        is expected_due
    )


@pytest.mark.parametrize(
    "utc, local_day",
    [
        # US spring forward, 2027-03-14 02:00 EST -> 03:00 EDT (07:00 UTC)
        ("2027-03-14T04:59:00", 13),
        ("2027-03-14T05:00:00", 14),
        ("2027-03-14T06:30:00", 14),
        ("2027-03-14T07:30:00", 14),
        ("2027-03-15T03:59:00", 14),
        ("2027-03-15T04:00:00", 15),
        # US fall back, 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC)
        ("2026-11-01T03:59:00", 31),
        ("2026-11-01T04:00:00", 1),
        ("2026-11-01T05:30:00", 1),
        ("2026-11-01T06:30:00", 1),
        ("2026-11-02T04:59:00", 1),
        ("2026-11-02T05:00:00", 2),
    ],
)
def test_dst_change_nights(utc, local_day):
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert now.astimezone(zone("America/New_York")).day == local_day


def test_every_hour_of_a_dst_night_publishes_exactly_once():
    """Hourly cron across the fall-back night (a repeated hour): one publish for the period."""
    tz = zone("America/New_York")
    published: set[Period] = set()
    state = DayState(1, LONG_AGO)
    start = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)
    publishes = 0
    for hour in range(30):
        today = (start + timedelta(hours=hour)).astimezone(tz).date()
        decision = decide(
            today, Schedule(day=1, timezone="America/New_York"), state, published.__contains__
        )
        if decision.due:
            publishes += 1
            published.add(decision.period)
    assert publishes == 1 and published == {Period(2026, 11)}
