"""Partners publish concurrently (parallel_partners), yet output, history, ledger and emails
read exactly as a sequential run: per-partner order kept, entries recorded in plan order."""

from __future__ import annotations

import json
from datetime import date

from conftest import SECRET, USAGE, partner_config, read_history, sim_faults, tenant
from cwpublish.simulator import SimulatorServer

PERIOD = f"{date.today():%Y-%m}"
NAMES = ["p1", "p2", "p3", "p4"]


def setup(make_config, parallel: int, **top):
    server = SimulatorServer({"tenants": [tenant(company_id=n) for n in NAMES]}).start()
    partners = []
    for n in NAMES:
        p = partner_config(server.url, name=n, usage={"csv": "usage/u-{year}-{month:02d}.csv"})
        p["connectwise"]["company_id"] = n
        partners.append(p)
    config = make_config(partners=partners, usage={f"u-{PERIOD}.csv": USAGE},
                         parallel_partners=parallel, **top)
    return server, config


def store_passwords() -> None:
    import keyring

    for name in NAMES:  # the real (file) keyring of the test
        keyring.set_password("cwpublish", f"connectwise:{name}", SECRET)


def test_partners_overlap_and_are_recorded_in_order(make_config, run, tmp_path):
    store_passwords()
    server, config = setup(make_config, 4)
    try:
        sim_faults(server, [{"operation": "UpdateManagedDevices", "delay": 0.3}])
        result = run(config, "publish", "--yes", "--json")
        requests = server.sim.state()["requests"]
    finally:
        server.stop()
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [e["partner"] for e in doc["entries"]] == NAMES  # plan order, as sequential
    assert [e["partner"] for e in read_history(tmp_path)] == NAMES[::-1]  # newest first
    updates = sorted(r["at"] for r in requests if r["operation"] == "UpdateManagedDevices")
    # four partners' 0.3 s updates overlapped: all started before the first could finish
    assert updates[-1] - updates[0] < 0.3
    text = run(config, "history").stdout
    assert all(n in text for n in NAMES)


def test_one_at_a_time_when_asked(make_config, run):
    store_passwords()
    server, config = setup(make_config, 1)
    try:
        sim_faults(server, [{"operation": "UpdateManagedDevices", "delay": 0.2}])
        result = run(config, "publish", "--yes")
        updates = sorted(r["at"] for r in server.sim.state()["requests"]
                         if r["operation"] == "UpdateManagedDevices")
    finally:
        server.stop()
    assert result.exit_code == 0
    assert all(b - a >= 0.19 for a, b in zip(updates, updates[1:], strict=False))
