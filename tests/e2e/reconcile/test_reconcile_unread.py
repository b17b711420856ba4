"""`cwpublish reconcile` when ConnectWise no longer holds what was sent (`not_in_connectwise`)
and when it cannot be read at all (an outage: exit 1; the keys refused: exit 12): one line,
no report file, nothing written to ConnectWise."""

from __future__ import annotations

import json

import keyring
import pytest
from freezegun import freeze_time

from conftest import (
    REST_PRIVATE_KEY,
    USAGE,
    rest_data,
    rest_partner_config,
    sim_faults,
    sim_state,
    tenant,
)
from cwpublish.simulator import SimulatorServer

MONTH = "2026-10"
BEFORE = "2026-11-03 15:00:00"


@pytest.fixture
def server():
    s = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    yield s
    s.stop()


def writes(server) -> int:
    return sum(1 for r in sim_state(server)["requests"]
               if r.get("api") != "rest" or r.get("method") not in ("GET", None))


@pytest.fixture
def published(server, make_config, rest_key, run):
    """A configuration-mode partner whose month was published to the simulator."""
    config = make_config(partners=[rest_partner_config(server.url, "configuration")],
                         usage={f"acme-{MONTH}.csv": USAGE})
    with freeze_time(BEFORE):
        assert run(config, "publish", "--yes", "--month", MONTH).exit_code == 0
    return config


def test_a_record_deleted_in_connectwise_is_not_in_connectwise(server, published, run):
    site = server.sim.rest.tenants["acme"]
    site.configurations[:] = [c for c in site.configurations
                              if c["company"]["identifier"] != "CONTOSO-01"]
    before = writes(server)
    with freeze_time(BEFORE):
        result = run(published, "reconcile", "--partner", "acme", "--month", MONTH, "--json")
    assert result.exit_code == 3, result.stderr
    data = json.loads(result.stdout)
    found = {r["managed_id"]: [c["cause"] for c in r["causes"]] for r in data["clients"]}
    assert found == {"LAWSMITH": [], "CONTOSO-01": ["not_in_connectwise"], "NORTHWIND": []}
    contoso = data["clients"][1]
    assert contoso["connectwise_gb"] is None and contoso["connectwise"]
    assert contoso["causes"][0]["detail"] == contoso["connectwise"]
    assert writes(server) == before


@pytest.mark.parametrize(
    ("rule", "code"),
    [({"operation": "GET", "http_status": 503}, 1),  # down from the first call
     ({"operation": "GET /company/configurations", "http_status": 503}, 1),  # mid-read
     ({"operation": "GET", "http_status": 401}, 12),  # the API member refused
     ({"operation": "GET /company/configurations", "http_status": 403}, 12)],  # its role
)
def test_connectwise_unreadable_is_one_line_and_writes_nothing(
    server, published, run, tmp_path, rule, code
):
    sim_faults(server, [rule])
    before = writes(server)
    report = tmp_path / "reconcile.html"
    with freeze_time(BEFORE):
        result = run(published, "reconcile", "--partner", "acme", "--month", MONTH,
                     "--format", "html", "--output", str(report))
    assert result.exit_code == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and REST_PRIVATE_KEY not in result.stderr
    assert result.stdout == ""
    assert not report.exists()
    assert writes(server) == before


def test_a_wrong_private_key_is_exit_12(server, published, run):
    keyring.set_password("cwpublish", "connectwise:acme", "not-the-key")
    with freeze_time(BEFORE):
        result = run(published, "reconcile", "--partner", "acme", "--month", MONTH)
    assert result.exit_code == 12
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not-the-key" not in result.stderr
