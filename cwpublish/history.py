"""What was published: the history of publish operations and the per-client ledger.

`history.json` keeps the ten newest operations per partner (as the source document's Publish
History). `ledger.json` remembers, per partner, period and Managed ID, the last manual and the
last automatic publish, for longer than ten entries: it is what makes "never publish a period
twice by accident" possible.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cwpublish.state import read_json, write_json

HISTORY_PER_PARTNER = 10
LEDGER_PERIODS = 36


@dataclass
class ClientResult:
    """One client's outcome in one publish."""

    name: str
    managed_id: str
    billable_gb: float | None
    status: str  # published | failed | skipped
    error: str | None = None


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

    def to_dict(self) -> dict:
        """The JSON shape (history, --json, email); built by hand: asdict() is slow at 5,000."""
        data = dict(self.__dict__)  # field order
        data["clients"] = [dict(c.__dict__) for c in self.clients]
        data["unmapped"] = [dict(u) for u in self.unmapped]
        data["warnings"] = list(self.warnings)
        data["notification"] = dict(self.notification) if self.notification else None
        return data

    def count(self, status: str) -> int:
        return sum(1 for c in self.clients if c.status == status)


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class History:
    """history.json: newest first, capped per partner."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "history.json"

    def entries(self, partner: str | None = None) -> list[dict]:
        data = read_json(self.path, {"version": 1, "entries": []})
        entries = data.get("entries", []) if isinstance(data, dict) else []
        return [e for e in entries if partner is None or e.get("partner") == partner]

    def find(self, entry_id: str) -> dict | None:
        matches = [e for e in self.entries() if str(e.get("id", "")).startswith(entry_id)]
        return matches[0] if len(matches) == 1 else None

    def add(self, entry: Entry) -> None:
        entries = [entry.to_dict(), *self.entries()]
        kept: list[dict] = []
        per_partner: dict[str, int] = {}
        for e in entries:
            n = per_partner.get(e["partner"], 0)
            if n < HISTORY_PER_PARTNER:
                kept.append(e)
            per_partner[e["partner"]] = n + 1
        write_json(self.path, {"version": 1, "entries": kept})

    def update(self, entry: Entry) -> None:
        """Rewrite an entry already added (e.g. once the email outcome is known)."""
        entries = [entry.to_dict() if e.get("id") == entry.id else e for e in self.entries()]
        write_json(self.path, {"version": 1, "entries": entries})


class Ledger:
    """ledger.json: partner -> period -> Managed ID -> {mode: last publish of that mode}."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "ledger.json"
        self._data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            raw = read_json(self.path, {})
            self._data = raw if isinstance(raw, dict) else {}
        return self._data

    def published(self, partner: str, period: str, managed_id: str) -> dict[str, dict]:
        """{mode: record} of the publishes of this client for this period."""
        return self.data.get(partner, {}).get(period, {}).get(managed_id, {})

    def record(self, entry: Entry) -> None:
        periods = self.data.setdefault(entry.partner, {})
        clients = periods.setdefault(entry.period, {})
        for c in entry.clients:
            if c.status == "published":
                clients.setdefault(c.managed_id, {})[entry.mode] = {
                    "at": entry.finished_at,
                    "by": entry.initiated_by,
                    "billable_gb": c.billable_gb,
                    "entry_id": entry.id,
                }
        for old in sorted(periods)[:-LEDGER_PERIODS]:
            del periods[old]
        write_json(self.path, self.data)
