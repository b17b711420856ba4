"""schedule.json: the attempted period, old files without it, shared by several configs."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cwpublish.domain.period import Period
from cwpublish.domain.schedule import Attempt, DayState
from cwpublish.state.schedule_state import PRUNE_AFTER_DAYS, ScheduleState

MINE, THEIRS = "acme@cw.acme.example~acme", "acme@http+127.0.0.1_8765~acme"


def read(tmp_path) -> dict:
    return json.loads((tmp_path / "schedule.json").read_text())


def test_a_file_written_before_attempts_is_read_and_extended(tmp_path):
    (tmp_path / "schedule.json").write_text(json.dumps({MINE: {"day": 5, "since": "2026-10-01"}}))
    state = ScheduleState(tmp_path)
    assert state.get(MINE) == DayState(5, date(2026, 10, 1)) and state.attempt(MINE) is None
    attempt = Attempt(Period(2026, 11), date(2026, 11, 5), date(2026, 11, 6))
    state.set_attempt(MINE, attempt)
    state.save()
    assert read(tmp_path) == {
        MINE: {
            "day": 5,
            "since": "2026-10-01",
            "attempted": {
                "period": "2026-11",
                "first_try": "2026-11-05",
                "tried": "2026-11-06",
                "open": True,
            },
        }
    }
    assert ScheduleState(tmp_path).attempt(MINE) == attempt


def test_the_briefest_attempted_form_is_read(tmp_path):
    data = {MINE: {"day": 5, "since": "2026-10-01",
                   "attempted": {"period": "2026-11", "first_try": "2026-11-05"}}}
    (tmp_path / "schedule.json").write_text(json.dumps(data))
    first = date(2026, 11, 5)
    assert ScheduleState(tmp_path).attempt(MINE) == Attempt(Period(2026, 11), first, first)


@pytest.mark.parametrize(
    "attempted, problem",
    [
        ([], ".attempted: expected an object, got list"),
        ({"period": "2026-13", "first_try": "2026-11-05"}, ".attempted.period: expected a month"),
        ({"period": "2026-11"}, ".attempted.first_try: expected a date"),
        ({"period": "2026-11", "first_try": "2026-11-05", "tried": 5}, ".attempted.tried:"),
        ({"period": "2026-11", "first_try": "2026-11-05", "open": "yes"}, ".attempted.open:"),
    ],
)
def test_a_damaged_attempt_moves_the_file_aside(tmp_path, capsys, attempted, problem):
    data = {MINE: {"day": 5, "since": "2026-10-01", "attempted": attempted}}
    (tmp_path / "schedule.json").write_text(json.dumps(data))
    state = ScheduleState(tmp_path)
    assert state.get(MINE) is None and state.attempt(MINE) is None
    assert problem in capsys.readouterr().err
    assert len(list(tmp_path.glob("schedule.json.corrupt-*"))) == 1


def test_two_configs_saving_in_the_same_night_keep_each_others_entries(tmp_path):
    mine, theirs = ScheduleState(tmp_path), ScheduleState(tmp_path)  # both read an empty file
    mine.set(MINE, DayState(5, date(2026, 11, 1)))
    theirs.set(THEIRS, DayState(9, date(2026, 11, 2)))
    mine.save()
    theirs.save()  # written over the file as it is now, not as it was read
    mine.set_attempt(MINE, Attempt(Period(2026, 11), date(2026, 11, 5), date(2026, 11, 5)))
    mine.save()
    assert set(read(tmp_path)) == {MINE, THEIRS}
    assert read(tmp_path)[THEIRS] == {"day": 9, "since": "2026-11-02"}


def test_only_entries_untouched_for_long_are_pruned_never_this_configs(tmp_path):
    old = {"day": 5, "since": "2024-01-01"}
    revived = {**old, "attempted": {"period": "2026-10", "first_try": "2026-10-05"}}
    data = {"gone@x~y": old, "busy@x~y": revived, MINE: dict(old), "preflight@x~y": {
        **old, "preflight": "2026-11-04"}}
    (tmp_path / "schedule.json").write_text(json.dumps(data))
    state = ScheduleState(tmp_path)
    state.prune(date(2026, 11, 20), {MINE})
    state.save()
    assert set(read(tmp_path)) == {"busy@x~y", MINE, "preflight@x~y"}
    assert PRUNE_AFTER_DAYS > 366
