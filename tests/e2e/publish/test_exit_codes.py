"""Exit codes and --json statuses from one rule across months and partners (issue 19, item 5):
everything published -> 0 success; some client published and something failed -> 3 partial;
nothing published -> 1 (or 12, 2) failed. Through the CLI against the simulator's faults."""

from __future__ import annotations

import json

import keyring
import pytest
from freezegun import freeze_time

from conftest import SECRET, USAGE, partner_config, read_history, sim_faults, tenant
from cwpublish.config.load import load_config
from cwpublish.config.model import state_key
from cwpublish.simulator import SimulatorServer
from cwpublish.state.ledger import Ledger

MONTHS = {
    f"u-2026-{m:02d}.csv": USAGE.replace("1250.456", f"{1000 + m}") for m in (10, 11, 12)
}


@pytest.fixture(autouse=True)
def frozen():
    with freeze_time("2026-12-15 12:00:00", tick=True):
        yield


@pytest.fixture
def two(make_config):
    """Partners acme and beta, each its own company on one simulator; (server, config)."""
    server = SimulatorServer({"tenants": [tenant(company_id=n) for n in ("acme", "beta")]})
    server.start()
    partners = []
    for name in ("acme", "beta"):
        p = partner_config(server.url, name=name, usage={"csv": "usage/u-{year}-{month:02d}.csv"})
        p["connectwise"]["company_id"] = name
        partners.append(p)
    yield server, make_config(partners=partners, usage=MONTHS)
    server.stop()


def passwords(acme: str = SECRET, beta: str = SECRET) -> None:
    keyring.set_password("cwpublish", "connectwise:acme", acme)
    keyring.set_password("cwpublish", "connectwise:beta", beta)


def held(server, company: str) -> dict[str, int]:
    return {k: v["month"] for k, v in server.sim.state()["configurations"].get(company, {}).items()}


def ledger_months(config, name: str) -> list[str]:
    partner = next(p for p in load_config(config).partners if p.name == name)
    folder = Ledger(load_config(config).state_dir).folder / state_key(partner)
    return sorted(p.stem for p in folder.glob("*.json"))


def publish(run, config, *args):
    result = run(config, "publish", "--yes", "--json", *args)
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == result.exit_code
    return result.exit_code, doc


def test_everything_published_across_months_and_partners_is_0(two, run, tmp_path):
    server, config = two
    passwords()
    code, doc = publish(run, config, "--from", "2026-11", "--to", "2026-12")
    assert (code, doc["status"]) == (0, "success")
    assert len(read_history(tmp_path)) == 4
    assert held(server, "acme")["LAWSMITH"] == 12 and held(server, "beta")["LAWSMITH"] == 12
    assert ledger_months(config, "acme") == ["2026-11", "2026-12"]


def test_a_backfill_with_one_month_published_and_one_failed_is_3(two, run, tmp_path):
    server, config = two
    passwords()
    # the third pre-flight (acme's second month, partners in order per month) and later fail
    sim_faults(server, [{"operation": "GetManagementItSetupsName", "after": 1, "http_status": 503}])
    code, doc = publish(run, config, "--partner", "acme", "--from", "2026-10", "--to", "2026-12")
    assert (code, doc["status"]) == (3, "partial")  # January published: never "nothing" (1)
    assert [e["status"] for e in doc["entries"]] == ["success", "failed"]
    assert doc["not_attempted"] == [{"partner": "acme", "period": "2026-12"}]
    assert [(e["period"], e["status"]) for e in read_history(tmp_path)] == [
        ("2026-11", "failed"), ("2026-10", "success")
    ]
    assert ledger_months(config, "acme") == ["2026-10"]
    assert held(server, "acme")["LAWSMITH"] == 10


def test_one_partner_published_one_refused_login_is_3(two, run, tmp_path):
    server, config = two
    passwords(beta="wrong")
    code, doc = publish(run, config)
    assert (code, doc["status"]) == (3, "partial")
    assert {e["partner"]: e["exit_code"] for e in doc["entries"]} == {"acme": 0, "beta": 12}
    assert held(server, "acme") and held(server, "beta") == {}
    assert ledger_months(config, "acme") == ["2026-12"] and ledger_months(config, "beta") == []


def test_nothing_published_is_the_most_severe_failure(two, run, tmp_path):
    server, config = two
    passwords(acme="wrong", beta="wrong")
    code, doc = publish(run, config)
    assert (code, doc["status"]) == (12, "failed")
    sim_faults(server, [{"operation": "GetManagementItSetupsName", "http_status": 503}])
    passwords()
    code, doc = publish(run, config, "--partner", "acme")
    assert (code, doc["status"]) == (1, "failed")
    assert held(server, "acme") == {} and ledger_months(config, "acme") == []
    assert [e["status"] for e in read_history(tmp_path)] == ["failed", "failed", "failed"]


def test_a_backfill_whose_first_month_fails_is_1_with_the_rest_not_attempted(two, run, tmp_path):
    server, config = two
    passwords()
    sim_faults(server, [{"operation": "GetManagementItSetupsName", "http_status": 503}])
    code, doc = publish(run, config, "--partner", "acme", "--from", "2026-11", "--to", "2026-12")
    assert (code, doc["status"]) == (1, "failed")
    assert doc["not_attempted"] == [{"partner": "acme", "period": "2026-12"}]
    assert held(server, "acme") == {}
