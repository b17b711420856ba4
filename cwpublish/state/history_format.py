"""The history's files as bytes and shapes: history.log lines, the format-2 history.json
index, and the shape checks that every history file passes where it is read."""

from __future__ import annotations

import json
from typing import Any

LOG_FORMAT = 3  # history.log; history.json was format 2


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_gb(value: Any) -> bool:
    """A number of GB as JSON holds it (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def log_line(record: dict) -> bytes:
    """One log line: compact JSON (json's C encoder) and a line break."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


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
    if not isinstance(record, dict) or not is_int(record.get("history")):
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


def slim(summary: dict) -> dict:
    """A format-2 summary (with the unmapped rows) as format 3 has it (their count)."""
    if "unmapped" not in summary:
        return summary
    slimmed = {k: v for k, v in summary.items() if k != "unmapped"}
    slimmed.setdefault("unmapped_count", len(summary["unmapped"]))
    return slimmed


_TEXT = ("id", "partner", "mode", "initiated_by", "period", "started_at", "site", "status")
_TEXT_OR_NULL = ("finished_at", "error", "usage_source", "state_key")


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
    if not is_int(e.get("exit_code", 0)):
        return "'exit_code': expected a number"
    if not isinstance(e.get("notification"), dict | None):
        return "'notification': expected an object or null"
    warnings = e.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        return "'warnings': expected a list of texts"
    actions = e.get("actions", [])
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        return "'actions': expected a list of texts"
    if not isinstance(e.get("usage_unreadable", False), bool):
        return "'usage_unreadable': expected true or false"
    counts = e.get("counts", {})
    if not isinstance(counts, dict) or not all(is_int(n) for n in counts.values()):
        return "'counts': expected numbers by status"
    if not is_int(e.get("unmapped_count", 0)):
        return "'unmapped_count': expected a number"
    unmapped = e.get("unmapped", [])
    if not isinstance(unmapped, list) or not all(
        isinstance(u, dict) and isinstance(u.get("client"), str) and is_gb(u.get("billable_gb"))
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
                and (c.get("billable_gb") is None or is_gb(c["billable_gb"]))
            ):
                return f"clients[{i}]: expected {{name, managed_id, billable_gb, status, error}}"
    return None
