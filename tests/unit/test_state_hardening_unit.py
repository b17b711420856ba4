"""State files, hardened: damaged files moved aside, links refused, private modes, state keys,
legacy adoption and ledger retention -- on real files with real modes."""

from __future__ import annotations

import json
import os
import stat
from datetime import date
from pathlib import Path

import pytest
from freezegun import freeze_time

from cwpublish.config.model import ConnectWise, Partner, state_key
from cwpublish.domain.period import Period
from cwpublish.domain.record import ClientResult, Entry
from cwpublish.domain.schedule import DayState
from cwpublish.errors import StateError
from cwpublish.state.files import StateDirError, ensure_dir, read_json, write_json
from cwpublish.state.history import History
from cwpublish.state.keys import key_scope
from cwpublish.state.ledger import LEDGER_PERIODS, Ledger
from cwpublish.state.legacy import may_adopt_legacy
from cwpublish.state.lock import PublishLock
from cwpublish.state.schedule_state import ScheduleState


def partner(site: str = "https://cw.acme.example", company: str = "acme", name: str = "acme"):
    cw = ConnectWise(site=site, company_id=company, settings=None)
    return Partner(name=name, connectwise=cw, usage=None, clients=())  # type: ignore[arg-type]


def entry(period: str, site: str = "https://cw.acme.example", mode: str = "automatic") -> Entry:
    e = Entry("acme", mode, "cron", period, f"{period}-05T02:00:00+00:00", site,
              finished_at=f"{period}-05T02:01:00+00:00")
    e.clients = [ClientResult("A", "A-1", 1.0, "published")]
    return e


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# --- damaged files: moved aside, reported once, started anew -------------------------------

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


# --- links, modes, owners ---------------------------------------------------------------------

def test_state_files_are_never_read_or_written_through_a_symlink(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "schedule.json").symlink_to(target)
    with pytest.raises(StateDirError, match="schedule.json is a symbolic link"):
        ScheduleState(state)
    with pytest.raises(StateDirError, match="is a symbolic link"):
        write_json(state / "schedule.json", {})
    assert target.read_text() == "precious" and (state / "schedule.json").is_symlink()


def test_the_lock_is_never_opened_through_a_symlink_or_a_hard_link(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "publish.lock").symlink_to(target)
    with pytest.raises(StateDirError, match="publish.lock is a symbolic link"), \
            PublishLock(state):
        pass
    (state / "publish.lock").unlink()
    os.link(target, state / "publish.lock")
    with pytest.raises(StateDirError, match="not a plain file"), PublishLock(state):
        pass
    assert target.read_text() == "precious"


