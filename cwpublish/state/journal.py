"""The journal of publishes in flight: `runs/<entry id>.json`, written before anything is sent
and removed once the entry is in history AND the ledger.

A run killed with SIGKILL (or a power cut) leaves its journal behind; the next run that takes
the lock closes it as an `interrupted` history entry whose unsent-or-unanswered clients are
`unknown`. Nothing of it goes to the ledger, so the next publish sends those clients again
(re-sending is harmless; skipping is not).

A run whose entry is final but could not be wholly recorded (the history or the ledger could
not be written) rewrites its journal as `{"id", "key", "finished": entry}` (finish()): the next
run records that entry as it is -- never as killed -- and catches the ledger up (recording.py).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from cwpublish import log
from cwpublish.domain.record import ClientResult, Entry, Kind, PublishStatus, Status
from cwpublish.errors import EXIT_FAILED, StateError
from cwpublish.state.files import read_json, write_json
from cwpublish.state.history import entry_from_dict
from cwpublish.text.redaction import scrub

KILLED = (
    "the publish was killed before it finished (found by the next run); clients marked "
    "unknown may or may not have reached ConnectWise and are sent again by the next publish"
)


def _folder(state_dir: Path) -> Path:
    return state_dir / "runs"


def begin(state_dir: Path, entry: Entry, sending: list, known: list[ClientResult]) -> None:
    """Record that `sending` (usage records) are being sent for `entry`, `known` rows being
    settled already. Compact (`[client, key, GB]` per record): 10,000 clients stay cheap."""
    data = {k: v for k, v in entry.__dict__.items() if k not in ("clients", "unmapped")}
    data["pid"] = os.getpid()
    data["sending"] = [[r.client, r.key, float(r.billable_gb)] for r in sending]
    data["status"] = str(entry.status)
    data["clients"] = [c.to_dict() for c in known]
    write_json(_folder(state_dir) / f"{entry.id}.json", scrub(data, fresh=True))


def finish(state_dir: Path, entry: Entry, key: str) -> None:
    """Keep the final entry whole here (its history or ledger could not be written), with the
    partner's state key, so that the next run records it as it is."""
    write_json(_folder(state_dir) / f"{entry.id}.json",
               {"id": entry.id, "key": key, "finished": entry.to_dict()})


def end(state_dir: Path, entry_id: str) -> None:
    """The entry is in history and the ledger: forget it here (StateError if it cannot be)."""
    path = _folder(state_dir) / f"{entry_id}.json"
    try:
        os.unlink(path)
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.ENOTDIR):  # never begun: nothing to forget
            raise StateError(f"{path}: cannot remove it: {e.strerror}") from None


@dataclass(frozen=True)
class Leftover:
    """A journal found by the next run: a killed run's entry (closed as interrupted), or a
    finished entry that was not wholly recorded (`finished`, with its partner's `key`)."""

    entry: Entry
    finished: bool = False
    key: str | None = None


def leftovers(state_dir: Path) -> list[Leftover]:
    """What earlier runs left (call with the lock held: no live run has a journal then)."""
    found = []
    for path in sorted(_folder(state_dir).glob("*.json")):
        data = read_json(path, None)
        try:
            if isinstance(data, dict) and "finished" in data:
                key = data.get("key")
                found.append(
                    Leftover(entry_from_dict(data["finished"]), True, key
                             if isinstance(key, str) else None)
                )
            else:
                found.append(Leftover(_closed(data)))
        except (TypeError, KeyError, ValueError, AttributeError):
            log.warning("%s is not a journal entry; removed", path)
            path.unlink(missing_ok=True)
    return found


def _closed(data: dict) -> Entry:
    """The journal's entry, closed as interrupted."""
    clients = [ClientResult.from_dict(c) for c in data["clients"]]
    clients += [  # sent, and no answer was recorded: they may or may not have arrived
        ClientResult(str(name), str(key), gb, Status.UNKNOWN, "sent, no answer", Kind.UNKNOWN)
        for name, key, gb in data.get("sending") or []
    ]
    fields = {k: data[k] for k in ("partner", "mode", "initiated_by", "period", "started_at")}
    entry = Entry(**fields, site=str(data.get("site", "")), id=str(data["id"]), clients=clients)
    entry.usage_source = data.get("usage_source")
    key = data.get("state_key")
    entry.state_key = key if isinstance(key, str) else None
    entry.unmapped = list(data.get("unmapped") or [])
    entry.status = PublishStatus.INTERRUPTED
    entry.exit_code = EXIT_FAILED
    entry.error = KILLED
    entry.finished_at = None
    return entry
