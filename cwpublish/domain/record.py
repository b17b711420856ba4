"""The publish record's parts: one client's usage and result, and one publish's entry.

Pure types at the bottom of the package: a target returns RecordResults for UsageRecords, the
core turns them into an Entry's ClientResults, and the state package writes the Entry to disk.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cwpublish.domain.period import Period
from cwpublish.text.redaction import scrub

if TYPE_CHECKING:  # only an annotation: the nightly no-op does not load decimal
    from decimal import Decimal

Progress = Callable[[int], None]

# Why one client failed (RecordResult.kind, the history's client `kind`): advice keys off it.
UNKNOWN_KEY = "unknown-key"  # ConnectWise has no such client (Managed ID, company)
REJECTED = "rejected"  # ConnectWise refused this client's record
NOT_SENT = "not-sent"  # not attempted: a partner-wide failure stopped the publish
NO_USAGE = "no-usage"  # the usage data has no row for this client
INVOICED = "invoiced"  # its agreement was invoiced after the period's day (invoicing.py)
NEWER_HELD = "newer-held"  # not sent: ConnectWise holds a newer month (scheduled runs)

# A client row's text when a partner-wide failure stopped it: the failure itself is stated
# once, as the entry's error, not repeated on every row (150 clients, one wrong password).
NOT_SENT_TEXT = "not sent"
INTERRUPTED_TEXT = "not sent (interrupted)"


def device_identifier(key: str) -> str:
    """A client's stable record identifier in ConnectWise, whatever the API, so repeated
    publishes (and a move from SOAP to REST) update one configuration record."""
    return f"rcloud-{key}"


@dataclass(frozen=True)
class UsageRecord:
    """One client's billable space for a period: what every target publishes."""

    client: str
    key: str  # the client's stable key in ConnectWise (the Managed ID)
    billable_gb: Decimal
    period: Period


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one record: published (error None) or failed with a reason and kind."""

    record: UsageRecord
    error: str | None = None
    kind: str | None = None



@dataclass
class ClientResult:
    """One client's outcome in one publish."""

    name: str
    managed_id: str
    billable_gb: float | None
    status: str  # published | failed | skipped
    error: str | None = None
    kind: str | None = None  # why it failed: targets.base UNKNOWN_KEY, REJECTED, NOT_SENT, ...


@dataclass
class Entry:
    """One publish operation for one partner and period (the history and --json shape)."""

    partner: str
    mode: str  # manual | automatic
    initiated_by: str
    period: str
    started_at: str
    site: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    finished_at: str | None = None
    status: str = "failed"  # success | partial | failed
    exit_code: int = 1
    error: str | None = None
    usage_source: str | None = None
    clients: list[ClientResult] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notification: dict | None = None
    # automatic publish not done: {first_try, next_try, last_try} (usecases/scheduled_publish.py)
    scheduled_retry: dict | None = None
    # clients not in this run whose GB an addition's total counted (summing.OtherClient)
    summed_with: list[dict] = field(default_factory=list)
    # per agreement the clients bill on: its last and next invoice dates (invoicing.py)
    invoices: list[dict] = field(default_factory=list)
    # whose state it is (state/keys.py): compaction keeps ten per key; None in older entries
    state_key: str | None = None

    def to_dict(self) -> dict:
        """The JSON shape (history, --json, email); built by hand: asdict() is slow at 5,000.
        Every secret is masked: rows and warnings quote ConnectWise's own texts (agreement
        and company names a hostile server may fill with an echo of the keys)."""
        data = dict(self.__dict__)  # field order
        data["clients"] = [dict(c.__dict__) for c in self.clients]
        data["unmapped"] = [dict(u) for u in self.unmapped]
        data["warnings"] = list(self.warnings)
        data["notification"] = dict(self.notification) if self.notification else None
        data["summed_with"] = [dict(o) for o in self.summed_with]
        data["invoices"] = [dict(i) for i in self.invoices]
        return scrub(data)

    def count(self, status: str) -> int:
        return sum(1 for c in self.clients if c.status == status)



def count_by_status(clients: list[dict]) -> dict[str, int]:
    """How many client rows are published, failed and skipped (and any other status)."""
    counts = {"published": 0, "failed": 0, "skipped": 0}
    for c in clients:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return counts


