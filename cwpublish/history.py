"""The history of publish operations: the entry shape and how it is kept on disk.

`history.json` (with one file per entry under `history/`) keeps the ten newest operations per
partner, as the source document's Publish History. Per-client "was it published" memory that
outlives ten entries is the ledger (ledger.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cwpublish.state_files import read_json, write_json

HISTORY_PER_PARTNER = 10


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


class History:
    """history.json (the index, newest first, capped per partner) + history/<id>.json.

    The index holds every field of an entry except its per-client rows, plus their counts;
    each entry's full JSON (with `clients`) is its own file. Adding an entry therefore costs
    one entry, not ten: a partner with 10,000 clients would otherwise re-read and re-write
    100,000 client rows on every publish.
    """

    def __init__(self, state_dir: Path):
        self.path = state_dir / "history.json"
        self.folder = state_dir / "history"

    def _index(self) -> list[dict]:
        data = read_json(self.path, {"version": 2, "entries": []})
        entries = data.get("entries", []) if isinstance(data, dict) else []
        return [e for e in entries if isinstance(e, dict) and "id" in e and "partner" in e]

    def entries(self, partner: str | None = None, full: bool = False) -> list[dict]:
        """Newest first; summaries (with `counts`), or `full` entries with their clients."""
        found = [e for e in self._index() if partner is None or e.get("partner") == partner]
        return [self._full(e) for e in found] if full else found

    def find(self, entry_id: str) -> dict | None:
        matches = [e for e in self._index() if str(e.get("id", "")).startswith(entry_id)]
        return self._full(matches[0]) if len(matches) == 1 else None

    def add(self, entry: Entry) -> None:
        data = entry.to_dict()
        write_json(self._entry_path(entry.id), data)
        index = [summarize(data), *self._index()]
        del data
        kept: list[dict] = []
        per_partner: dict[str, int] = {}
        for e in index:
            n = per_partner.get(e["partner"], 0)
            if n < HISTORY_PER_PARTNER:
                kept.append(e)
            else:
                self._entry_path(e["id"]).unlink(missing_ok=True)
            per_partner[e["partner"]] = n + 1
        write_json(self.path, {"version": 2, "entries": kept})

    def update(self, entry: Entry) -> None:
        """Rewrite an entry already added (e.g. once the email outcome is known)."""
        data = entry.to_dict()
        write_json(self._entry_path(entry.id), data)
        summary = summarize(data)
        index = [summary if e.get("id") == entry.id else e for e in self._index()]
        write_json(self.path, {"version": 2, "entries": index})

    def _entry_path(self, entry_id: str) -> Path:
        return self.folder / f"{''.join(c for c in str(entry_id) if c.isalnum())}.json"

    def _full(self, summary: dict) -> dict:
        entry = read_json(self._entry_path(summary["id"]), None)
        if not isinstance(entry, dict):  # lost or damaged: the summary is all there is
            entry = {
                **summary,
                "clients": [],
                "warnings": [*summary.get("warnings", []), "per-client rows are missing"],
            }
        entry.pop("counts", None)
        return entry


def count_by_status(clients: list[dict]) -> dict[str, int]:
    """How many client rows are published, failed and skipped (and any other status)."""
    counts = {"published": 0, "failed": 0, "skipped": 0}
    for c in clients:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return counts


def summarize(entry: dict) -> dict:
    """An entry without its client rows, with their counts by status (the history index)."""
    summary = {k: v for k, v in entry.items() if k != "clients"}
    summary["counts"] = count_by_status(entry["clients"])
    return summary
