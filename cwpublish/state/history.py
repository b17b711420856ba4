"""The history of publish operations: the entry shape and how it is kept on disk.

`history.log` (with one file per entry under `history/`) keeps the ten newest operations per
partner state key (state_keys.py), as the source document's Publish History. Per-client "was it
published" memory that outlives ten entries is the ledger (ledger.py).

The log is append-only so that recording costs the same with 10 entries or 2,000: each add or
update appends one fsync'd JSON line, a summary of the entry (no client or unmapped rows, only
their counts); it is compacted -- rewritten with the ten newest per partner, their files kept
and the others deleted -- once it has grown past twice its size at the last compaction. A last
line torn by a crash is ignored. `history.json` (format 2, one JSON index rewritten on every
add) is still read, and turned into a log by the first write.

Everything is shape-checked where it is read (history_format.py): a damaged entry file is moved
aside (its summary is shown instead), and a damaged log or index is moved aside and rebuilt
from the entry files, so the history survives a broken index.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime
from pathlib import Path

from cwpublish import log
from cwpublish.domain.record import Entry, count_by_status
from cwpublish.state.files import (
    append_line,
    move_aside,
    read_bytes,
    read_head,
    read_json,
    write_bytes,
    write_json,
)
from cwpublish.state.history_format import (
    LOG_FORMAT,
    entry_problem,
    header_problem,
    index_problem,
    log_line,
    parse_log,
    slim,
)
from cwpublish.state.keys import site_part

HISTORY_PER_PARTNER = 10
COMPACT_FLOOR = 64 * 1024  # bytes: below this a log is never compacted (it costs nothing)


def entry_from_dict(data: dict) -> Entry:
    """An Entry from its JSON shape (an entry file, a journal); ValueError if it is not one."""
    problem = entry_problem(data, str(data.get("id")) if isinstance(data, dict) else None)
    if problem:
        raise ValueError(problem)
    return Entry.from_dict(data)


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

    def recorded(self, entry_id: str) -> tuple[dict | None, bool]:
        """(the entry's file, whether the log lists it): what a write of it left behind."""
        path = self._entry_path(entry_id)
        data = read_json(path, None, lambda d: entry_problem(d, path.stem))
        return data, any(e.get("id") == entry_id for e in self._load())

    def add(self, entry: Entry) -> None:
        """Record a new entry: its file, then one line in the log (the entry is newest)."""
        data = entry.to_dict()
        if self._kept is None:  # before the entry's file: a log rebuilt from the files
            self._kept = self._open_log()  # must not list it already
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
        size = append_line(self.log_path, log_line({"op": op, "entry": summary}))
        if size > 2 * max(self._kept, COMPACT_FLOOR):
            self.compact()

    def _open_log(self) -> int:
        """The log's size at its last compaction; a missing log is created first, from the
        format-2 history.json when there is one (which is then removed)."""
        head = read_head(self.log_path)
        if head is not None and header_problem(_json_or_none(head)):
            self._load()  # a damaged first line: moved aside and rebuilt, never appended to
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
        body = b"".join(log_line({"op": "add", "entry": s}) for s in reversed(summaries))
        write_bytes(self.log_path, log_line({"history": LOG_FORMAT, "kept": len(body)}) + body)
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
        """The summaries of a format-2 history.json; with neither it nor a log, those of the
        entry files (a log deleted by hand), so that compaction never deletes them as unlisted."""
        if not os.path.lexists(self.path):
            return self._from_files()
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


def _json_or_none(line: bytes):
    """A line's JSON, or None when it is not JSON (its shape is checked by the caller)."""
    try:
        return json.loads(line)
    except ValueError:
        return None


def _cap(summaries: list[dict]) -> list[dict]:
    """The newest HISTORY_PER_PARTNER of each partner state key, from newest-first summaries:
    two configurations sharing a state_dir with the same partner name (rehearsal and
    production) never push each other's entries out."""
    kept: list[dict] = []
    per_key: dict[str, int] = {}
    seen: dict[str, str] = {}  # "<name>@<site>" -> the newest state key with it
    for e in summaries:
        key = _cap_key(e, seen)
        n = per_key.get(key, 0)
        if n < HISTORY_PER_PARTNER:
            kept.append(e)
        per_key[key] = n + 1
    return kept


def _cap_key(summary: dict, seen: dict[str, str]) -> str:
    """The state key an entry counts under. An entry written before entries carried it counts
    under the newest key of the same partner name and site (else its name and site)."""
    site = site_part(str(summary.get("site", "")))
    name_site = f"{summary['partner']}@{site}"
    key = summary.get("state_key")
    if isinstance(key, str):
        seen.setdefault(name_site, key)
        return key
    return seen.get(name_site, name_site)


_ROWS = ("clients", "unmapped", "summed_with", "invoices")  # only in the entry's file


def summarize(entry: dict) -> dict:
    """An entry without its client and unmapped rows, with their counts (the history index):
    the rows are only in the entry's file."""
    summary = {k: v for k, v in entry.items() if k not in _ROWS}
    summary["counts"] = count_by_status(entry["clients"])
    summary["unmapped_count"] = len(entry.get("unmapped") or [])
    return summary


def _started(summary: dict) -> datetime:
    """When an entry started, for ordering (an unreadable time sorts last)."""
    try:
        when = datetime.fromisoformat(summary["started_at"])
        return when if when.tzinfo else when.astimezone()
    except ValueError:
        return datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
