"""schedule.json: what the nightly run remembers per partner between runs.

Per partner: the configured day and since when (the FAQ's day-change rule needs it), the
scheduled day whose night-before check already ran (`preflight`), and the period last attempted
(`attempted`: {period, first_try, tried, open[, invoiced]}; schedule.py retries it while
`open`; files written before it existed are read without it). Entries are keyed by the
partner's state key (name, site and company: state/keys.py), so two configurations sharing a
state_dir never reset each other's day; an entry keyed by the bare partner name (written
before state keys) is adopted by its key once, under the rule in state/keys.py. The file is
shape-checked where it is read: a damaged one is moved aside and started anew (the day is then
seen as set today).

Several configurations may share the state_dir, and a run cannot tell a partner removed from
its configuration from one of another configuration, so a run never deletes an entry because
its partner is not configured: an entry is pruned only once untouched (no date in it) for
PRUNE_AFTER_DAYS, and never one of the running configuration. Saving writes only the entries
this run changed over the file as it is then, so runs of two configurations in the same night
keep each other's changes.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cwpublish.domain.period import Period
from cwpublish.domain.schedule import Attempt, DayState
from cwpublish.state.files import read_json, write_json
from cwpublish.state.keys import key_name
from cwpublish.state.legacy import may_adopt_legacy

PRUNE_AFTER_DAYS = 400  # over a year: an entry of a partner still scheduled anywhere is newer


def schedule_problem(data: Any) -> str | None:
    """What is wrong with schedule.json's JSON ({key: {day, since[, preflight][, attempted]}}),
    or None."""
    if not isinstance(data, dict):
        return f"expected an object of partners, got {type(data).__name__}"
    for key, item in data.items():
        if not isinstance(item, dict):
            return f"{key!r}: expected an object, got {type(item).__name__}"
        day = item.get("day")
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
            return f"{key!r}.day: expected a day 1-31, got {day!r}"
        for name in ("since", "preflight"):
            if (name in item or name == "since") and not _is_date(item.get(name)):
                return f"{key!r}.{name}: expected a date YYYY-MM-DD, got {item.get(name)!r}"
        if "attempted" in item:
            problem = _attempt_problem(item["attempted"])
            if problem:
                return f"{key!r}.attempted{problem}"
    return None


def _attempt_problem(item: Any) -> str | None:
    """What is wrong with an `attempted` object ({period, first_try[, tried][, open]})."""
    if not isinstance(item, dict):
        return f": expected an object, got {type(item).__name__}"
    try:
        Period.parse(item.get("period"))
    except (AttributeError, ValueError):
        return f".period: expected a month YYYY-MM, got {item.get('period')!r}"
    for name in ("first_try", "tried"):
        if (name in item or name == "first_try") and not _is_date(item.get(name)):
            return f".{name}: expected a date YYYY-MM-DD, got {item.get(name)!r}"
    if not isinstance(item.get("open", True), bool):
        return f".open: expected true or false, got {item.get('open')!r}"
    held = item.get("invoiced", [])
    if not isinstance(held, list) or not all(isinstance(k, str) for k in held):
        return f".invoiced: expected a list of Managed IDs, got {held!r}"
    return None


def _is_date(value: Any) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


class ScheduleState:
    """schedule.json: state key -> {day, since, preflight, attempted}. Small, so the nightly
    no-op reads it cheaply. Methods take the partner's state key (state_keys.state_key)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.path = state_dir / "schedule.json"
        self._data: dict[str, dict] = read_json(self.path, {}, schedule_problem)
        self._changed: set[str] = set()  # keys set or deleted by this run (written by save)
        self._looked_for_legacy: set[str] = set()

    def _item(self, key: str) -> dict | None:
        """The key's entry, adopting its partner's name-keyed entry if it has none yet."""
        if key not in self._data and key not in self._looked_for_legacy:
            self._looked_for_legacy.add(key)
            legacy = key_name(key)
            if legacy != key and legacy in self._data and may_adopt_legacy(self.state_dir, key):
                self._data[key] = self._data.pop(legacy)
                self._changed |= {key, legacy}
        return self._data.get(key)

    def _edit(self, key: str) -> dict:
        self._item(key)
        self._changed.add(key)
        return self._data.setdefault(key, {})

    def get(self, key: str) -> DayState | None:
        item = self._item(key)
        return DayState(item["day"], date.fromisoformat(item["since"])) if item else None

    def set(self, key: str, state: DayState) -> None:
        if self.get(key) != state:
            self._edit(key).update(day=state.day, since=state.since.isoformat())

    def preflight_date(self, key: str) -> date | None:
        """The scheduled day whose night-before check already ran (it runs once)."""
        item = self._item(key)
        return date.fromisoformat(item["preflight"]) if item and "preflight" in item else None

    def set_preflight(self, key: str, day: date) -> None:
        self._edit(key)["preflight"] = day.isoformat()

    def attempt(self, key: str) -> Attempt | None:
        """The period last attempted by the schedule (None in files written before it)."""
        item = (self._item(key) or {}).get("attempted")
        if not item:
            return None
        first = date.fromisoformat(item["first_try"])
        tried = date.fromisoformat(item["tried"]) if "tried" in item else first
        held = tuple(item.get("invoiced", ()))
        return Attempt(Period.parse(item["period"]), first, tried, item.get("open", True), held)

    def set_attempt(self, key: str, attempt: Attempt | None) -> None:
        if attempt is None or self.attempt(key) == attempt:
            return
        self._edit(key)["attempted"] = {
            "period": str(attempt.period),
            "first_try": attempt.first_try.isoformat(),
            "tried": attempt.tried.isoformat(),
            "open": attempt.open,
            **({"invoiced": list(attempt.invoiced)} if attempt.invoiced else {}),
        }

    def prune(self, today: date, keep: set[str]) -> None:
        """Forget entries untouched for PRUNE_AFTER_DAYS, except `keep` (this configuration's).

        Never by absence from the configuration: it may be another one's (module doc)."""
        cutoff = (today - timedelta(days=PRUNE_AFTER_DAYS)).isoformat()
        for key, item in list(self._data.items()):
            if key not in keep and _touched(item) < cutoff:
                del self._data[key]
                self._changed.add(key)

    def save(self) -> None:
        """Write this run's changes over the file as it is now (another configuration's run
        may have written it since it was read)."""
        if not self._changed:
            return
        data = read_json(self.path, {}, schedule_problem)
        for key in self._changed:
            if key in self._data:
                data[key] = self._data[key]
            else:
                data.pop(key, None)
        write_json(self.path, data)
        self._changed.clear()


def _touched(item: dict) -> str:
    """The newest date in an entry (ISO text, which sorts as dates do)."""
    attempted = item.get("attempted") or {}
    dates = [item.get("since"), item.get("preflight"), attempted.get("tried")]
    dates.append(attempted.get("first_try"))
    return max(d for d in dates if isinstance(d, str))
