"""Invoice-aware publishing: which agreement invoices a period's usage has already missed.

An addition's quantity is read when the agreement invoice is generated. A period is meant to
be published on its scheduled day (the partner's schedule); when the publish comes after that
day and an agreement invoice is dated on or after it (a failed night retried later, a late
manual publish), that invoice went out without this usage: writing it now puts it on the next
invoice, where the next month's publish overwrites it, and a month is never billed. So a
scheduled run fails those clients (kind `invoiced`), a person is asked, a script is refused
unless --force. A partner without a schedule has no such day: the dates are only shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from cwpublish.config.model import Partner
from cwpublish.domain.invoices import AgreementInvoices
from cwpublish.domain.period import Period, zone
from cwpublish.domain.record import INVOICED, RecordResult
from cwpublish.domain.schedule import run_date
from cwpublish.errors import CwpublishError

if TYPE_CHECKING:
    from cwpublish.domain.record import UsageRecord
    from cwpublish.publish.plan import Plan
    from cwpublish.targets.base import Target


@dataclass(frozen=True)
class Missed:
    """An agreement whose invoice, dated on or after the scheduled day, went out without
    this period's usage."""

    state: AgreementInvoices
    scheduled: date

    def reason(self, period: Period) -> str:
        """The client row's error: which invoice it missed and what publishing now does."""
        assert self.state.last is not None
        return (
            f"missed the invoice of {self.state.last.isoformat()}: agreement "
            f"{self.state.agreement!r} was invoiced on or after {self.scheduled.isoformat()}, "
            f"the day {period} was to be published; publishing now would land on the next "
            "invoice, which next month's publish overwrites (publish with --force to put it "
            "there deliberately, or bill it by hand)"
        )


def scheduled_day(partner: Partner, period: Period) -> date | None:
    """The day the partner's schedule publishes `period` (None without a schedule, or in a
    month without that day)."""
    schedule = partner.schedule
    if schedule is None:
        return None
    month = period.next() if schedule.period == "previous" else period
    return run_date(month, schedule.day)


def today_for(partner: Partner, now: datetime | None = None) -> date:
    tz = zone(partner.timezone)
    return (now or datetime.now(tz)).astimezone(tz).date()


def missed(
    partner: Partner, period: Period, states: list[AgreementInvoices], today: date
) -> list[Missed]:
    """The agreements invoiced on or after the period's scheduled day, when today is after it."""
    scheduled = scheduled_day(partner, period)
    if scheduled is None or today <= scheduled:
        return []
    return [Missed(s, scheduled) for s in states if s.last is not None and s.last >= scheduled]


@dataclass
class Held:
    """What the invoice check at send time decided: the records still to send, those held
    back (kind `invoiced`), the agreements' states, and why the states could not be read."""

    to_send: list[UsageRecord]
    held: list[RecordResult]
    states: list[AgreementInvoices]
    warning: str | None = None


def hold_invoiced(target: Target, plan: Plan, records: list[UsageRecord]) -> Held:
    """Read the agreements' invoicing state; in a scheduled run (unless --force), hold back
    the records whose agreement an invoice dated on or after the period's day already
    billed. A state that cannot be read is a warning, never a stop: it only shows dates."""
    try:
        states = target.invoicing([r.key for r in records]) if records else []
    except CwpublishError as e:
        return Held(records, [], [], f"could not read the agreements' invoice dates ({e})")
    warning = "; ".join(w for s in states if (w := s.warning())) or None
    if plan.mode != "automatic" or plan.allow_invoiced:
        return Held(records, [], states, warning)
    blocked = {
        key: m for m in missed(plan.partner, plan.period, states, today_for(plan.partner))
        for key in m.state.keys
    }
    held = [RecordResult(r, blocked[r.key].reason(plan.period), INVOICED)
            for r in records if r.key in blocked]
    return Held([r for r in records if r.key not in blocked], held, states, warning)
