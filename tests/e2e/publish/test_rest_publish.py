"""Publishing over the ConnectWise REST API v3.0, end to end through the CLI against the
simulator: both modes, the failures a client can have, the partner-wide ones, and the key."""

from __future__ import annotations

import json
from datetime import date

import pytest

from conftest import (
    CLIENTS,
    REST_PRIVATE_KEY,
    USAGE,
    read_history,
    rest_data,
    rest_partner_config,
    sim_faults,
    tenant,
)
from cwpublish.simulator import SimulatorServer

TODAY = date.today()
PERIOD = f"{TODAY:%Y-%m}"
LAST = f"{date.fromordinal(TODAY.replace(day=1).toordinal() - 1):%Y-%m}"


def start(companies=None, **rest) -> SimulatorServer:
    return SimulatorServer({"tenants": [tenant(companies, rest=rest_data(**rest))]}).start()


@pytest.fixture
def server():
    servers: list[SimulatorServer] = []

    def make(companies=None, **rest) -> SimulatorServer:
        servers.append(start(companies, **rest))
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


def writes(sim) -> list[dict]:
    return [r for r in sim.sim.state()["requests"]
            if r.get("api") == "rest" and r["method"] in ("POST", "PATCH")]


def held(sim, what: str = "configurations") -> dict:
    out = {}
    for ident, company in sim.sim.state()["rest"].get("acme", {}).items():
        for item in company.get(what) or []:
            value = item["backupBillableSpaceGb"] if what == "configurations" else item["quantity"]
            out.setdefault(ident, []).append(value)
    return out


def configure(make_config, url: str, mode: str = "configuration", clients=None, usage=USAGE,
              **cw):
    partner = rest_partner_config(url, mode)
    partner["connectwise"].update(cw)
    if clients is not None:
        partner["clients"] = clients
    return make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": usage})


def publish(run, config, *args):
    result = run(config, "publish", "--yes", "--json", *args)
    assert "Traceback" not in result.stderr
    return result, json.loads(result.stdout)


def assert_no_key(result, tmp_path) -> None:
    assert REST_PRIVATE_KEY not in result.stdout + result.stderr
    for f in (tmp_path / "state").rglob("*"):
        if f.is_file():
            assert REST_PRIVATE_KEY not in f.read_text(errors="replace")


def test_configurations_are_created_updated_and_unchanged_ones_not_sent(
    server, make_config, rest_key, run, tmp_path
):
    sim = server()
    config = configure(make_config, sim.url)
    result, doc = publish(run, config)
    assert result.exit_code == 0, result.stderr
    assert held(sim) == {"LAWSMITH": [1250.46], "CONTOSO-01": [310.5], "NORTHWIND": [87.0]}
    posts = writes(sim)
    assert [w["method"] for w in posts] == ["POST"] * 3
    assert {w["body"]["deviceIdentifier"] for w in posts} == {
        "rcloud-LAWSMITH", "rcloud-CONTOSO-01", "rcloud-NORTHWIND"}
    assert all(w["accept"].endswith("version=2025.1") for w in posts)
    assert read_history(tmp_path)[0]["status"] == "success"
    # the same usage again: nothing to write at all
    result, _ = publish(run, config, "--force")
    assert result.exit_code == 0 and len(writes(sim)) == 3
    # one value changed: one JSON Patch, set (not added)
    changed = USAGE.replace("87", "90.5")
    (tmp_path / "usage" / f"acme-{PERIOD}.csv").write_text(changed)
    result, _ = publish(run, config, "--force")
    [patch] = writes(sim)[3:]
    assert patch["method"] == "PATCH" and patch["path"].endswith(
        f"/company/configurations/{patch['path'].rsplit('/', 1)[-1]}")
    assert {"op": "replace", "path": "backupBillableSpaceGb", "value": 90.5} in patch["body"]
    assert held(sim)["NORTHWIND"] == [90.5]
    assert_no_key(result, tmp_path)


def test_a_soap_era_configuration_is_updated_not_duplicated(server, make_config, rest_key, run):
    sim = server(configurations=[{"company": "LAWSMITH", "type": "Backup Stats", "name": "old",
                                  "device_identifier": "rcloud-LAWSMITH",
                                  "backup_billable_space_gb": 1, "backup_year": 2026,
                                  "backup_month": 1}])
    result, _ = publish(run, configure(make_config, sim.url))
    assert result.exit_code == 0
    assert held(sim)["LAWSMITH"] == [1250.46]
    assert sorted(w["method"] for w in writes(sim)) == ["PATCH", "POST", "POST"]


