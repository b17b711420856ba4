"""The state dir through the CLI: a damaged file is moved aside and the run completes; links,
an unwritable or unreadable state dir are exit 2 before anything is sent."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest
from freezegun import freeze_time
from helpers import DAY, NOV, OLD_ID, key_of, scheduled

from conftest import USAGE, partner_config, sim_state, soap_requests


def old_entry(site: str) -> dict:
    """A finished publish of October, as history/<id>.json holds it."""
    return {
        "partner": "acme", "mode": "manual", "initiated_by": "me@example.com",
        "period": "2026-10", "started_at": "2026-10-20T10:00:00+00:00", "site": site,
        "id": OLD_ID, "finished_at": "2026-10-20T10:00:05+00:00", "status": "success",
        "exit_code": 0, "error": None, "usage_source": "x.csv", "unmapped": [],
        "warnings": [], "notification": None,
        "clients": [{"name": "Contoso Dental", "managed_id": "CONTOSO-01", "billable_gb": 310.5,
                     "status": "published", "error": None, "kind": None}],
    }


def seed_state(state: Path, site: str, key: str) -> None:
    """A valid history (one October entry), ledger (October) and schedule.json."""
    full = old_entry(site)
    summary = {k: v for k, v in full.items() if k != "clients"}
    summary["counts"] = {"published": 1, "failed": 0, "skipped": 0}
    files = {
        "history.json": {"version": 2, "entries": [summary]},
        f"history/{OLD_ID}.json": full,
        f"ledger/{key}/2026-10.json": {"CONTOSO-01": {"manual": {"at": "x", "by": "me"}}},
        "schedule.json": {key: {"day": 5, "since": "2026-10-01"}},
    }
    for name, data in files.items():
        (state / name).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        (state / name).write_text(json.dumps(data))


DAMAGED = [  # (file, bytes written over it, what the warning says)
    ("history.json", b'{"version": 2, "entries": [\xff]}', "is not valid UTF-8"),
    (f"history/{OLD_ID}.json", b'{"partner": "caf\xe9"}', "is not valid UTF-8"),
    ("ledger/KEY/2026-11.json", b"\xfe\xff{}", "is not valid UTF-8"),
    ("schedule.json", b'{"KEY": {"day": 5, "since": "\xff"}}', "is not valid UTF-8"),
    ("ledger/KEY/2026-11.json", b'{"LAWSMITH": "automatic"}', "is not of the expected shape"),
    ("history.json", b'{"version": 2, "entries": [{"id": "0123456789ab", "partner": "acme"}]}',
     "is not of the expected shape"),
    ("schedule.json", b'{"KEY": {"day": "5", "since": 20261001}}', "is not of the expected shape"),
    (f"history/{OLD_ID}.json", b"[1, 2, 3]", "is not of the expected shape"),
]


def file_parent_config(make_config, tmp_path, url: str, **partner) -> Path:
    (tmp_path / "a-file").write_text("not a directory")
    config = make_config(partners=[partner_config(url, **partner)],
                         usage={f"acme-{date.today():%Y-%m}.csv": USAGE, **NOV})
    text = config.read_text().replace(str(tmp_path / "state"), str(tmp_path / "a-file" / "st"))
    config.write_text(text)
    return config


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only tmpfs (a real EROFS, which root cannot bypass), or skip."""
    mount = tmp_path / "ro"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)],
                          capture_output=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("name, content, what", DAMAGED)
