"""The history of publish operations: the entry shape and how it is kept on disk.

`history.json` (with one file per entry under `history/`) keeps the ten newest operations per
partner, as the source document's Publish History. Per-client "was it published" memory that
outlives ten entries is the ledger (ledger.py).

Both files are shape-checked where they are read (index_problem, entry_problem): a damaged
entry file is moved aside (its summary in the index is shown instead), and a damaged index is
moved aside and rebuilt from the entry files, so the history survives a broken index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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
        data = read_json(self.path, {"version": 2, "entries": []}, index_problem, self._rebuild)
        return data["entries"]

    def _rebuild(self) -> dict:
        """The index made again from the entry files (a damaged index was moved aside)."""
        entries = []
        for path in sorted(self.folder.glob("*.json")):
            entry = read_json(path, None, lambda data, p=path: entry_problem(data, p.stem))
            if entry is not None:
                entries.append(summarize(entry))
        entries.sort(key=_started, reverse=True)
        per_partner: dict[str, int] = {}
        kept = []
        for e in entries:
            per_partner[e["partner"]] = per_partner.get(e["partner"], 0) + 1
            if per_partner[e["partner"]] <= HISTORY_PER_PARTNER:
                kept.append(e)
        return {"version": 2, "entries": kept}

    def entries(self, partner: str | None = None, full: bool = False) -> list[dict]:
        """Newest first; summaries (with `counts`), or `full` entries with their clients."""
        found = [e for e in self._index() if partner is None or e.get("partner") == partner]
        return [self._full(e) for e in found] if full else found

    def find(self, entry_id: str) -> dict | None:
        matches = self.matching(entry_id)
        return self._full(matches[0]) if len(matches) == 1 else None

    def matching(self, entry_id: str) -> list[dict]:
        """Summaries of every entry whose ID starts with `entry_id`, newest first: none, one,
        or several (so a caller can tell an unknown ID from an ambiguous prefix)."""
        return [e for e in self._index() if str(e.get("id", "")).startswith(entry_id)]

    def add(self, entry: Entry) -> None:
        data = entry.to_dict()
        write_json(self._entry_path(entry.id), data)
        index = [summarize(data), *(e for e in self._index() if e["id"] != entry.id)]
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
        path = self._entry_path(summary["id"])
        entry = read_json(path, None, lambda data: entry_problem(data, path.stem))
        if entry is None:  # lost or damaged (moved aside): the summary is all there is
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


_TEXT = ("id", "partner", "mode", "initiated_by", "period", "started_at", "site", "status")
_TEXT_OR_NULL = ("finished_at", "error", "usage_source")


def index_problem(data: Any) -> str | None:
    """What is wrong with history.json's JSON ({"version", "entries": [summaries]}), or None."""
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        return 'expected {"version": 2, "entries": [...]}'
    for i, e in enumerate(data["entries"]):
        problem = entry_problem(e)
        if problem:
            return f"entries[{i}]: {problem}"
    return None


def entry_problem(e: Any, file_id: str | None = None) -> str | None:
    """What is wrong with one entry (a summary; with `file_id`, a full entry file whose ID must
    match its file name), or None. Only what readers rely on is required."""
    if not isinstance(e, dict):
        return f"expected an object, got {type(e).__name__}"
    for name in _TEXT:
        if not isinstance(e.get(name), str):
            return f"{name!r} missing" if name not in e else f"{name!r}: expected text"
    if not e["id"].isalnum() or (file_id is not None and e["id"] != file_id):
        return f"'id': {e['id']!r} is not this entry's ID"
    for name in _TEXT_OR_NULL:
        if not isinstance(e.get(name), str | None):
            return f"{name!r}: expected text or null"
    if not _is_int(e.get("exit_code", 0)):
        return "'exit_code': expected a number"
    if not isinstance(e.get("notification"), dict | None):
        return "'notification': expected an object or null"
    warnings = e.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        return "'warnings': expected a list of texts"
    counts = e.get("counts", {})
    if not isinstance(counts, dict) or not all(_is_int(n) for n in counts.values()):
        return "'counts': expected numbers by status"
    unmapped = e.get("unmapped", [])
    if not isinstance(unmapped, list) or not all(
        isinstance(u, dict) and isinstance(u.get("client"), str) and _is_gb(u.get("billable_gb"))
        for u in unmapped
    ):
        return "'unmapped': expected [{client, billable_gb}]"
    if file_id is not None or "clients" in e:
        clients = e.get("clients")
        if not isinstance(clients, list):
            return "'clients': expected a list"
        for i, c in enumerate(clients):
            if not (
                isinstance(c, dict)
                and all(isinstance(c.get(k), str) for k in ("name", "managed_id", "status"))
                and all(isinstance(c.get(k), str | None) for k in ("error", "kind"))
                and (c.get("billable_gb") is None or _is_gb(c["billable_gb"]))
            ):
                return f"clients[{i}]: expected {{name, managed_id, billable_gb, status, error}}"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_gb(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _started(summary: dict) -> datetime:
    """When an entry started, for ordering (an unreadable time sorts last)."""
    try:
        when = datetime.fromisoformat(summary["started_at"])
        return when if when.tzinfo else when.astimezone()
    except ValueError:
        return datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
