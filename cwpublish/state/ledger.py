"""The ledger: per client and period, the last manual and the last automatic publish.

`ledger/<state key>/<period>.json` remembers, per Managed ID, for longer than the ten history
entries: it is what makes "never publish a period twice by accident" possible. The state key
(state/keys.py) names the partner, its ConnectWise site and company, so two configurations
sharing a state_dir never take each other's publishes for their own; a legacy
`ledger/<partner>/` folder is adopted by its key once (the rule is in state/keys.py).

Retention: periods more than LEDGER_PERIODS months older than the partner's newest period are
dropped, but never the period just written. A publish may only write the LEDGER_PERIODS months
up to the partner's current one (plan.py refuses older months and longer backfills), so every
period a publish may write is kept: the duplicate and newer-month guards always know it.

File format 2 (compact: a 10,000-client period is read whole on every publish):
`{"ledger": 2, "publishes": [{mode, at, by, entry_id}, ...], "clients": {Managed ID:
[manual publish index | null, manual GB, automatic publish index | null, automatic GB]}}`.
Format 1 (`{Managed ID: {mode: {at, by, billable_gb, entry_id}}}`) is read and rewritten as 2.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from cwpublish import log
from cwpublish.domain.period import Period
from cwpublish.domain.record import Entry, Status
from cwpublish.errors import StateError
from cwpublish.state.files import read_json, write_json
from cwpublish.state.history_format import is_gb
from cwpublish.state.keys import key_name
from cwpublish.state.legacy import may_adopt_legacy

LEDGER_PERIODS = 60  # months kept; also the longest backfill and the oldest --month


MODES = ("manual", "automatic")  # the two slots of a client's row, in this order


def ledger_problem(data: Any) -> str | None:
    """What is wrong with a ledger file's JSON (format 2, or format 1); None when it is right."""
    if not isinstance(data, dict):
        return f"expected an object, got {type(data).__name__}"
    if data.get("ledger") == 2:
        return _v2_problem(data)
    for managed_id, modes in data.items():
        if not isinstance(modes, dict):
            return f"{managed_id!r}: expected an object of modes, got {type(modes).__name__}"
        for mode, record in modes.items():
            where = f"{managed_id!r}.{mode}"
            if not isinstance(record, dict):
                return f"{where}: expected an object, got {type(record).__name__}"
            for name in ("at", "by", "entry_id"):
                if not isinstance(record.get(name), str | None):
                    return f"{where}.{name}: expected text"
            if not _gb_or_none(record.get("billable_gb")):
                return f"{where}.billable_gb: expected a number"
    return None


def _gb_or_none(value: Any) -> bool:
    return value is None or is_gb(value)


def _v2_problem(data: dict) -> str | None:
    publishes, clients = data.get("publishes"), data.get("clients")
    if not isinstance(publishes, list) or not isinstance(clients, dict):
        return "expected publishes (a list) and clients (an object)"
    for i, pub in enumerate(publishes):
        if not isinstance(pub, dict) or pub.get("mode") not in MODES:
            return f"publishes[{i}]: expected {{mode, at, by, entry_id}}"
        if not all(isinstance(pub.get(k), str | None) for k in ("at", "by", "entry_id")):
            return f"publishes[{i}]: at, by and entry_id must be text"
    for managed_id, row in clients.items():
        if not isinstance(row, list) or len(row) != 4:
            return f"clients[{managed_id!r}]: expected [index, GB, index, GB]"
        for slot in (0, 2):
            index = row[slot]
            if index is not None and (
                isinstance(index, bool) or not isinstance(index, int)
                or not 0 <= index < len(publishes)
            ):
                return f"clients[{managed_id!r}]: publish index out of range"
            if not _gb_or_none(row[slot + 1]):
                return f"clients[{managed_id!r}]: expected a number of GB"
    return None


def _as_v2(data: dict) -> dict:
    """A ledger file's content in format 2 (format 1 is converted)."""
    if data.get("ledger") == 2:
        return data
    publishes: list[dict] = []
    seen: dict[tuple, int] = {}
    clients: dict[str, list] = {}
    for managed_id, modes in data.items():
        row: list = [None, None, None, None]
        for mode, record in modes.items():
            if mode not in MODES:
                continue
            pub = {"mode": mode, **{k: record.get(k) for k in ("at", "by", "entry_id")}}
            ident = tuple(pub.values())
            if ident not in seen:
                seen[ident] = len(publishes)
                publishes.append(pub)
            slot = 2 * MODES.index(mode)
            row[slot], row[slot + 1] = seen[ident], record.get("billable_gb")
        clients[managed_id] = row
    return {"ledger": 2, "publishes": publishes, "clients": clients}


