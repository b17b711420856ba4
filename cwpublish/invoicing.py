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

from cwpublish.config import Partner
from cwpublish.errors import CwpublishError
from cwpublish.period import Period, zone
from cwpublish.schedule import run_date
from cwpublish.targets.base import INVOICED, RecordResult

if TYPE_CHECKING:
    from cwpublish.plan import Plan
    from cwpublish.targets.base import Target, UsageRecord


UNREADABLE = "could not read the invoice dates"


@dataclass(frozen=True)
class AgreementInvoices:
    """One agreement's invoicing state, and the clients of a plan on it."""

    agreement: str
    agreement_id: int
    keys: tuple[str, ...]  # the clients' keys (Managed IDs) on it
    last: date | None
    next: date | None
    cycle: str | None = None
    problem: str | None = None  # why the last invoice date cannot be known (then a warning)

    def warning(self) -> str | None:
        """The line saying this agreement's invoices cannot be judged, if they cannot."""
        if self.problem is None:
            return None
        return (
            f"{UNREADABLE} of agreement {self.agreement!r} (id {self.agreement_id}): "
            f"{self.problem}; whether an invoice already went out without the usage of "
            f"{', '.join(self.keys)} is not known"
        )

    def to_dict(self) -> dict:
        """The JSON shape (history's `invoices`, --dry-run, check-config)."""
        return {
            "agreement": self.agreement,
            "agreement_id": self.agreement_id,
            "managed_ids": list(self.keys),
            "last_invoice_date": self.last.isoformat() if self.last else None,
            "next_invoice_date": self.next.isoformat() if self.next else None,
            "billing_cycle": self.cycle,
        }

    def text(self) -> str:
        """One line: the agreement's last and next invoice dates."""
        last = self.last.isoformat() if self.last else (
            f"unknown ({self.problem})" if self.problem else "none yet")
        upcoming = self.next.isoformat() if self.next else "not scheduled"
        cycle = f", billed {self.cycle.lower()}" if self.cycle else ""
        return (
            f"agreement {self.agreement!r} (id {self.agreement_id}): last invoice {last}, "
            f"next invoice {upcoming}{cycle}"
        )


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
