"""The ledger: per client and period, the last manual and the last automatic publish.

`ledger/<partner>/<period>.json` remembers, per Managed ID, for longer than the ten history
entries: it is what makes "never publish a period twice by accident" possible.
"""

from __future__ import annotations

from pathlib import Path

from cwpublish.history import Entry
from cwpublish.state_files import read_json, write_json

LEDGER_PERIODS = 36


class Ledger:
    """ledger/<partner>/<period>.json: Managed ID -> {mode: last publish of that mode}.

    One file per partner and period, read only for the periods a run touches, and the newest
    LEDGER_PERIODS kept per partner.
    """

    def __init__(self, state_dir: Path):
        self.folder = state_dir / "ledger"
        self._periods: dict[tuple[str, str], dict[str, dict]] = {}

    def _path(self, partner: str, period: str) -> Path:
        return self.folder / partner / f"{period}.json"

    def _load(self, partner: str, period: str) -> dict[str, dict]:
        key = (partner, period)
        if key not in self._periods:
            raw = read_json(self._path(partner, period), {})
            self._periods[key] = raw if isinstance(raw, dict) else {}
        return self._periods[key]

    def published(self, partner: str, period: str, managed_id: str) -> dict[str, dict]:
        """{mode: record} of the publishes of this client for this period."""
        return self._load(partner, period).get(managed_id, {})

    def last(self, partner: str, period: str, managed_id: str) -> tuple[str, dict] | None:
        """(mode, record) of the newest publish of this client for this period, if any."""
        records = self.published(partner, period, managed_id)
        if not records:
            return None
        return max(records.items(), key=lambda item: item[1].get("at") or "")

    def record(self, entry: Entry) -> None:
        clients = self._load(entry.partner, entry.period)
        for c in entry.clients:
            if c.status == "published":
                clients.setdefault(c.managed_id, {})[entry.mode] = {
                    "at": entry.finished_at,
                    "by": entry.initiated_by,
                    "billable_gb": c.billable_gb,
                    "entry_id": entry.id,
                }
        write_json(self._path(entry.partner, entry.period), clients)
        periods = sorted(self.folder.joinpath(entry.partner).glob("????-??.json"))
        for old in periods[:-LEDGER_PERIODS]:
            old.unlink(missing_ok=True)
