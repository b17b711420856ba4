"""check-config: a ✓/!/✗ checklist, offline and --online against the simulator."""

from __future__ import annotations

import json
from datetime import date

import keyring

from conftest import USAGE, partner_config

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