def test_a_damaged_state_file_is_moved_aside_and_the_run_completes(
    sim, make_config, password, run, tmp_path, name, content, what
):
    config = make_config(partners=[scheduled(sim.url)], usage=NOV)
    state, key = tmp_path / "state", key_of(config)
    seed_state(state, sim.url, key)
    damaged = state / name.replace("KEY", key)
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(content.replace(b"KEY", key.encode()))
    with freeze_time(DAY, tick=True):
        first = run(config, "publish", "--scheduled")
        again = run(config, "publish", "--scheduled")
    listed = run(config, "history", "--json")
    assert (first.exit_code, again.exit_code, listed.exit_code) == (0, 0, 0), first.stderr
    assert "published 3 of 3 clients" in first.stdout and again.stdout == ""
    warnings = first.stderr + again.stderr + listed.stderr
    assert warnings.count(f"{damaged} {what}; moved it to") == 1, warnings
    assert "Traceback" not in warnings and "internal error" not in warnings
    [aside] = damaged.parent.glob(f"{damaged.name}.corrupt-*")
    assert aside.read_bytes() == content.replace(b"KEY", key.encode())  # kept, not overwritten
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1  # published once, not again
    got = sim_state(sim)["configurations"]["acme"]
    assert {(k, v["year"], v["month"]) for k, v in got.items()} == {
        ("LAWSMITH", 2026, 11), ("CONTOSO-01", 2026, 11), ("NORTHWIND", 2026, 11)
    }
    entries = json.loads(listed.stdout)
    assert entries[0]["period"] == "2026-11" and entries[0]["mode"] == "automatic"
    if name.startswith("history"):  # the October entry survives: rebuilt, or as its summary
        assert [e["id"] for e in entries][1:] == [OLD_ID]


def test_a_symlinked_lock_is_refused_and_its_target_untouched(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / "publish.lock").symlink_to(target)
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["status"] == "error" and "publish.lock is a symbolic link" in doc["error"]
    assert target.read_text() == "precious"
    assert soap_requests(sim, "UpdateManagedDevices") == []


def test_a_symlinked_state_file_is_refused_and_its_target_untouched(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[scheduled(sim.url)], usage=NOV)
    target = tmp_path / "precious.json"
    target.write_text('{"not": "yours"}')
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / "schedule.json").symlink_to(target)
    with freeze_time(DAY, tick=True):
        result = run(config, "publish", "--scheduled")
    assert result.exit_code == 2
    assert result.stderr.startswith("cwpublish: error: ") and "schedule.json is a symbolic" \
        in result.stderr and len(result.stderr.splitlines()) == 1
    assert target.read_text() == '{"not": "yours"}' and soap_requests(sim) == []


def test_an_unwritable_state_dir_is_exit_2_before_anything_is_sent(
    sim, make_config, password, run, tmp_path
):
    config = file_parent_config(make_config, tmp_path, sim.url)
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["status"] == "error" and doc["exit_code"] == 2
    assert f"state_dir {tmp_path / 'a-file'}" in doc["error"] and "not writable" in doc["error"]
    config = file_parent_config(make_config, tmp_path, sim.url,
                                schedule={"day": 5, "timezone": "America/New_York"})
    with freeze_time(DAY, tick=True):
        nightly = run(config, "publish", "--scheduled")
    assert nightly.exit_code == 2 and "not writable" in nightly.stderr
    assert "internal error" not in result.stderr + nightly.stderr
    assert soap_requests(sim, "UpdateManagedDevices") == []


def test_a_read_only_state_dir_is_exit_2(sim, make_config, password, run, tmp_path,
                                         read_only_dir):
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    text = config.read_text().replace(str(tmp_path / "state"), str(read_only_dir / "state"))
    config.write_text(text)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2 and "is not writable (Read-only file system)" in result.stderr
    assert soap_requests(sim, "UpdateManagedDevices") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0500 directory anyway")
def test_a_0500_state_dir_is_exit_2(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    (tmp_path / "state").mkdir(mode=0o500)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2 and "not writable (Permission denied)" in result.stderr
    assert soap_requests(sim, "UpdateManagedDevices") == []


def test_an_unreadable_history_is_a_clean_error(make_config, run, tmp_path):
    config = make_config()
    (tmp_path / "state" / "history.json").mkdir(parents=True)  # cannot be read as a file
    result = run(config, "history")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"cwpublish: error: {tmp_path / 'state' / 'history.json'}: cannot read: "
        "not a regular file"
    ]
    doc = json.loads(run(config, "history", "--json").stdout)
    assert doc["status"] == "error" and doc["exit_code"] == 1


@pytest.mark.parametrize("folder", ["history", "runs", "ledger"])
def test_a_symlinked_state_subfolder_is_refused(sim, make_config, password, run, tmp_path, folder):
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / folder).symlink_to(victim)
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    result = run(config, "publish", "--yes")
    assert "is a symbolic link; refused" in result.stdout + result.stderr
    assert list(victim.iterdir()) == [] and oct(victim.stat().st_mode & 0o777) == "0o755"
