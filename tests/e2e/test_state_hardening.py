"""State hardening through the CLI: damaged state files, two configs sharing a state_dir, the
upgrade from name-keyed state, links, modes, an unusable state_dir, and backfill retention."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from freezegun import freeze_time

from conftest import USAGE, partner_config, sim_state, soap_requests, tenant
from cwpublish.config.load import load_config
from cwpublish.config.model import state_key
from cwpublish.simulator import SimulatorServer

NOV = {"acme-2026-11.csv": USAGE}
OLD_ID = "0123456789ab"
DAY = "2026-11-05 15:00:00"  # day 5 in New York: the scheduled publish is due


def scheduled(url: str, **overrides) -> dict:
    return partner_config(url, schedule={"day": 5, "timezone": "America/New_York"}, **overrides)


def key_of(config: Path) -> str:
    return state_key(load_config(config).partners[0])


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


def test_rehearsal_and_production_sharing_a_state_dir_both_publish(
    sim, make_config, password, run, tmp_path
):
    production_sim = SimulatorServer({"tenants": [tenant()]}).start()
    try:
        rehearsal = make_config(partners=[scheduled(sim.url)], usage=NOV)
        rehearsal = rehearsal.rename(tmp_path / "rehearsal.yaml")
        production = make_config(partners=[scheduled(production_sim.url)], usage=NOV)
        with freeze_time(DAY, tick=True):
            rehearsed = run(rehearsal, "publish", "--scheduled")
            published = run(production, "publish", "--scheduled")
            repeats = [run(c, "publish", "--scheduled") for c in (rehearsal, production)]
        assert rehearsed.exit_code == published.exit_code == 0
        assert "published 3 of 3 clients" in published.stdout  # not silently skipped
        assert all(r.exit_code == 0 and r.stdout == "" for r in repeats)
        for server in (sim, production_sim):
            assert len(soap_requests(server, "UpdateManagedDevices")) == 1
            assert len(sim_state(server)["configurations"]["acme"]) == 3
        schedule = json.loads((tmp_path / "state" / "schedule.json").read_text())
        assert set(schedule) == {key_of(rehearsal), key_of(production)}  # neither forgotten
    finally:
        production_sim.stop()


def test_name_keyed_state_is_adopted_on_upgrade_without_publishing_again(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[scheduled(sim.url)], usage=NOV)
    state = tmp_path / "state"
    legacy = state / "ledger" / "acme"
    legacy.mkdir(parents=True)
    record = {"automatic": {"at": "2026-11-05T07:00:00+00:00", "by": "cron", "billable_gb": 1.0,
                            "entry_id": OLD_ID}}
    ids = ["LAWSMITH", "CONTOSO-01", "NORTHWIND"]
    (legacy / "2026-11.json").write_text(json.dumps({i: record for i in ids}))
    (state / "schedule.json").write_text(json.dumps({"acme": {"day": 5, "since": "2026-10-01"}}))
    with freeze_time(DAY, tick=True):
        scheduled_run = run(config, "-v", "publish", "--scheduled")
        manual = run(config, "publish", "--yes", "--month", "2026-11")
    assert scheduled_run.exit_code == 0 and scheduled_run.stdout == ""
    assert "2026-11 was already published automatically" in scheduled_run.stderr
    assert manual.exit_code == 2 and "3 client(s) were already published" in manual.stderr
    assert soap_requests(sim) == []
    key = key_of(config)
    assert not legacy.exists() and (state / "ledger" / key / "2026-11.json").exists()
    assert json.loads((state / "schedule.json").read_text()) == {
        key: {"day": 5, "since": "2026-10-01"}
    }


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


def test_a_loose_state_dir_is_tightened_and_every_file_is_private(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0 and "tightened it to 0700" in result.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert_private(state)


def assert_private(state: Path) -> None:
    found = list(state.rglob("*"))
    assert len(found) > 3
    for path in found:
        want = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.lstat().st_mode) == want, path


@pytest.mark.parametrize("umask", ["000", "077", "277"])
def test_files_are_private_whatever_the_umask(sim, make_config, password, tmp_path, umask):
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    proc = subprocess.run(
        ["sh", "-c", f'umask {umask}; exec "$0" -m cwpublish -c "$1" publish --yes',
         sys.executable, str(config)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert_private(tmp_path / "state")


def file_parent_config(make_config, tmp_path, url: str, **partner) -> Path:
    (tmp_path / "a-file").write_text("not a directory")
    config = make_config(partners=[partner_config(url, **partner)],
                         usage={f"acme-{date.today():%Y-%m}.csv": USAGE, **NOV})
    text = config.read_text().replace(str(tmp_path / "state"), str(tmp_path / "a-file" / "st"))
    config.write_text(text)
    return config


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


def test_backfilling_an_old_month_keeps_its_ledger_record(
    sim, make_config, password, run, tmp_path
):
    from cwpublish.state.ledger import LEDGER_PERIODS

    year, month = date.today().year, date.today().month
    oy, om = divmod(year * 12 + month - 1 - (LEDGER_PERIODS - 1), 12)
    oldest = f"{oy:04d}-{om + 1:02d}"  # the oldest month a publish may write
    config = make_config(sim.url, usage={f"acme-{oldest}.csv": USAGE})
    folder = tmp_path / "state" / "ledger" / key_of(config)
    folder.mkdir(parents=True)
    for back in range(LEDGER_PERIODS - 1):  # every newer period, up to this month
        y, m = divmod(year * 12 + month - 1 - back, 12)
        (folder / f"{y:04d}-{m + 1:02d}.json").write_text("{}")
    first = run(config, "publish", "--yes", "--month", oldest)
    assert first.exit_code == 0, first.stderr
    assert (folder / f"{oldest}.json").exists()
    assert len(list(folder.glob("*.json"))) == LEDGER_PERIODS
    again = run(config, "publish", "--yes", "--month", oldest)
    assert again.exit_code == 2 and "3 client(s) were already published" in again.stderr
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1


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
