"""One publish at a time: a second one exits 11 naming the holder; a dead holder's lock is taken."""

from __future__ import annotations

import json
import os
import signal
from datetime import date

import pytest

from conftest import (
    USAGE,
    read_history,
    sim_faults,
    sim_state,
    soap_requests,
    start_publish,
    wait_for,
)
from cwpublish.state.files import StateDirError
from cwpublish.state.lock import PublishLock

USAGE_FILE = f"acme-{date.today():%Y-%m}.csv"


HOLD = [{"operation": "UpdateManagedDevices", "delay": 60, "times": 1}]  # until released


def test_two_publishes_at_once_exactly_one_publishes(sim, make_config, password, tmp_path):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    sim_faults(sim, HOLD)
    first = start_publish(config)
    # the first holds the lock and is sending once its journal exists: no race on timing
    wait_for(lambda: list((tmp_path / "state" / "runs").glob("*.json")))
    second = start_publish(config)
    assert second.wait(timeout=60) == 11
    stderr = second.stderr.read()
    assert "another publish is running (PID " in stderr and "started 20" in stderr
    sim_faults(sim, [])  # let the held update through
    assert first.wait(timeout=60) == 0, first.stderr.read()
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1


def test_second_publish_names_the_holder(sim, make_config, password, tmp_path):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    sim_faults(sim, HOLD)
    first = start_publish(config)
    wait_for(lambda: list((tmp_path / "state" / "runs").glob("*.json")))
    second = start_publish(config, "--client", "LAWSMITH")
    assert second.wait(timeout=30) == 11
    assert f"PID {first.pid}" in second.stderr.read()
    sim_faults(sim, [])
    assert first.wait(timeout=60) == 0


def test_lock_of_a_killed_publish_is_taken_over_and_the_next_run_completes(
    sim, make_config, password, tmp_path
):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    sim_faults(sim, HOLD)
    victim = start_publish(config)
    # sending has begun once its journal exists (the pre-flight's two calls now overlap, so
    # seeing GetManagedGroup no longer means the update is on its way)
    wait_for(lambda: list((tmp_path / "state" / "runs").glob("*.json")))
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    assert (tmp_path / "state" / "publish.lock").exists()
    sim_faults(sim, [])
    rerun = start_publish(config)
    assert rerun.wait(timeout=60) == 0, rerun.stderr.read()
    entry, killed = read_history(tmp_path)  # nothing half-written; the killed run closed
    assert entry["status"] == "success"
    assert killed["status"] == "interrupted" and "killed" in killed["error"]
    assert {c["status"] for c in killed["clients"]} == {"unknown"}
    assert not list((tmp_path / "state" / "runs").glob("*.json"))  # its journal is gone
    for f in (tmp_path / "state").rglob("*.json"):  # every state file is whole
        json.loads(f.read_text())
    assert not list((tmp_path / "state").rglob(".*.json.*"))  # no temp file left behind
    assert len(sim_state(sim)["configurations"]["acme"]) == 3


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