def test_a_loose_state_dir_of_ours_is_tightened_and_new_folders_are_0700(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    write_json(state / "ledger" / "k" / "2026-11.json", {})
    assert mode(state / "ledger") == mode(state / "ledger" / "k") == 0o700
    ensure_dir(state)
    assert mode(state) == 0o700
    assert "tightened it to 0700" in capsys.readouterr().err
    assert mode(state / "ledger" / "k" / "2026-11.json") == 0o600


def test_a_state_dir_of_another_user_is_refused(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    other = os.geteuid() + 1 if os.geteuid() != 0 else 65534
    try:
        os.chown(state, other, -1)
    except PermissionError:
        pytest.skip("cannot give a directory away without root")
    with pytest.raises(StateDirError, match="belongs to another user") as caught:
        write_json(state / "history.json", {})
    assert caught.value.exit_code == 2 and not (state / "history.json").exists()


def test_a_state_dir_under_a_regular_file_is_exit_2(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateDirError, match="state_dir .* is not writable") as caught, \
            PublishLock(tmp_path / "file" / "state"):
        pass
    assert caught.value.exit_code == 2


# --- state keys and the legacy state ----------------------------------------------------------

def test_state_key_is_readable_and_names_partner_site_and_company():
    assert state_key(partner()) == "acme@cw.acme.example~acme"
    assert state_key(partner("HTTPS://CW.Acme.Example:443/")) == "acme@cw.acme.example~acme"
    assert state_key(partner("http://127.0.0.1:8765")) == "acme@http+127.0.0.1_8765~acme"
    assert state_key(partner("https://cw.acme.example:8443")) == "acme@cw.acme.example_8443~acme"
    assert state_key(partner(company="other")) != state_key(partner())
    v6 = state_key(partner("http://[::1]:8765"))
    assert "/" not in v6 and ":" not in v6 and "=" in v6  # escaped, with a hash
    assert state_key(partner(company="a/b")) != state_key(partner(company="a-b"))
    assert key_scope(state_key(partner())) == "cw.acme.example~acme"


def test_legacy_ledger_is_adopted_once_by_its_key(tmp_path):
    legacy = tmp_path / "ledger" / "acme"
    Ledger(tmp_path).record(entry("2026-11"))  # no key: the name-keyed layout of old
    assert (legacy / "2026-11.json").exists()
    key = state_key(partner())
    assert "automatic" in Ledger(tmp_path).published(key, "2026-11", "A-1")
    assert not legacy.exists() and (tmp_path / "ledger" / key / "2026-11.json").exists()
    other = state_key(partner("https://cw.other.example"))
    assert Ledger(tmp_path).published(other, "2026-11", "A-1") == {}  # its own, empty


def test_legacy_state_of_another_site_is_left_for_that_site(tmp_path):
    History(tmp_path).add(entry("2026-11", site="https://cw.acme.example"))
    Ledger(tmp_path).record(entry("2026-11"))
    (tmp_path / "schedule.json").write_text(json.dumps({"acme": {"day": 5, "since": "2026-10-01"}}))
    rehearsal = state_key(partner("http://127.0.0.1:8765"))
    assert not may_adopt_legacy(tmp_path, rehearsal)
    assert Ledger(tmp_path).published(rehearsal, "2026-11", "A-1") == {}
    assert ScheduleState(tmp_path).get(rehearsal) is None
    production = state_key(partner())
    state = ScheduleState(tmp_path)
    assert state.get(production) == DayState(5, date(2026, 10, 1))
    state.save()
    assert set(json.loads((tmp_path / "schedule.json").read_text())) == {production}
    assert "automatic" in Ledger(tmp_path).published(production, "2026-11", "A-1")


def test_prune_never_forgets_a_partner_for_not_being_in_this_config(tmp_path):
    mine, gone = state_key(partner()), state_key(partner(name="gone"))
    theirs = state_key(partner("http://127.0.0.1:8765"))
    state = ScheduleState(tmp_path)
    for key in (mine, gone, theirs):
        state.set(key, DayState(5, date(2026, 11, 1)))
    state.prune(date(2026, 12, 1), {mine})  # `gone` may be another config's: kept
    state.save()
    assert set(json.loads((tmp_path / "schedule.json").read_text())) == {mine, gone, theirs}


# --- retention --------------------------------------------------------------------------------

def test_a_backfilled_old_period_is_kept_though_36_newer_ones_exist(tmp_path):
    key = state_key(partner())
    ledger = Ledger(tmp_path)
    newer = [Period(2024, 1)]
    while len(newer) < LEDGER_PERIODS:
        newer.append(newer[-1].next())
    for p in newer:
        ledger.record(entry(str(p)), key)
    ledger.record(entry("2019-01", mode="manual"), key)
    fresh = Ledger(tmp_path)
    assert "manual" in fresh.published(key, "2019-01", "A-1")
    assert all("automatic" in fresh.published(key, str(p), "A-1") for p in newer)
    ledger.record(entry(str(newer[-1].next())), key)  # a newer period: now 2019-01 ages out
    files = sorted(p.stem for p in (tmp_path / "ledger" / key).glob("*.json"))
    assert files[0] == "2024-02" and len(files) == LEDGER_PERIODS
