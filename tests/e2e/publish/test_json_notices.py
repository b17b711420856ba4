"""Issue 21, item 5/6: under --log-format json the notices cwpublish says outside its log (a dry
run's, an interrupt's) are JSON objects too: every stderr line parses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date

from conftest import USAGE, partner_config, sim_faults, soap_requests, tenant, wait_for
from cwpublish.simulator import SimulatorServer

THIS = f"{date.today():%Y-%m}"


def objects(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines()]


def test_dry_run_notice_is_json(sim, make_config, password, run):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    result = run(config, "--log-format", "json", "publish", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = objects(result.stderr)
    assert [line["message"] for line in lines] == ["Dry run: nothing was sent, nothing recorded."]
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "cwpublish"
    assert soap_requests(sim, "UpdateManagedDevices") == []


def test_interrupt_notice_is_json(make_config, password):
    clients = [{"name": f"Client {i:03d}", "managed_id": f"C{i:03d}"} for i in range(40)]
    server = SimulatorServer(
        {"tenants": [tenant([{**c, "device_type": "Backup Stats"} for c in clients])]}
    ).start()
    try:
        partner = partner_config(server.url, clients=clients)
        partner["connectwise"].update({"batch_size": 10, "parallel_requests": 1})
        usage = "client,billable_gb\n" + "".join(f"{c['name']},1\n" for c in clients)
        config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": usage})
        sim_faults(server, [{"operation": "UpdateManagedDevices", "delay": 0.4}])
        proc = subprocess.Popen(
            [sys.executable, "-m", "cwpublish", "-c", str(config), "--log-format", "json",
             "publish", "--yes"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=os.environ.copy(),
        )
        wait_for(lambda: soap_requests(server, "UpdateManagedDevices"))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130
        lines = objects(err)
        [notice] = [line for line in lines if "SIGINT: stopping" in line["message"]]
        assert notice["level"] == "warning" and not notice["message"].startswith("cwpublish:")
    finally:
        server.stop()