class Ledger:
    """ledger/<state key>/<period>.json: Managed ID -> {mode: last publish of that mode}.

    One file per partner key and period, read only for the periods a run touches. Methods take
    the partner's state key (state_keys.state_key), never its bare name.
    """

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.folder = state_dir / "ledger"
        self._periods: dict[tuple[str, str], dict] = {}  # (key, period) -> format 2
        self._adopted: set[str] = set()

    def _path(self, key: str, period: str) -> Path:
        return self.folder / key / f"{period}.json"

    def _load(self, key: str, period: str) -> dict:
        if (key, period) not in self._periods:
            self._adopt_legacy(key)
            path = self._path(key, period)
            self._periods[(key, period)] = _as_v2(read_json(path, {}, ledger_problem))
        return self._periods[(key, period)]

    def _adopt_legacy(self, key: str) -> None:
        """Move `ledger/<name>/` to `ledger/<key>/` the first time the key has no folder."""
        if key in self._adopted:
            return
        self._adopted.add(key)
        new, old = self.folder / key, self.folder / key_name(key)
        if new == old or os.path.lexists(new) or not old.is_dir() or old.is_symlink():
            return
        if not may_adopt_legacy(self.state_dir, key):
            return
        try:
            os.rename(old, new)
        except OSError as e:  # ENOENT, EEXIST: another run adopted it first
            if e.errno not in (errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY):
                raise StateError(f"{old}: cannot adopt it as {new}: {e.strerror}") from None
            return
        log.info("ledger: adopted %s (written before state keys) as %s", old, new)

    def published(self, key: str, period: str, managed_id: str) -> dict[str, dict]:
        """{mode: {at, by, billable_gb, entry_id}} of this client's publishes for this period."""
        data = self._load(key, period)
        row = data["clients"].get(managed_id)
        found: dict[str, dict] = {}
        for slot, mode in enumerate(MODES):
            if row and row[2 * slot] is not None:
                pub = data["publishes"][row[2 * slot]]
                found[mode] = {
                    "at": pub.get("at"),
                    "by": pub.get("by"),
                    "billable_gb": row[2 * slot + 1],
                    "entry_id": pub.get("entry_id"),
                }
        return found

    def last(self, key: str, period: str, managed_id: str) -> tuple[str, dict] | None:
        """(mode, record) of the newest publish of this client for this period, if any."""
        records = self.published(key, period, managed_id)
        if not records:
            return None
        return max(records.items(), key=lambda item: item[1].get("at") or "")

    def has_entry(self, key: str, period: str, entry_id: str) -> bool:
        """Whether history entry `entry_id` is recorded for this period (a catch-up is done)."""
        return any(p.get("entry_id") == entry_id for p in self._load(key, period)["publishes"])

    def newest(self, key: str, managed_ids: set[str], after: Period) -> dict[str, tuple[str, dict]]:
        """Managed ID -> (period, record of its newest publish there) for the clients of
        `managed_ids` published for a period after `after`: what ConnectWise holds for them
        now, if it is newer. Only the period files after `after` are read."""
        self._adopt_legacy(key)
        periods = []
        for path in self.folder.joinpath(key).glob("????-??.json"):
            try:
                period = Period.parse(path.stem)
            except ValueError:
                continue
            if period > after:
                periods.append(period)
        found: dict[str, tuple[str, dict]] = {}
        for period in sorted(periods, reverse=True):
            for managed_id in managed_ids - found.keys():
                newest = self.last(key, str(period), managed_id)
                if newest:
                    found[managed_id] = (str(period), {"mode": newest[0], **newest[1]})
        return found

    def record(self, entry: Entry, key: str | None = None) -> None:
        """Remember the entry's published clients under `key` (the partner's state key; by
        default its bare name, as for a partner without a site), then apply retention.

        A client's slot already holding a later publish keeps it: an entry recorded late (a
        catch-up after a failed write, ledger.py's caller recording.py) never hides a newer one.
        """
        key = key or entry.partner
        if not any(c.status == Status.PUBLISHED for c in entry.clients):
            return  # nothing reached ConnectWise: nothing to remember, nothing written
        data = self._load(key, entry.period)
        clients, publishes = data["clients"], data["publishes"]
        slot = 2 * MODES.index(entry.mode)
        index = len(publishes)
        publishes.append(
            {"mode": entry.mode, "at": entry.finished_at, "by": entry.initiated_by,
             "entry_id": entry.id}
        )
        for c in entry.clients:
            if c.status == Status.PUBLISHED:
                row = clients.setdefault(c.managed_id, [None, None, None, None])
                held = row[slot]
                if held is not None and (publishes[held].get("at") or "") > (
                    entry.finished_at or ""
                ):
                    continue
                row[slot], row[slot + 1] = index, c.billable_gb
        self._periods[(key, entry.period)] = data = _compacted(data)
        write_json(self._path(key, entry.period), data)
        self._prune(key, entry.period)

    def _prune(self, key: str, written: str) -> None:
        """Drop periods more than LEDGER_PERIODS months older than the newest, except `written`."""
        periods: dict[Period, Path] = {}
        for path in self.folder.joinpath(key).glob("????-??.json"):
            try:
                periods[Period.parse(path.stem)] = path
            except ValueError:
                continue
        if not periods:
            return
        newest = max(periods, key=lambda p: (p.year, p.month))
        oldest_kept = newest.year * 12 + newest.month - LEDGER_PERIODS
        for period, path in periods.items():
            if period.year * 12 + period.month <= oldest_kept and str(period) != written:
                path.unlink(missing_ok=True)
                self._periods.pop((key, str(period)), None)


def _compacted(data: dict) -> dict:
    """The same ledger without publishes no client refers to any more (renumbered)."""
    publishes, clients = data["publishes"], data["clients"]
    used = sorted({row[s] for row in clients.values() for s in (0, 2) if row[s] is not None})
    if len(used) == len(publishes):
        return data
    renumber = {old: new for new, old in enumerate(used)}
    for row in clients.values():
        for s in (0, 2):
            if row[s] is not None:
                row[s] = renumber[row[s]]
    return {"ledger": 2, "publishes": [publishes[i] for i in used], "clients": clients}
