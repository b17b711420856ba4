"""An agreement's invoicing state as a target reads it (publish/invoicing.py decides with it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
