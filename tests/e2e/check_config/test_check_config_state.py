"""check-config reports every state problem publish would refuse, before publish does."""

from __future__ import annotations

import json
import os
from datetime import date

import pytest
import yaml

from conftest import USAGE

USAGE_FILE = f"acme-{date.today():%Y-%m}.csv"
OTHER_UID = 4321
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user (chown) needs root",
)


def failures(result) -> list[str]:
    return [c["message"] for c in json.loads(result.stdout)["checks"] if c["status"] == "fail"]


@needs_root
def test_another_users_state_dir_fails_check_config_as_publish_refuses_it(
    make_config, password, run, tmp_path
):
    config = make_config(usage={USAGE_FILE: USAGE})
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, OTHER_UID, OTHER_UID)
    checked = run(config, "check-config", "--json")
    assert checked.exit_code == 2
    assert any(
        f"state_dir {state} belongs to another user (uid {OTHER_UID})" in m
        for m in failures(checked)
    ), checked.stdout
    assert run(config, "publish", "--yes").exit_code == 2  # what check-config foretold


def test_state_dir_that_is_a_file_fails(make_config, password, run, tmp_path):
    config = make_config(usage={USAGE_FILE: USAGE})
    (tmp_path / "state").write_text("not a folder")
    checked = run(config, "check-config", "--json")
    assert checked.exit_code == 2
    assert f"state_dir {tmp_path / 'state'} is not a directory" in failures(checked)
    assert run(config, "publish", "--yes").exit_code == 2


def test_loose_state_dir_is_a_warning(make_config, password, run, tmp_path):
    config = make_config(usage={USAGE_FILE: USAGE})
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o755)
    result = run(config, "check-config")
    assert result.exit_code == 0, result.stdout
    assert f"! [config] state_dir {state} is mode 0755 (open to others)" in result.stdout
    assert os.stat(state).st_mode & 0o777 == 0o755  # check-config changes nothing


@needs_root
def test_config_of_another_user_without_state_dir_warns(make_config, password, run, tmp_path):
    config = make_config(usage={USAGE_FILE: USAGE})
    data = yaml.safe_load(config.read_text())
    del data["state_dir"]
    config.write_text(yaml.safe_dump(data))
    os.chown(config, OTHER_UID, OTHER_UID)
    result = run(config, "check-config")
    assert f"{config} belongs to uid {OTHER_UID}, but this runs as uid 0" in result.stdout
    assert "not seen by the duplicate guard" in result.stdout
