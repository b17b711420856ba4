"""The simulated site's invoicing: agreement recaps, invoices, and generating one on demand.

An agreement invoices the quantity each of its additions holds when the invoice is generated
(ConnectWise's rule): generating records that quantity as the addition's `billedQuantity`,
lists the invoice at /finance/invoices and moves the agreement's last and next invoice dates,
so a test can say "the invoice went out before (or after) the publish".
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Any

from cwpublish.simulator.rest_conditions import parse_date
from cwpublish.simulator.rest_validate import RestError

CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "semi-annual": 6, "annual": 12, "yearly": 12}
FIRST_INVOICE_ID = 9000


def day(value: Any) -> date | None:
    """A date from a YAML date, or an ISO date or date-time string; None if it is neither."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = parse_date(value) if isinstance(value, str) else None
    return parsed.date() if parsed else None


def stamp(value: date | None) -> str | None:
    """ConnectWise's date-time text for a date (midnight UTC)."""
    return None if value is None else f"{value.isoformat()}T00:00:00Z"


def add_months(value: date, months: int) -> date:
    month = value.month - 1 + months
    year, month = value.year + month // 12, month % 12 + 1
    return value.replace(year=year, month=month,
                         day=min(value.day, calendar.monthrange(year, month)[1]))


def in_force(addition: dict, on: date) -> bool:
    """An addition billed on `on`: effective by then, not cancelled by then."""
    effective, cancelled = day(addition.get("effectiveDate")), day(addition.get("cancelledDate"))
    return (effective is None or effective <= on) and (cancelled is None or cancelled > on)


class Billing:
    """Recaps and invoices of RestTenant's agreements (mixed into it)."""

    agreements: list[dict]
    additions: list[dict]
    invoices: list[dict]
    invoice_lines: dict[int, list[dict]]

    def _months(self, agreement: dict) -> int:
        return CYCLE_MONTHS.get(agreement["billingCycle"]["name"].casefold(), 1)

    def _amount(self, agreement: dict, on: date | None) -> float:
        """What the agreement's billable additions in force on `on` would invoice."""
        total = 0.0
        for ad in self.additions:
            if (ad["agreementId"] == agreement["id"] and ad["billCustomer"] == "Billable"
                    and (on is None or in_force(ad, on))):
                quantity = max(0.0, (ad["quantity"] or 0) - (ad["lessIncluded"] or 0))
                total += quantity * (ad["unitPrice"] or 0)
        return round(total, 2)

    def _last_invoice(self, agreement_id: int) -> dict | None:
        mine = [i for i in self.invoices if i["agreement"]["id"] == agreement_id]
        return max(mine, key=lambda i: (i["date"], i["id"])) if mine else None

    def _recap(self, agreement: dict) -> dict:
        last = self._last_invoice(agreement["id"])
        upcoming = day(agreement.get("nextInvoiceDate"))
        return {"id": agreement["id"], "name": agreement["name"],
                "agreementStatus": agreement["agreementStatus"],
                "companyName": agreement["company"]["name"],
                "lastInvoiceDate": last["date"] if last else None,
                "lastInvoiceNumber": last["invoiceNumber"] if last else None,
                "lastInvoiceAmount": f"{last['total']:.2f}" if last else None,
                "nextInvoiceDate": agreement.get("nextInvoiceDate"),
                "nextInvoiceAmount": self._amount(agreement, upcoming),
                "adjustmentAmount": 0.0, "availableAmount": 0.0, "isUnlimited": "False",
                "overrunAmount": 0.0, "remainingAmount": 0.0, "startingAmount": 0.0,
                "unbilledOverageAmount": 0.0, "unbilledPeriods": 0, "usedAmount": 0.0}

    @property
    def recaps(self) -> list[dict]:
        """/finance/agreementrecap: one per agreement, with the agreement's id."""
        return [self._recap(a) for a in self.agreements]

    def _record_invoice(self, agreement: dict, on: date, number: str | None,
                        lines: list[dict], total: float) -> dict:
        ident = FIRST_INVOICE_ID + len(self.invoices)
        invoice = {"id": ident, "invoiceNumber": str(number or ident), "type": "Agreement",
                   "company": dict(agreement["company"]), "date": stamp(on),
                   "applyToType": "Agreement", "applyToId": agreement["id"],
                   "agreement": {"id": agreement["id"], "name": agreement["name"]},
                   "status": {"id": 1, "name": "New"}, "subtotal": total, "total": total,
                   "_info": {"lastUpdated": stamp(on) or ""}}
        self.invoices.append(invoice)
        self.invoice_lines[ident] = lines
        return invoice

    def generate_invoice(self, agreement_id: int, on: Any, number: Any = None) -> dict:
        """Invoice agreement `agreement_id` on `on` (a date): bill each billable addition in
        force then at its current quantity, and move the agreement's next invoice date past
        `on`. Answers {"invoice", "lines"}."""
        when = day(on)
        if when is None:
            raise RestError(400, "InvalidObject", f"date must be YYYY-MM-DD, not {on!r}")
        agreement = next((a for a in self.agreements if a["id"] == agreement_id), None)
        if agreement is None:
            raise RestError(404, "NotFound", f"agreement with id {agreement_id} was not found.")
        if number is not None and not (isinstance(number, str) and 0 < len(number) <= 15):
            raise RestError(400, "InvalidObject", "number must be a string of 1 to 15 chars")
        lines = []
        for ad in self.additions:
            if (ad["agreementId"] == agreement_id and ad["billCustomer"] == "Billable"
                    and in_force(ad, when)):
                ad["billedQuantity"] = ad["quantity"]
                lines.append({"id": ad["id"], "product": ad["product"]["identifier"],
                              "quantity": ad["quantity"], "lessIncluded": ad["lessIncluded"],
                              "unitPrice": ad["unitPrice"]})
        invoice = self._record_invoice(agreement, when, number, lines,
                                       self._amount(agreement, when))
        upcoming = day(agreement.get("nextInvoiceDate")) or when
        while upcoming <= when:
            upcoming = add_months(upcoming, self._months(agreement))
        agreement["nextInvoiceDate"] = stamp(upcoming)
        return {"invoice": invoice, "lines": lines}

    def _load_invoices(self, agreement: dict, data: dict) -> None:
        """Invoices that went out before the simulation (data key `invoices` of an agreement):
        [{date, number, amount}]; the next invoice date defaults to one cycle after the last."""
        for item in data.get("invoices") or []:
            when = day(item.get("date"))
            if when is None:
                raise ValueError(f"agreement {agreement['name']!r}: invoice date "
                                 f"{item.get('date')!r} is not a date")
            self._record_invoice(agreement, when, item.get("number"), [],
                                 float(item.get("amount", 0)))
        last = self._last_invoice(agreement["id"])
        if agreement.get("nextInvoiceDate") is None and last is not None:
            start = day(last["date"])
            assert start is not None
            agreement["nextInvoiceDate"] = stamp(add_months(start, self._months(agreement)))

    def invoices_view(self, agreement_ids: set[int]) -> list[dict]:
        """The invoices of these agreements, in brief, for /_sim/state."""
        return [{"id": i["id"], "number": i["invoiceNumber"], "date": i["date"],
                 "agreement_id": i["agreement"]["id"], "total": i["total"],
                 "lines": self.invoice_lines.get(i["id"], [])}
                for i in self.invoices if i["agreement"]["id"] in agreement_ids]
