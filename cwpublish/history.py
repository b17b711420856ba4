"""The history of publish operations: the entry shape and how it is kept on disk.

`history.log` (with one file per entry under `history/`) keeps the ten newest operations per
partner, as the source document's Publish History. Per-client "was it published" memory that
outlives ten entries is the ledger (ledger.py).

The log is append-only so that recording costs the same with 10 entries or 2,000: each add or
update appends one fsync'd JSON line, a summary of the entry (no client or unmapped rows, only
their counts); it is compacted -- rewritten with the ten newest per partner, their files kept
and the others deleted -- once it has grown past twice its size at the last compaction. A last
line torn by a crash is ignored. `history.json` (format 2, one JSON index rewritten on every
add) is still read, and turned into a log by the first write.

Everything is shape-checked where it is read (entry_problem): a damaged entry file is moved
aside (its summary is shown instead), and a damaged log or index is moved aside and rebuilt
from the entry files, so the history survives a broken index.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cwpublish import log
from cwpublish.state_files import (
    append_line,
    move_aside,
    read_bytes,
    read_head,
    read_json,
    write_bytes,
    write_json,
)

HISTORY_PER_PARTNER = 10
LOG_FORMAT = 3  # history.log; history.json was format 2
COMPACT_FLOOR = 64 * 1024  # bytes: below this a log is never compacted (it costs nothing)


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
    """history.log (summaries, appended) + history/<id>.json (each entry in full).

    Read: every summary, newest first, ten per partner (older ones wait for the compaction that
    deletes them). Written: the entry's file, then one line in the log -- never the whole index.
    """

    def __init__(self, state_dir: Path):
        self.log_path = state_dir / "history.log"
        self.path = state_dir / "history.json"  # format 2: read, and migrated by the next write
        self.folder = state_dir / "history"
        self._kept: int | None = None  # the log's size at its last compaction, once looked up

    def entries(self, partner: str | None = None, full: bool = False) -> list[dict]:
        """Newest first; summaries (with `counts`, `unmapped_count`), or `full` entries with
        their `clients` and `unmapped` rows."""
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
        """Record a new entry: its file, then one line in the log (the entry is newest)."""
        data = entry.to_dict()
        write_json(self._entry_path(entry.id), data)
        self._append("add", summarize(data))

    def update(self, entry: Entry) -> None:
        """Rewrite an entry already added (e.g. once the email outcome is known): its file and
        one line in the log; its place in the history does not change."""
        data = entry.to_dict()
        write_json(self._entry_path(entry.id), data)
        self._append("update", summarize(data))

    def compact(self) -> None:
        """Rewrite the log with only what is shown (ten per partner) and delete every other
        entry file: pruning, amortised over the appends since the last compaction."""
        kept = _cap(self._load())
        self._write_log(kept)
        ids = {e["id"] for e in kept}
        for path in self.folder.glob("*.json"):
            if path.stem not in ids:
                path.unlink(missing_ok=True)

    def _append(self, op: str, summary: dict) -> None:
        if self._kept is None:
            self._kept = self._open_log()
        size = append_line(self.log_path, _line({"op": op, "entry": summary}))
        if size > 2 * max(self._kept, COMPACT_FLOOR):
            self.compact()

    def _open_log(self) -> int:
        """The log's size at its last compaction; a missing log is created first, from the
        format-2 history.json when there is one (which is then removed)."""
        head = read_head(self.log_path)
        if head is None:
            migrating = os.path.lexists(self.path)
            kept = self._write_log(self._old_index())
            if migrating:
                log.info("history: %s moved to %s", self.path, self.log_path)
        else:
            try:
                kept = int(json.loads(head)["kept"])
            except (ValueError, TypeError, KeyError):
                kept = 0  # compacted soon, which reads (and if need be rebuilds) the log
        with contextlib.suppress(OSError):  # migrated (perhaps by a run killed right after)
            self.path.unlink()
        return kept

    def _write_log(self, summaries: list[dict]) -> int:
        """Replace the log (atomically) with `summaries` (newest first); its size, as kept."""
        body = b"".join(_line({"op": "add", "entry": s}) for s in reversed(summaries))
        write_bytes(self.log_path, _line({"history": LOG_FORMAT, "kept": len(body)}) + body)
        self._kept = len(body)
        return len(body)

    def _index(self) -> list[dict]:
        """What is shown: every summary, newest first, at most ten per partner."""
        return _cap(self._load())

    def _load(self) -> list[dict]:
        """Every summary on record, newest first (before the cap)."""
        raw = read_bytes(self.log_path)
        if raw is None:
            return self._old_index()
        parsed = parse_log(raw)
        if isinstance(parsed, list):
            return parsed
        what, detail = parsed
        aside = move_aside(self.log_path)
        log.warning(
            "%s is %s; moved it to %s and rebuilt it (%s)", self.log_path, what, aside, detail
        )
        summaries = self._from_files()
        self._write_log(summaries)
        return summaries

    def _old_index(self) -> list[dict]:
        """The summaries of a format-2 history.json (none if there is none)."""
        data = read_json(
            self.path,
            {"entries": []},
            index_problem,
            lambda: {"version": 2, "entries": self._from_files()},
        )
        return [slim(e) for e in data["entries"]]

    def _from_files(self) -> list[dict]:
        """Summaries made again from the entry files, newest first, ten per partner."""
        entries = []
        for path in sorted(self.folder.glob("*.json")):
            entry = read_json(path, None, lambda data, p=path: entry_problem(data, p.stem))
            if entry is not None:
                entries.append(summarize(entry))
        entries.sort(key=_started, reverse=True)
        return _cap(entries)

    def _entry_path(self, entry_id: str) -> Path:
        return self.folder / f"{''.join(c for c in str(entry_id) if c.isalnum())}.json"

    def _full(self, summary: dict) -> dict:
        path = self._entry_path(summary["id"])
        entry = read_json(path, None, lambda data: entry_problem(data, path.stem))
        if entry is None:  # lost or damaged (moved aside): the summary is all there is
            entry = {
                **summary,
                "clients": [],
                "unmapped": [],
                "warnings": [*summary.get("warnings", []), "per-client rows are missing"],
            }
        entry.pop("counts", None)
        entry.pop("unmapped_count", None)
        return entry


def _line(record: dict) -> bytes:
    """One log line: compact JSON (json's C encoder) and a line break."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _cap(summaries: list[dict]) -> list[dict]:
    """The newest HISTORY_PER_PARTNER of each partner, from newest-first summaries."""
    kept: list[dict] = []
    per_partner: dict[str, int] = {}
    for e in summaries:
        n = per_partner.get(e["partner"], 0)
        if n < HISTORY_PER_PARTNER:
            kept.append(e)
        per_partner[e["partner"]] = n + 1
    return kept


def parse_log(raw: bytes) -> list[dict] | tuple[str, str]:
    """The summaries in history.log's bytes, newest first; or (what, detail) is wrong with it.

    The first line is `{"history": 3, "kept": bytes}`; each other line `{"op": "add" | "update",
    "entry": summary}`. An add puts the entry first; an update replaces it where it is (an
    update of an entry no longer on record is ignored). The last line is ignored when it is
    torn (no line break, or not JSON): a crash in the middle of an append.
    """
    lines = raw.split(b"\n")
    lines.pop()  # after the last line break: b"", or a torn line
    by_id: dict[str, dict] = {}
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError as e:  # UnicodeDecodeError included
            if n == len(lines) and n > 1:
                break
            return "not valid JSON", f"line {n}: {e}"
        problem = header_problem(record) if n == 1 else record_problem(record)
        if problem:
            return "not of the expected shape", f"line {n}: {problem}"
        if n == 1:
            continue
        summary = record["entry"]
        if record["op"] == "add":
            by_id.pop(summary["id"], None)
            by_id[summary["id"]] = summary
        elif summary["id"] in by_id:
            by_id[summary["id"]] = summary
    if not lines:
        return "not of the expected shape", "empty: no header line"
    return list(reversed(by_id.values()))


def header_problem(record: Any) -> str | None:
    """What is wrong with history.log's first line, or None."""
    if not isinstance(record, dict) or not _is_int(record.get("history")):
        return 'expected {"history": 3, "kept": bytes}'
    if record["history"] > LOG_FORMAT:
        return f"format {record['history']} is newer than this cwpublish reads ({LOG_FORMAT})"
    return None


def record_problem(record: Any) -> str | None:
    """What is wrong with one history.log line after the first, or None."""
    if not isinstance(record, dict) or record.get("op") not in ("add", "update"):
        return 'expected {"op": "add" or "update", "entry": {...}}'
    problem = entry_problem(record.get("entry"))
    return f"entry: {problem}" if problem else None


def count_by_status(clients: list[dict]) -> dict[str, int]:
    """How many client rows are published, failed and skipped (and any other status)."""
    counts = {"published": 0, "failed": 0, "skipped": 0}
    for c in clients:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return counts


def summarize(entry: dict) -> dict:
    """An entry without its client and unmapped rows, with their counts (the history index):
    the rows are only in the entry's file."""
    summary = {k: v for k, v in entry.items() if k not in ("clients", "unmapped")}
    summary["counts"] = count_by_status(entry["clients"])
    summary["unmapped_count"] = len(entry.get("unmapped") or [])
    return summary


def slim(summary: dict) -> dict:
    """A format-2 summary (with the unmapped rows) as format 3 has it (their count)."""
    if "unmapped" not in summary:
        return summary
    slimmed = {k: v for k, v in summary.items() if k != "unmapped"}
    slimmed.setdefault("unmapped_count", len(summary["unmapped"]))
    return slimmed


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
    if not _is_int(e.get("unmapped_count", 0)):
        return "'unmapped_count': expected a number"
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
