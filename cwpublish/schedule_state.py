"""schedule.json: what the nightly run remembers per partner between runs.

The configured day and since when (the FAQ's day-change rule needs it), and the scheduled day
whose night-before check already ran.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cwpublish.schedule import DayState
from cwpublish.state_files import read_json, write_json


class ScheduleState:
    """schedule.json: partner -> {day, since}. Small, so the nightly no-op reads it cheaply."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "schedule.json"
        raw = read_json(self.path, {})
        self._data: dict = raw if isinstance(raw, dict) else {}
        self._dirty = False

    def get(self, partner: str) -> DayState | None:
        item = self._data.get(partner)
        try:
            return DayState(int(item["day"]), date.fromisoformat(item["since"]))
        except (TypeError, KeyError, ValueError):
            return None

    def set(self, partner: str, state: DayState) -> None:
        if self.get(partner) != state:
            item = self._data.setdefault(partner, {})
            item.update(day=state.day, since=state.since.isoformat())
            self._dirty = True

    def preflight_date(self, partner: str) -> date | None:
        """The scheduled day whose night-before check already ran (it runs once)."""
        try:
            return date.fromisoformat(self._data[partner]["preflight"])
        except (KeyError, TypeError, ValueError):
            return None

    def set_preflight(self, partner: str, day: date) -> None:
        self._data.setdefault(partner, {})["preflight"] = day.isoformat()
        self._dirty = True

    def forget_except(self, partners: set[str]) -> None:
        for name in [p for p in self._data if p not in partners]:
            del self._data[name]
            self._dirty = True

    def save(self) -> None:
        if self._dirty:
            write_json(self.path, self._data)
            self._dirty = False