def test_client_failures_are_named_and_the_rest_published(server, make_config, rest_key, run):
    companies = [
        {"name": "Law Office of R. Smith", "managed_id": "LAWSMITH"},
        {"name": "Contoso Dental", "managed_id": "CONTOSO-01", "status": "Inactive"},
        {"name": "Northwind Traders", "managed_id": "NORTHWIND"},
    ]
    dup = {"company": "NORTHWIND", "type": "Backup Stats", "name": "x",
           "device_identifier": "rcloud-NORTHWIND"}
    sim = server(companies, configurations=[dup, {**dup, "name": "y"}], agreements=[])
    clients = [{"name": c["name"], "company": c["managed_id"]} for c in CLIENTS]
    clients.append({"name": "Fabrikam", "company": "FABRIKAM"})
    result, doc = publish(run, configure(make_config, sim.url, clients=clients,
                                         usage=USAGE + "Fabrikam,3\n"))
    assert result.exit_code == 3
    errors = {c["managed_id"]: c["error"] for c in doc["entries"][0]["clients"]}
    assert errors["LAWSMITH"] is None
    assert "company 'CONTOSO-01' is inactive" in errors["CONTOSO-01"]
    assert "company 'FABRIKAM' not found" in errors["FABRIKAM"]
    assert "several 'Backup Stats' configurations" in errors["NORTHWIND"] and "ids" in errors[
        "NORTHWIND"]
    kinds = {c["managed_id"]: c["kind"] for c in doc["entries"][0]["clients"]}
    assert kinds["FABRIKAM"] == "unknown-key" and kinds["NORTHWIND"] == "rejected"
    assert [w["body"]["deviceIdentifier"] for w in writes(sim)] == ["rcloud-LAWSMITH"]


def test_additions_are_set_summed_per_agreement_and_never_incremented(
    server, make_config, rest_key, run, tmp_path
):
    sim = server(agreements=[
        {"company": "LAWSMITH", "name": "MSA", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 999}]},
        {"company": "CONTOSO-01", "name": "MSA", "type": "Managed Services"},
    ])
    clients = [
        {"name": "Law Office of R. Smith", "company": "LAWSMITH", "managed_id": "LAW-A"},
        {"name": "Northwind Traders", "company": "LAWSMITH", "managed_id": "LAW-B"},
        {"name": "Contoso Dental", "company": "CONTOSO-01"},
    ]
    config = configure(make_config, sim.url, "agreement_addition", clients=clients)
    result, doc = publish(run, config)
    assert result.exit_code == 0, result.stderr
    assert held(sim, "additions") == {"LAWSMITH": [1337.46], "CONTOSO-01": [310.5]}
    rows = {c["managed_id"]: c["billable_gb"] for c in doc["entries"][0]["clients"]}
    assert rows == {"LAW-A": 1250.46, "LAW-B": 87.0, "CONTOSO-01": 310.5}  # each its own row
    post = next(w for w in writes(sim) if w["method"] == "POST")
    assert post["body"]["billCustomer"] == "Billable"
    assert post["body"]["effectiveDate"].startswith(f"{PERIOD}-01")
    result, _ = publish(run, config, "--force")
    assert len(writes(sim)) == 2  # unchanged: nothing sent
    assert_no_key(result, tmp_path)


def test_agreement_problems_fail_the_client_by_name(server, make_config, rest_key, run):
    sim = server(agreements=[
        {"company": "LAWSMITH", "name": "A", "type": "Managed Services"},
        {"company": "LAWSMITH", "name": "B", "type": "Managed Services"},
        {"company": "NORTHWIND", "name": "MSA", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 1},
                       {"product": "RCLOUD-GB", "quantity": 2}]},
    ])
    result, doc = publish(run, configure(make_config, sim.url, "agreement_addition"))
    assert result.exit_code == 1
    errors = {c["managed_id"]: c["error"] for c in doc["entries"][0]["clients"]}
    assert "several active 'Managed Services' agreements" in errors["LAWSMITH"]
    assert "'A' (id" in errors["LAWSMITH"] and "`agreement`" in errors["LAWSMITH"]
    assert "no active 'Managed Services' agreement on company 'CONTOSO-01'" in errors[
        "CONTOSO-01"]
    assert "several active 'RCLOUD-GB' additions" in errors["NORTHWIND"]
    assert writes(sim) == []
    # naming the agreement picks it
    clients = [{"name": c["name"], "company": c["managed_id"]} for c in CLIENTS]
    clients[0]["agreement"] = "b"
    result, doc = publish(run, configure(make_config, sim.url, "agreement_addition",
                                         clients=clients), "--client", "LAWSMITH")
    assert result.exit_code == 0 and held(sim, "additions")["LAWSMITH"] == [1250.46]


def test_addition_mode_publishes_only_the_current_period(server, make_config, rest_key, run,
                                                        tmp_path):
    sim = server()
    config = configure(make_config, sim.url, "agreement_addition")
    (tmp_path / "usage" / f"acme-{LAST}.csv").write_text(USAGE)
    result = run(config, "publish", "--yes", "--month", LAST)
    assert result.exit_code == 2 and "one quantity, not one per month" in result.stderr
    assert writes(sim) == []
    result = run(config, "publish", "--yes", "--month", LAST, "--force")
    assert result.exit_code == 0 and len(writes(sim)) == 3


