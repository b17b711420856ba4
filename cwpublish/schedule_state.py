"""schedule.json: what the nightly run remembers per partner between runs.

The configured day and since when (the FAQ's day-change rule needs it), and the scheduled day
whose night-before check already ran. Entries are keyed by the partner's state key (name, site
and company: state_keys.py), so two configurations sharing a state_dir never reset each other's
day; an entry keyed by the bare partner name (written before state keys) is adopted by its key
once, under the rule in state_keys.py. The file is shape-checked where it is read: a damaged one
is moved aside and started anew (the day is then seen as set today).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from cwpublish.schedule import DayState
from cwpublish.state_files import read_json, write_json
from cwpublish.state_keys import key_name, key_scope, may_adopt_legacy


def schedule_problem(data: Any) -> str | None:
    """What is wrong with schedule.json's JSON ({key: {day, since[, preflight]}}), or None."""
    if not isinstance(data, dict):
        return f"expected an object of partners, got {type(data).__name__}"
    for key, item in data.items():
        if not isinstance(item, dict):
            return f"{key!r}: expected an object, got {type(item).__name__}"
        day = item.get("day")
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
            return f"{key!r}.day: expected a day 1-31, got {day!r}"
        for name in ("since", "preflight"):
            if name in item or name == "since":
                try:
                    date.fromisoformat(item.get(name))
                except (TypeError, ValueError):
                    return f"{key!r}.{name}: expected a date YYYY-MM-DD, got {item.get(name)!r}"
    return None


class ScheduleState:
    """schedule.json: state key -> {day, since, preflight}. Small, so the nightly no-op reads it
    cheaply. Methods take the partner's state key (state_keys.state_key)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.path = state_dir / "schedule.json"
        self._data: dict[str, dict] = read_json(self.path, {}, schedule_problem)
        self._dirty = False
        self._looked_for_legacy: set[str] = set()

    def _item(self, key: str) -> dict | None:
        """The key's entry, adopting its partner's name-keyed entry if it has none yet."""
        if key not in self._data and key not in self._looked_for_legacy:
            self._looked_for_legacy.add(key)
            legacy = key_name(key)
            if legacy != key and legacy in self._data and may_adopt_legacy(self.state_dir, key):
                self._data[key] = self._data.pop(legacy)
                self._dirty = True
        return self._data.get(key)

    def get(self, key: str) -> DayState | None:
        item = self._item(key)
        return DayState(item["day"], date.fromisoformat(item["since"])) if item else None

    def set(self, key: str, state: DayState) -> None:
        if self.get(key) != state:
            item = self._data.setdefault(key, {})
            item.update(day=state.day, since=state.since.isoformat())
            self._dirty = True

    def preflight_date(self, key: str) -> date | None:
        """The scheduled day whose night-before check already ran (it runs once)."""
        item = self._item(key)
        return date.fromisoformat(item["preflight"]) if item and "preflight" in item else None

    def set_preflight(self, key: str, day: date) -> None:
        self._data.setdefault(key, {})["preflight"] = day.isoformat()
        self._dirty = True

    def forget_except(self, keys: set[str]) -> None:
        """Forget partners no longer configured: entries of the sites and companies of `keys`
        that are not in `keys`. Entries of other sites (another configuration sharing this
        state_dir) and name-keyed ones (not adopted yet) are kept."""
        scopes = {key_scope(k) for k in keys} - {None}
        for key in [k for k in self._data if k not in keys and key_scope(k) in scopes]:
            del self._data[key]
            self._dirty = True

    def save(self) -> None:
        if self._dirty:
            write_json(self.path, self._data)
            self._dirty = False
