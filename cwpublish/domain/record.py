"""The publish record's parts: one client's usage and result, and one publish's entry.

Pure types at the bottom of the package: a target returns RecordResults for UsageRecords, the
core turns them into an Entry's ClientResults, and the state package writes the Entry to disk.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cwpublish.domain.period import Period
from cwpublish.domain.status import Kind, Status
from cwpublish.domain.status import PublishStatus as PublishStatus  # re-exported (status.py)
from cwpublish.text.redaction import scrub

if TYPE_CHECKING:  # only an annotation: the nightly no-op does not load decimal
    from decimal import Decimal

Progress = Callable[[int], None]


# The names the targets and the core import (one definition: the Kind members).
UNKNOWN_KEY = Kind.UNKNOWN_KEY
REJECTED = Kind.REJECTED
NOT_SENT = Kind.NOT_SENT
NO_USAGE = Kind.NO_USAGE
INVOICED = Kind.INVOICED
NEWER_HELD = Kind.NEWER_HELD

# A history client status that did not reach ConnectWise: failed (any kind), or unknown.
NOT_REACHED = (Status.FAILED, Status.UNKNOWN)

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
    status: str  # a Status (published | failed | skipped | unknown)
    error: str | None = None
    kind: str | None = None  # why it failed: a Kind

    def to_dict(self) -> dict:
        """The row's JSON shape (history, journal, --json), plain strings only."""
        return {
            "name": self.name,
            "managed_id": self.managed_id,
            "billable_gb": self.billable_gb,
            "status": str(self.status),
            "error": self.error,
            "kind": None if self.kind is None else str(self.kind),
        }

    @classmethod
    def from_dict(cls, c: dict) -> ClientResult:
        """A row from its JSON shape (already checked by history_format.entry_problem)."""
        return cls(str(c["name"]), str(c["managed_id"]), c.get("billable_gb"), c["status"],
                   c.get("error"), c.get("kind"))


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
    status: str = PublishStatus.FAILED  # success | partial | failed | interrupted
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
    # the usage could not be read: the error says what to fix; the client rows (all not sent)
    # are kept for --retry, not shown (terminal, email)
    usage_unreadable: bool = False
    # what the target set, in its own words ("addition RCLOUD-GB on agreement 'MSA' set to
    # 30.50 GB"); empty when a row says it all (SOAP device, REST configuration)
    actions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON shape (history, --json, email); built by hand: asdict() is slow at 5,000.
        Every secret is masked: rows and warnings quote ConnectWise's own texts (agreement
        and company names a hostile server may fill with an echo of the keys)."""
        data = dict(self.__dict__)  # field order
        data["status"] = str(self.status)
        data["clients"] = [c.to_dict() for c in self.clients]
        data["unmapped"] = [dict(u) for u in self.unmapped]
        data["warnings"] = list(self.warnings)
        data["actions"] = list(self.actions)
        data["notification"] = dict(self.notification) if self.notification else None
        retry = self.scheduled_retry
        data["scheduled_retry"] = None if retry is None else dict(retry)
        data["summed_with"] = [dict(o) for o in self.summed_with]
        data["invoices"] = [dict(i) for i in self.invoices]
        return scrub(data, fresh=True)  # built here: not copied again

    @classmethod
    def from_dict(cls, data: dict) -> Entry:
        """An Entry from its JSON shape (checked first by the caller: history.entry_from_dict)."""
        skip = ("clients", "unmapped", "warnings", "actions")
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k not in skip}
        return cls(
            **fields,
            clients=[ClientResult.from_dict(c) for c in data["clients"]],
            unmapped=list(data.get("unmapped") or []),
            warnings=list(data.get("warnings") or []),
            actions=[str(a) for a in data.get("actions") or []],
        )

    def count(self, status: str) -> int:
        """How many client rows have this status."""
        return sum(1 for c in self.clients if c.status == status)

    def by_status(self) -> dict[str, int]:
        """Clients by status (published, failed and skipped always present)."""
        found = {Status.PUBLISHED.value: 0, Status.FAILED.value: 0, Status.SKIPPED.value: 0}
        for c in self.clients:
            found[str(c.status)] = found.get(str(c.status), 0) + 1
        return found

    def not_sent(self) -> int:
        """How many rows a partner-wide failure or an interrupt stopped before sending."""
        return sum(1 for c in self.clients if c.kind == Kind.NOT_SENT)

    def summary(self) -> EntrySummary:
        """The entry as the history index keeps it: no rows, their counts."""
        rows = ("warnings", "actions", "counts", "unmapped_count")
        return EntrySummary(
            **{k: getattr(self, k) for k in EntrySummary.__dataclass_fields__ if k not in rows},
            warnings=tuple(self.warnings),
            actions=tuple(self.actions),
            counts=self.by_status(),
            unmapped_count=len(self.unmapped),
        )


@dataclass(frozen=True)
class EntrySummary:
    """One history.log line: an Entry without its client, unmapped, summed_with and invoice
    rows, with `counts` (clients by status) and `unmapped_count` instead (history.py)."""

    partner: str
    mode: str
    initiated_by: str
    period: str
    started_at: str
    site: str
    id: str
    finished_at: str | None = None
    status: str = PublishStatus.FAILED
    exit_code: int = 1
    error: str | None = None
    usage_source: str | None = None
    warnings: tuple[str, ...] = ()
    notification: dict | None = None
    scheduled_retry: dict | None = None
    state_key: str | None = None
    usage_unreadable: bool = False
    actions: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    unmapped_count: int = 0

    def to_dict(self) -> dict:
        """The summary's JSON shape (Entry.to_dict's key order, then counts, unmapped_count)."""
        data = dict(self.__dict__)
        data["status"] = str(self.status)
        data["warnings"] = list(self.warnings)
        data["actions"] = list(self.actions)
        data["counts"] = dict(self.counts)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> EntrySummary:
        """A summary from a history.log line or a format-2 index (checked by entry_problem)."""
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        fields["warnings"] = tuple(data.get("warnings") or ())
        fields["actions"] = tuple(str(a) for a in data.get("actions") or ())
        fields["counts"] = dict(data.get("counts") or {})
        return cls(**fields)

    def by_status(self) -> dict[str, int]:
        """Clients by status, as counted when the entry was recorded."""
        return dict(self.counts)

    def not_sent(self) -> int:
        """A summary has no rows: what was not sent is counted as failed."""
        return 0


def count_by_status(clients: list[dict]) -> dict[str, int]:
    """How many client rows are published, failed and skipped (and any other status)."""
    counts = {Status.PUBLISHED.value: 0, Status.FAILED.value: 0, Status.SKIPPED.value: 0}
    for c in clients:
        counts[str(c["status"])] = counts.get(str(c["status"]), 0) + 1
    return counts


def unmapped_names(rows: Iterable[str], configured: Iterable[str]) -> list[str]:
    """The usage rows no configured client owns, in row order: decided here for the plan,
    check-config and the report (an unmapped row is never published, only named)."""
    names = set(configured)
    return [name for name in rows if name not in names]