@pytest.mark.parametrize(
    ("setup", "mode", "needle"),
    [
        ({"private": "wrong"}, "configuration", "API member"),
        ({"configuration_types": ["Server"]}, "configuration", "configuration type 'Backup Stats'"),
        ({"catalog": []}, "agreement_addition", "catalog product 'RCLOUD-GB'"),
        ({"client_ids": ["00000000-0000-0000-0000-000000000000"]}, "configuration", "clientId"),
    ],
)
def test_partner_wide_refusals_exit_12_naming_what_to_fix(
    server, make_config, rest_key, run, tmp_path, setup, mode, needle
):
    private = setup.pop("private", None)
    sim = server(**setup)
    if private:
        import keyring

        keyring.set_password("cwpublish", "connectwise:acme", private)
    result, doc = publish(run, configure(make_config, sim.url, mode))
    assert result.exit_code == doc["exit_code"] == 12
    assert needle in doc["entries"][0]["error"]
    assert writes(sim) == [] and read_history(tmp_path)[0]["exit_code"] == 12
    assert_no_key(result, tmp_path)


def test_429_pauses_and_5xx_is_retried_then_everything_lands(
    server, make_config, rest_key, run, tmp_path
):
    sim = server()
    sim_faults(sim, [
        {"operation": "POST /company/configurations", "http_status": 429, "retry_after": 0,
         "times": 2},
        {"operation": "GET /company/companies", "http_status": 503, "times": 1},
    ])
    result = run(configure(make_config, sim.url), "-v", "publish", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "retrying" in result.stderr
    assert len(held(sim)) == 3
    statuses = [r["status"] for r in sim.sim.state()["requests"] if r.get("api") == "rest"]
    assert statuses.count(429) == 2 and statuses.count(503) == 1
    assert_no_key(result, tmp_path)


def test_check_config_online_lists_every_problem(server, make_config, rest_key, run):
    companies = [{"name": "x", "managed_id": "LAWSMITH"}, {"name": "y", "managed_id": "CONTOSO-01",
                                                              "status": "Inactive"}]
    sim = server(companies, agreements=[])
    result = run(configure(make_config, sim.url, "agreement_addition"), "check-config",
                 "--online", "--json")
    doc = json.loads(result.stdout)
    failed = " | ".join(c["message"] for c in doc["checks"] if c["status"] == "fail")
    assert result.exit_code == 2
    assert "NORTHWIND" in failed and "CONTOSO-01" in failed
    assert "no active 'Managed Services' agreement on company 'LAWSMITH'" in failed


def test_dry_run_shows_the_writes_with_the_key_masked(server, make_config, rest_key, run):
    sim = server()
    result = run(configure(make_config, sim.url), "-v", "publish", "--dry-run")
    assert result.exit_code == 0
    assert "Authorization: Basic ********" in result.stdout and "rcloud-LAWSMITH" in result.stdout
    assert REST_PRIVATE_KEY not in result.stdout and writes(sim) == []


def test_a_429_pauses_every_request_to_the_site(server, make_config, rest_key, run):
    names = [f"Client {i}" for i in range(16)]
    sim = server([{"name": n, "managed_id": f"C{i}"} for i, n in enumerate(names)], agreements=[])
    sim_faults(sim, [{"operation": "POST /company/configurations", "http_status": 429,
                      "retry_after": 0.5, "after": 8, "times": 1}])
    clients = [{"name": n, "company": f"C{i}"} for i, n in enumerate(names)]
    usage = "client,billable_gb\n" + "".join(f"{n},{i}\n" for i, n in enumerate(names))
    config = configure(make_config, sim.url, clients=clients, usage=usage, parallel_requests=2)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0, result.stderr
    posts = [r for r in sim.sim.state()["requests"] if r.get("method") == "POST"]
    assert len([r for r in posts if r["status"] == 201]) == 16
    at = next(i for i, r in enumerate(posts) if r["status"] == 429)
    refused = posts[at]
    again = next(i for i, r in enumerate(posts) if i > at and r["body"] == refused["body"])
    # Told in order, not by the clock (a loaded machine only delays): between the refused
    # create and its retry only the other worker's create already in flight and, after the
    # pause, its next one in turn; without a pause shared by the site, the other worker would
    # have sent its creates all through the refused one's wait.
    assert again - at - 1 <= 2
    assert posts[again]["at"] - refused["at"] >= 0.5  # the retry waited the Retry-After


def test_the_private_key_appears_nowhere(
    server, make_config, rest_key, run, tmp_path, smtp_server, smtp_password
):
    sim = server()
    sim_faults(sim, [{"operation": "GET /company/companies", "http_status": 400,
                      "raw": f"echo {REST_PRIVATE_KEY}", "times": 1}])
    config = configure(make_config, sim.url)
    config.write_text(config.read_text() + "smtp:\n" + "".join(
        f"  {k}: {json.dumps(v)}\n" for k, v in smtp_server.config.items()))
    result = run(config, "-vv", "publish", "--yes")
    assert smtp_server.messages
    for _, _, msg in smtp_server.messages:
        assert REST_PRIVATE_KEY not in msg.as_string()
    assert_no_key(result, tmp_path)
