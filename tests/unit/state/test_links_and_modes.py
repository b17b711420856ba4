"""State files are never used through a link; the state dir is private (0700) and ours."""

from __future__ import annotations

import os

import pytest
from helpers import mode

from cwpublish.state.files import StateDirError, ensure_dir, write_json
from cwpublish.state.lock import PublishLock
from cwpublish.state.schedule_state import ScheduleState


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
