"""The invoice rule (invoicing.py) as a pure function: which day a period was to be published
and which agreements' invoices a late publish has missed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cwpublish.config.model import ConnectWise, Partner, UsageSource
from cwpublish.domain.invoices import AgreementInvoices
from cwpublish.domain.period import Period
from cwpublish.domain.schedule import Schedule
from cwpublish.publish.invoicing import missed, scheduled_day

NOV = Period(2026, 11)


def partner(schedule: Schedule | None) -> Partner:
    cw = ConnectWise(site="https://cw.example", company_id="acme", settings=None)
    return Partner(name="acme", connectwise=cw,
                   usage=UsageSource(kind="csv", location="u.csv", base_dir=Path(".")),
                   clients=(), schedule=schedule)


def state(last: date | None) -> AgreementInvoices:
    return AgreementInvoices("MSA", 300, ("A",), last, date(2026, 12, 6))


def test_the_scheduled_day_follows_the_schedule_period():
    assert scheduled_day(partner(Schedule(5)), NOV) == date(2026, 11, 5)
    assert scheduled_day(partner(Schedule(5, period="previous")), NOV) == date(2026, 12, 5)
    assert scheduled_day(partner(Schedule(31)), NOV) is None  # November has no 31st
    assert scheduled_day(partner(None), NOV) is None


def test_only_an_invoice_on_or_after_the_day_counts_and_only_once_the_day_is_past():
    p = partner(Schedule(5))
    on_day, before, after = state(date(2026, 11, 5)), state(date(2026, 11, 4)), state(
        date(2026, 11, 9))
    late = date(2026, 11, 10)
    assert [m.state for m in missed(p, NOV, [on_day, before, after, state(None)], late)] == [
        on_day, after]
    assert missed(p, NOV, [on_day], date(2026, 11, 5)) == []  # the day itself: not late
    assert missed(partner(None), NOV, [after], late) == []  # no schedule: no such day
    [m] = missed(p, NOV, [after], late)
    assert "missed the invoice of 2026-11-09" in m.reason(NOV)
    assert "2026-11-05, the day 2026-11 was to be published" in m.reason(NOV)
