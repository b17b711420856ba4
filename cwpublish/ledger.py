"""The ledger: per client and period, the last manual and the last automatic publish.

`ledger/<state key>/<period>.json` remembers, per Managed ID, for longer than the ten history
entries: it is what makes "never publish a period twice by accident" possible. The state key
(state_keys.py) names the partner, its ConnectWise site and company, so two configurations
sharing a state_dir never take each other's publishes for their own; a legacy
`ledger/<partner>/` folder is adopted by its key once (the rule is in state_keys.py).

Retention: periods more than LEDGER_PERIODS months older than the partner's newest period are
dropped, but never the period just written, so a backfill of an old month (2019-01 while 36
newer periods are kept) keeps its record: the duplicate guard still knows it was published.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from cwpublish import log
from cwpublish.errors import StateError
from cwpublish.history import Entry
from cwpublish.period import Period
from cwpublish.state_files import read_json, write_json
from cwpublish.state_keys import key_name, may_adopt_legacy

LEDGER_PERIODS = 36


def ledger_problem(data: Any) -> str | None:
    """What is wrong with a ledger file's JSON: {Managed ID: {mode: {at, by, billable_gb,
    entry_id}}}; None when it has that shape."""
    if not isinstance(data, dict):
        return f"expected an object of Managed IDs, got {type(data).__name__}"
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
            gb = record.get("billable_gb")
            if gb is not None and (isinstance(gb, bool) or not isinstance(gb, int | float)):
                return f"{where}.billable_gb: expected a number"
    return None


class Ledger:
    """ledger/<state key>/<period>.json: Managed ID -> {mode: last publish of that mode}.

    One file per partner key and period, read only for the periods a run touches. Methods take
    the partner's state key (state_keys.state_key), never its bare name.
    """

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.folder = state_dir / "ledger"
        self._periods: dict[tuple[str, str], dict[str, dict]] = {}
        self._adopted: set[str] = set()

    def _path(self, key: str, period: str) -> Path:
        return self.folder / key / f"{period}.json"

    def _load(self, key: str, period: str) -> dict[str, dict]:
        if (key, period) not in self._periods:
            self._adopt_legacy(key)
            path = self._path(key, period)
            self._periods[(key, period)] = read_json(path, {}, ledger_problem)
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
        """{mode: record} of the publishes of this client for this period."""
        return self._load(key, period).get(managed_id, {})

    def last(self, key: str, period: str, managed_id: str) -> tuple[str, dict] | None:
        """(mode, record) of the newest publish of this client for this period, if any."""
        records = self.published(key, period, managed_id)
        if not records:
            return None
        return max(records.items(), key=lambda item: item[1].get("at") or "")

    def record(self, entry: Entry, key: str | None = None) -> None:
        """Remember the entry's published clients under `key` (the partner's state key; by
        default its bare name, as for a partner without a site), then apply retention."""
        key = key or entry.partner
        clients = self._load(key, entry.period)
        for c in entry.clients:
            if c.status == "published":
                clients.setdefault(c.managed_id, {})[entry.mode] = {
                    "at": entry.finished_at,
                    "by": entry.initiated_by,
                    "billable_gb": c.billable_gb,
                    "entry_id": entry.id,
                }
        write_json(self._path(key, entry.period), clients)
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
