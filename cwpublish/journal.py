"""The journal of publishes in flight: `runs/<entry id>.json`, written before anything is sent
and removed once the entry is in history.

A run killed with SIGKILL (or a power cut) leaves its journal behind; the next run that takes
the lock closes it as an `interrupted` history entry whose unsent-or-unanswered clients are
`unknown`. Nothing of it goes to the ledger, so the next publish sends those clients again
(re-sending is harmless; skipping is not).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from cwpublish import log
from cwpublish.errors import EXIT_FAILED
from cwpublish.history import ClientResult, Entry
from cwpublish.redaction import scrub
from cwpublish.state_files import read_json, write_json

KILLED = (
    "the publish was killed before it finished (found by the next run); clients marked "
    "unknown may or may not have reached ConnectWise and are sent again by the next publish"
)


def _folder(state_dir: Path) -> Path:
    return state_dir / "runs"


def begin(state_dir: Path, entry: Entry, sending: list, known: list[ClientResult]) -> None:
    """Record that `sending` (usage records) are being sent for `entry`, `known` rows being
    settled already. Compact (`[client, key, GB]` per record): 10,000 clients stay cheap."""
    import os

    data = {k: v for k, v in entry.__dict__.items() if k not in ("clients", "unmapped")}
    data["pid"] = os.getpid()
    data["sending"] = [[r.client, r.key, float(r.billable_gb)] for r in sending]
    data["clients"] = [dict(c.__dict__) for c in known]
    write_json(_folder(state_dir) / f"{entry.id}.json", scrub(data))  # as history is


def end(state_dir: Path, entry_id: str) -> None:
    """The entry is in history: forget it here."""
    with contextlib.suppress(OSError):
        (_folder(state_dir) / f"{entry_id}.json").unlink()


def leftovers(state_dir: Path) -> list[Entry]:
    """Entries of killed runs (call with the lock held: no live run has a journal then)."""
    found = []
    for path in sorted(_folder(state_dir).glob("*.json")):
        data = read_json(path, None)
        try:
            found.append(_closed(data))
        except (TypeError, KeyError, ValueError, AttributeError):
            log.warning("%s is not a journal entry; removed", path)
            path.unlink(missing_ok=True)
    return found


def _closed(data: dict) -> Entry:
    """The journal's entry, closed as interrupted."""
    clients = [
        ClientResult(
            str(c["name"]),
            str(c["managed_id"]),
            c.get("billable_gb"),
            c["status"],
            c.get("error"),
            c.get("kind"),
        )
        for c in data["clients"]
    ]
    clients += [  # sent, and no answer was recorded: they may or may not have arrived
        ClientResult(str(name), str(key), gb, "unknown", "sent, no answer", "unknown")
        for name, key, gb in data.get("sending") or []
    ]
    fields = {k: data[k] for k in ("partner", "mode", "initiated_by", "period", "started_at")}
    entry = Entry(**fields, site=str(data.get("site", "")), id=str(data["id"]), clients=clients)
    entry.usage_source = data.get("usage_source")
    entry.unmapped = list(data.get("unmapped") or [])
    entry.status = "interrupted"
    entry.exit_code = EXIT_FAILED
    entry.error = KILLED
    entry.finished_at = None
    return entry
