"""State files under faults: a full disk, a locked keyring, atomic 0600 writes."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date

import keyring
import keyring.backend
import keyring.errors
import pytest

from conftest import USAGE, partner_config
from cwpublish.state.files import read_json, write_json


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (a real full disk), or skip where mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_disk_full_is_a_clear_error_and_the_result_is_still_shown(sim, make_config, password,
                                                                  run, tiny_disk):
    state = tiny_disk / "state"
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    text = config.read_text().replace(str(config.parent / "state"), str(state))
    config.write_text(text)
    state.mkdir(mode=0o700)
    (tiny_disk / "filler").write_bytes(b"x" * (60 * 1024))
    result = run(config, "publish", "--yes")
    assert result.exit_code == 4  # published, not recorded (never 1: "nothing published")
    assert "published 3 of 3 clients" in result.stdout  # what was sent is not hidden
    assert "not recorded in" in result.stderr and "disk full" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(state.glob(".history.json.*"))  # no temp file left behind


def test_write_json_is_atomic_and_private(tmp_path):
    target = tmp_path / "s" / "x.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    assert oct(os.stat(target.parent).st_mode & 0o777) == "0o700"
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]
    target.write_text("{broken")
    assert read_json(target, "default") == "default"
    assert len(list(target.parent.glob("x.json.corrupt-*"))) == 1


class LockedKeyring(keyring.backend.KeyringBackend):
    """Stands in for a locked Secret Service collection, which cannot run here."""

    priority = 1

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("collection is locked")

    def set_password(self, service, username, password):
        raise keyring.errors.KeyringLocked("collection is locked")

    def delete_password(self, service, username):
        raise keyring.errors.KeyringLocked("collection is locked")


def test_locked_keyring_is_exit_2_with_the_fix(sim, make_config, run):
    keyring.set_keyring(LockedKeyring())
    config = make_config(partners=[partner_config(sim.url)],
                         usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2 and "keyring is locked; unlock it" in result.stdout
    check = run(config, "check-config")
    assert check.exit_code == 2 and "✗ [acme] keyring is locked" in check.stdout
    assert run(config, "credentials", "set", "--partner", "acme", input="x\n").exit_code == 2


def test_write_json_of_a_long_list_is_the_text_of_one_dumps(tmp_path):
    data = {"id": "x", "clients": [{"name": f"Zoë {i}", "gb": i / 4} for i in range(1_234)],
            "nested": {"rows": [[i, None] for i in range(501)], "none": None}, "empty": []}
    write_json(tmp_path / "e.json", data)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert (tmp_path / "e.json").read_bytes() == text.encode("utf-8")
