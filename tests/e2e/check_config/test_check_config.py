"""check-config: a ✓/!/✗ checklist, offline and --online against the simulator."""

from __future__ import annotations

import json
from datetime import date

import keyring

from conftest import (
    CLIENTS,
    USAGE,
    partner_config,
    tenant,
)
from cwpublish.simulator import SimulatorServer

USAGE_FILE = f"acme-{date.today():%Y-%m}.csv"


def test_offline_checklist_passes_with_warnings(sim, make_config, password, run):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE + "Fabrikam,1\n"})
    result = run(config, "check-config")
    assert result.exit_code == 0, result.stdout
    assert "✓ [acme] integrator password for rcloud is in the keyring" in result.stdout
    assert "! [acme] unmapped usage rows (no client in the config): Fabrikam" in result.stdout
    assert "! [smtp] no smtp section" in result.stdout
    assert sim.sim.state()["request_count"] == 0


def test_short_month_day_warns(sim, make_config, password, run):
    partner = partner_config(sim.url, schedule={"day": 30, "timezone": "Europe/Paris"})
    result = run(make_config(partners=[partner], usage={USAGE_FILE: USAGE}), "check-config")
    assert result.exit_code == 0
    assert "! [config] partners[0].schedule.day: 30 does not exist in every month" in result.stdout
    assert "day: 30 does not exist in every month (1 month(s)" in result.stdout
    assert result.stdout.count("does not exist") == 1  # said once (issue 21)


def test_missing_password_and_usage_fail(sim, make_config, run):
    result = run(make_config(sim.url), "check-config", "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False
    failed = [c["message"] for c in data["checks"] if c["status"] == "fail"]
    assert any("not in the keyring" in m for m in failed)
    assert any("usage file not found" in m for m in failed)


def test_online_verifies_login_and_managed_ids(sim, make_config, password, run):
    partner = partner_config(sim.url)
    partner["clients"].append({"name": "Ghost", "managed_id": "GHOST-1"})
    result = run(
        make_config(partners=[partner], usage={USAGE_FILE: USAGE}), "check-config", "--online"
    )
    assert result.exit_code == 2
    assert "✓ [acme] logged in; Management IT Name 'rCloud Backup' exists" in result.stdout
    assert "✗ [acme] Managed IDs not set up in ConnectWise: Ghost (GHOST-1)" in result.stdout


def test_online_with_wrong_password_exits_12(sim, make_config, run):
    keyring.set_password("cwpublish", "connectwise:acme", "nope")
    result = run(make_config(sim.url, usage={USAGE_FILE: USAGE}), "check-config", "--online")
    assert result.exit_code == 12
    assert "✗ [acme] login: GetManagementItSetupsName: SOAP fault: Login failed" in result.stdout


THIS = f"{date.today():%Y-%m}"


def test_two_partners_on_one_company_cannot_share_a_managed_id(make_config, run):
    a = partner_config("https://cw.example.com", clients=[CLIENTS[0]])
    b = partner_config("https://cw.example.com", name="acme2",
                       clients=[{"name": "Other", "managed_id": CLIENTS[0]["managed_id"]}])
    for p in (a, b):
        p["connectwise"].pop("allow_insecure_http")
    result = run(make_config(partners=[a, b]), "check-config")
    assert result.exit_code == 2
    assert "is also a client of partner 'acme'" in result.stdout


def test_check_config_says_companies(make_config, run, rest_key):
    from conftest import rest_data, rest_partner_config

    server = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    try:
        config = make_config(partners=[rest_partner_config(server.url)])
        (config.parent / "usage").mkdir(exist_ok=True)
        (config.parent / "usage" / f"acme-{THIS}.csv").write_text(USAGE)
        result = run(config, "check-config", "--online")
    finally:
        server.stop()
    assert "all 3 companies exist in ConnectWise" in result.stdout


def test_soap_and_rest_configurations_of_one_company_collide_additions_do_not(make_config, run):
    from conftest import rest_partner_config

    soap = partner_config("https://cw.example.com", clients=[CLIENTS[0]])
    soap["connectwise"].pop("allow_insecure_http")
    for mode, refused in (("configuration", True), ("agreement_addition", False)):
        rest = rest_partner_config("https://cw.example.com", mode, name="cloud",
                                   clients=[{"name": "X", "company": CLIENTS[0]["managed_id"]}])
        rest["connectwise"].pop("allow_insecure_http")
        result = run(make_config(partners=[soap, rest]), "check-config")
        assert ("is also a client of partner 'acme'" in result.stdout) is refused, mode
