"""Damaged state files: moved aside once and reported, a wrong shape forgotten or rebuilt, an
unreadable file a StateError rather than a guess."""

from __future__ import annotations

import json
import os
from datetime import date

import pytest
from freezegun import freeze_time
from helpers import entry, partner

from cwpublish.config.model import state_key
from cwpublish.domain.schedule import DayState
from cwpublish.errors import StateError
from cwpublish.state.files import read_json
from cwpublish.state.history import History
from cwpublish.state.ledger import Ledger
from cwpublish.state.schedule_state import ScheduleState


@pytest.mark.parametrize(
    "content, what",
    [
        (b'{"a": "caf\xe9"}', "is not valid UTF-8; moved it to"),
        (b"{broken", "is not valid JSON; moved it to"),
        (b'["a list"]', "is not of the expected shape; moved it to"),
    ],
)
def test_damaged_file_is_moved_aside_and_reported_once(tmp_path, capsys, content, what):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    check = (lambda d: None if isinstance(d, dict) else "expected an object")  # noqa: E731
    assert read_json(path, {"fresh": True}, check) == {"fresh": True}
    assert read_json(path, {"fresh": True}, check) == {"fresh": True}  # gone: no 2nd report
    [aside] = tmp_path.glob("x.json.corrupt-*")
    assert aside.read_bytes() == content
    err = capsys.readouterr().err
    assert err.count(what) == 1 and str(path) in err


def test_a_second_damaged_copy_in_the_same_second_never_overwrites_the_first(tmp_path):
    path = tmp_path / "x.json"
    with freeze_time("2026-11-05 02:00:00"):
        for content in (b"\xff one", b"\xff two"):
            path.write_bytes(content)
            read_json(path, None)
    assert sorted(p.read_bytes() for p in tmp_path.glob("x.json.corrupt-*")) == [
        b"\xff one", b"\xff two"
    ]


def test_a_file_that_cannot_be_read_is_a_state_error_not_a_guess(tmp_path):
    (tmp_path / "x.json").mkdir()  # a directory where the file should be
    with pytest.raises(StateError, match="x.json: cannot read: not a regular file") as caught:
        read_json(tmp_path / "x.json", {})
    assert caught.value.exit_code == 1
    assert (tmp_path / "x.json").is_dir()  # not moved aside: it is not ours to judge


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_a_state_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{}")
    path.chmod(0)
    with pytest.raises(StateError, match="cannot read: Permission denied"):
        read_json(path, {})


def test_ledger_of_the_wrong_shape_is_moved_aside_and_forgotten(tmp_path, capsys):
    key = state_key(partner())
    folder = tmp_path / "ledger" / key
    folder.mkdir(parents=True)
    (folder / "2026-11.json").write_text(json.dumps({"A-1": "automatic"}))
    assert Ledger(tmp_path).published(key, "2026-11", "A-1") == {}
    assert "'A-1': expected an object of modes" in capsys.readouterr().err
    assert len(list(folder.glob("2026-11.json.corrupt-*"))) == 1


@pytest.mark.parametrize(
    "data, problem",
    [
        ({"k@s~c": "5"}, "'k@s~c': expected an object, got str"),
        ({"k@s~c": {"day": "5", "since": "2026-11-01"}}, "'k@s~c'.day: expected a day 1-31"),
        ({"k@s~c": {"day": 5, "since": 20261101}}, "'k@s~c'.since: expected a date"),
        ({"k@s~c": {"day": 5, "since": "2026-11-01", "preflight": []}}, ".preflight: expected"),
    ],
)
def test_schedule_json_of_the_wrong_shape_is_moved_aside(tmp_path, capsys, data, problem):
    (tmp_path / "schedule.json").write_text(json.dumps(data))
    state = ScheduleState(tmp_path)
    assert state.get("k@s~c") is None
    assert problem in capsys.readouterr().err
    state.set("k@s~c", DayState(5, date(2026, 11, 5)))
    state.save()
    assert json.loads((tmp_path / "schedule.json").read_text()) == {
        "k@s~c": {"day": 5, "since": "2026-11-05"}
    }


def test_history_index_of_the_wrong_shape_is_rebuilt_from_the_entry_files(tmp_path, capsys):
    history = History(tmp_path)
    history.add(entry("2026-10"))
    history.add(entry("2026-11"))
    log = tmp_path / "history.log"
    lines = log.read_text().splitlines()
    record = json.loads(lines[1])
    del record["entry"]["started_at"]  # valid JSON, wrong shape, not the last line
    log.write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")
    assert [e["period"] for e in History(tmp_path).entries()] == ["2026-11", "2026-10"]
    assert "started_at" in capsys.readouterr().err
    assert len(list(tmp_path.glob("history.log.corrupt-*"))) == 1
    assert all("started_at" in e for e in History(tmp_path).entries())


def test_history_entry_file_that_is_a_list_falls_back_to_its_summary(tmp_path, capsys):
    history = History(tmp_path)
    e = entry("2026-11")
    history.add(e)
    (tmp_path / "history" / f"{e.id}.json").write_text("[1, 2]")
    full = History(tmp_path).find(e.id)
    assert full["clients"] == [] and "per-client rows are missing" in full["warnings"]
    assert "expected an object, got list" in capsys.readouterr().err
