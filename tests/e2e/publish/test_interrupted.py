"""Ctrl-C / SIGTERM during a publish leave a true record: the entry is `interrupted`, each
client's real outcome is kept, the ledger holds what ConnectWise accepted, exit 130/143."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import date

import pytest

from conftest import (
    SECRET,
    USAGE,
    partner_config,
    read_history,
    sim_faults,
    soap_requests,
    start_publish,
    wait_for,
)

PERIOD = f"{date.today():%Y-%m}"
# the first update goes through, the second is held in flight until the test replaces the faults
HOLD_SECOND = [{"operation": "UpdateManagedDevices", "delay": 60, "after": 1, "times": 1}]


def wait_for_line(proc, text: str) -> str:
    """Read the process's stderr until a line holds `text` (a condition, not a sleep)."""
    said = ""
    while text not in said:
        line = proc.stderr.readline()
        assert line, said
        said += line
    return said


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_sending_and_records_the_truth(
    sim, make_config, password, tmp_path, signum, code
):
    partner = partner_config(sim.url)
    partner["connectwise"].update({"batch_size": 1, "parallel_requests": 1})
    config = make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": USAGE})
    sim_faults(sim, HOLD_SECOND)
    proc = start_publish(config, "--json")
    wait_for(lambda: soap_requests(sim, "UpdateManagedDevices"))
    proc.send_signal(signum)
    said = wait_for_line(proc, "stopping after the requests in flight")
    sim_faults(sim, [])  # the signal is handled: let the request in flight finish
    out, err = proc.communicate(timeout=30)
    err = said + err
    assert proc.returncode == code, err
    doc = json.loads(out)
    assert doc["exit_code"] == code
    [entry] = doc["entries"]
    assert entry["status"] == "interrupted" and "interrupted by SIG" in entry["error"]
    statuses = [c["status"] for c in entry["clients"]]
    published = {c["managed_id"] for c in entry["clients"] if c["status"] == "published"}
    assert statuses[0] == "published" and "failed" in statuses  # in flight: finished
    assert published == set(sim.sim.state()["configurations"]["acme"])  # the real outcome
    not_sent = [c for c in entry["clients"] if c["status"] == "failed"]
    assert all(c["kind"] == "not-sent" for c in not_sent)
    [recorded] = read_history(tmp_path)
    assert recorded["status"] == "interrupted" and recorded["exit_code"] == code
    [ledger] = (tmp_path / "state" / "ledger").glob(f"*/{PERIOD}.json")
    assert set(json.loads(ledger.read_text())["clients"]) == published
    assert not list((tmp_path / "state" / "runs").glob("*.json"))
    assert SECRET not in out + err


def test_the_rest_is_published_by_the_next_scheduled_run(sim, make_config, password, tmp_path):
    partner = partner_config(sim.url)
    partner["connectwise"].update({"batch_size": 1, "parallel_requests": 1})
    partner["schedule"] = {"day": date.today().day}
    config = make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": USAGE})
    sim_faults(sim, HOLD_SECOND)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cwpublish", "-c", str(config), "publish", "--scheduled"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )
    wait_for(lambda: soap_requests(sim, "UpdateManagedDevices"))
    proc.send_signal(signal.SIGTERM)
    wait_for_line(proc, "stopping after the requests in flight")
    sim_faults(sim, [])
    proc.communicate(timeout=30)
    assert proc.returncode == 143
    first = set(sim.sim.state()["configurations"]["acme"])
    assert 0 < len(first) < 3
    sim_faults(sim, [])
    again = subprocess.run(
        [sys.executable, "-m", "cwpublish", "-c", str(config), "publish", "--scheduled"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert set(sim.sim.state()["configurations"]["acme"]) == {"LAWSMITH", "CONTOSO-01",
                                                                 "NORTHWIND"}
    newest = read_history(tmp_path)[0]
    skipped = {c["managed_id"] for c in newest["clients"] if c["status"] == "skipped"}
    assert skipped == first  # what was accepted is not sent again


THIS = f"{date.today():%Y-%m}"


def test_a_second_sigterm_exits_143_and_the_next_run_closes_the_entry(sim, make_config,
                                                                      password, tmp_path, run):
    partner = partner_config(sim.url)
    partner["connectwise"].update({"batch_size": 1, "parallel_requests": 1})
    config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": USAGE})
    sim_faults(sim, HOLD_SECOND)
    proc = start_publish(config)
    wait_for(lambda: soap_requests(sim, "UpdateManagedDevices"))
    proc.send_signal(signal.SIGTERM)
    # the second only once the first was handled (two at once would be merged)
    wait_for_line(proc, "stopping after the requests in flight")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    sim_faults(sim, [])
    run(config, "publish", "--yes", "--force")
    closed = [e for e in read_history(tmp_path) if e["status"] == "interrupted"]
    assert closed and "killed" in closed[0]["error"]
