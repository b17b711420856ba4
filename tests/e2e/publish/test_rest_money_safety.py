"""The REST transport's money safety, through the CLI against the simulator over loopback: a
create is never repeated blind, still-billing lines count, ConnectWise's lengths are kept, what
was written is checked, and a misbehaving server is stopped within the time budget. Each test
asserts the exit code, `--json`, history, ledger and what the simulator holds."""

from __future__ import annotations

import json
import re
import signal
import time
from datetime import date
from urllib.parse import urlencode

import pytest

from conftest import (
    USAGE,
    read_history,
    rest_data,
    rest_partner_config,
    sim_faults,
    start_publish,
    tenant,
    wait_for,
)
from cwpublish.simulator import SimulatorServer
from cwpublish.state.ledger import Ledger

TODAY = date.today()
PERIOD = f"{TODAY:%Y-%m}"
GB = {"LAWSMITH": 1250.46, "CONTOSO-01": 310.5, "NORTHWIND": 87.0}


@pytest.fixture
def server():
    servers: list[SimulatorServer] = []

    def make(companies=None, **rest) -> SimulatorServer:
        servers.append(
            SimulatorServer({"tenants": [tenant(companies, rest=rest_data(**rest))]}).start()
        )
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


def configure(make_config, url, mode="configuration", clients=None, usage=USAGE, **cw):
    partner = rest_partner_config(url, mode)
    partner["connectwise"].update(cw)
    if clients is not None:
        partner["clients"] = clients
    return make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": usage})


SERVER_NOISE = re.compile(r"-{40}\nException occurred during processing of request.*?-{40}\n",
                          re.S)  # the simulator's own, when a killed client left it a dead socket


def publish(run, config, *args):
    result = run(config, "publish", "--yes", "--json", *args)
    assert "Traceback" not in SERVER_NOISE.sub("", result.stderr)
    return result, json.loads(result.stdout)


def held(sim, what="configurations") -> dict[str, list[dict]]:
    """Company identifier -> its configurations or additions, as the simulator holds them."""
    return {ident: company[what] for ident, company in sim.sim.state()["rest"]["acme"].items()
            if company[what]}


def requests(sim, method: str, path: str = "") -> list[dict]:
    return [r for r in sim.sim.state()["requests"]
            if r.get("api") == "rest" and r["method"] == method and path in r["path"]]


def rows(doc) -> dict[str, dict]:
    return {c["managed_id"]: c for c in doc["entries"][0]["clients"]}


def ledger(tmp_path, managed_id: str) -> dict:
    root = tmp_path / "state" / "ledger"
    if not root.exists():
        return {}
    key = next(p.name for p in root.iterdir())
    found = Ledger(tmp_path / "state").published(key, PERIOD, managed_id)
    return {mode: rec["billable_gb"] for mode, rec in found.items()}


# -- 1. a create is never repeated blind ------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "rule"),
    [
        ("configuration", {"operation": "POST /company/configurations", "lose_answer": True}),
        ("configuration", {"operation": "POST /company/configurations",
                           "store_then_status": 503}),
        ("agreement_addition", {"operation": "POST /finance/agreements", "lose_answer": True}),
        ("agreement_addition", {"operation": "POST /finance/agreements", "bad_id": True}),
    ],
)
def test_a_create_whose_answer_is_lost_is_read_back_and_adopted(
    server, make_config, rest_key, run, tmp_path, mode, rule
):
    sim = server()
    sim_faults(sim, [{**rule, "times": 1}])
    result, doc = publish(run, configure(make_config, sim.url, mode))
    assert result.exit_code == doc["exit_code"] == 0, result.stderr
    what = "configurations" if mode == "configuration" else "additions"
    field = "backupBillableSpaceGb" if what == "configurations" else "quantity"
    assert {k: [x[field] for x in v] for k, v in held(sim, what).items()} == {
        k: [v] for k, v in GB.items()}  # exactly one line each: the lost one adopted
    assert len(requests(sim, "POST")) == 3  # none sent twice
    assert all(r["status"] == "published" for r in rows(doc).values())
    assert read_history(tmp_path)[0]["status"] == "success"
    assert all(ledger(tmp_path, k) == {"manual": v} for k, v in GB.items())


def test_a_create_surely_not_stored_is_sent_again_once(server, make_config, rest_key, run,
                                                       tmp_path):
    sim = server()
    sim_faults(sim, [{"operation": "POST /company/configurations", "http_status": 503,
                      "times": 1}])
    result, doc = publish(run, configure(make_config, sim.url))
    assert result.exit_code == 0, result.stderr
    assert {k: len(v) for k, v in held(sim).items()} == {k: 1 for k in GB}
    posts = requests(sim, "POST")
    assert [p["status"] for p in posts].count(503) == 1 and len(posts) == 4
    # between the refused create and its second sending, the configuration was read back
    refused = next(i for i, r in enumerate(sim.sim.state()["requests"]) if r["status"] == 503)
    after = sim.sim.state()["requests"][refused + 1:]
    assert any(r["method"] == "GET" and "/company/configurations" in r["path"] for r in after)
    assert ledger(tmp_path, "LAWSMITH") == {"manual": 1250.46}


@pytest.mark.parametrize(
    ("read_back", "needle"),
    [
        ([{"id": 7001, "quantity": 1250.46}, {"id": 7002, "quantity": 1250.46}],
         "2 records (ids 7001, 7002); keep one"),
        ([{"id": 7003, "quantity": 3}], "(id 7003) where it holds quantity 3 (sent 1250.46)"),
    ],
)
def test_a_create_lost_with_something_else_read_back_fails_that_client_by_name(
    server, make_config, rest_key, run, tmp_path, read_back, needle
):
    sim = server()
    # LAWSMITH's create is stored and its answer lost; reading back then finds `read_back`
    sim_faults(sim, [
        {"operation": "POST /finance/agreements/300/", "lose_answer": True, "times": 1},
        {"operation": "GET /finance/agreements/300/", "after": 1, "times": 1,
         "content_type": "application/json", "raw": json.dumps(
             [{**a, "product": {"identifier": "RCLOUD-GB"}} for a in read_back])},
    ])
    result, doc = publish(run, configure(make_config, sim.url, "agreement_addition"))
    assert result.exit_code == doc["exit_code"] == 3
    error = rows(doc)["LAWSMITH"]["error"]
    assert error.startswith("the answer to the create was lost (") and needle in error
    assert rows(doc)["LAWSMITH"]["kind"] == "rejected"
    assert [p["status"] for p in requests(sim, "POST", "/300/")] == [0]  # never sent again
    assert ledger(tmp_path, "LAWSMITH") == {} and ledger(tmp_path, "NORTHWIND")
    assert read_history(tmp_path)[0]["status"] == "partial"


def test_a_publish_killed_mid_create_then_retried_leaves_one_line(
    server, make_config, rest_key, tmp_path, run
):
    sim = server()
    config = configure(make_config, sim.url, "agreement_addition", parallel_requests=1)
    sim_faults(sim, [{"operation": "POST /finance/agreements", "delay": 1.0, "times": 1}])
    proc = start_publish(config, "--json")
    # the first create is in the simulator's hands (its rule taken), not yet stored
    wait_for(lambda: sim.sim.state()["faults"][0]["times"] == 0)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    wait_for(lambda: held(sim, "additions"))  # the simulator stored it after all
    before = {k: len(v) for k, v in held(sim, "additions").items()}
    assert sum(before.values()) == 1
    [journal] = (tmp_path / "state" / "runs").glob("*.json")  # the killed run's entry
    result, doc = publish(run, config)  # a re-run: closes the killed one, reads, then writes
    assert result.exit_code == 0, result.stderr
    lines = held(sim, "additions")
    assert {k: [a["quantity"] for a in v] for k, v in lines.items()} == {
        k: [v] for k, v in GB.items()}
    assert len(requests(sim, "POST")) == 3  # the stored one found, not created again
    history = read_history(tmp_path)
    assert history[0]["status"] == "success" and history[1]["status"] == "interrupted"
    assert all(ledger(tmp_path, k) == {"manual": v} for k, v in GB.items())
    # and --retry of the killed run: every line already holds its value, nothing is written
    result, doc = publish(run, config, "--retry", journal.stem, "--force")
    assert result.exit_code == 0, result.stderr
    assert {k: len(v) for k, v in held(sim, "additions").items()} == {k: 1 for k in GB}
    assert len(requests(sim, "POST")) == 3 and requests(sim, "PATCH") == []


# -- 4. still-billing lines count ---------------------------------------------------------------


def test_a_line_cancelled_in_the_future_is_updated_not_doubled(
    server, make_config, rest_key, run, tmp_path
):
    nxt = date(TODAY.year + 1, 1, 1) if TODAY.month == 12 else date(TODAY.year, TODAY.month + 1, 1)
    sim = server(agreements=[
        {"company": "LAWSMITH", "name": "MSA", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 5, "effective_date": "2025-01-01",
                        "cancelled_date": f"{TODAY.year + 1}-06-30", "status": "Cancelled"}]},
        {"company": "CONTOSO-01", "name": "MSA", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 5,
                        "effective_date": f"{TODAY:%Y-%m}-28"}]},  # late in the month: bills it
        {"company": "NORTHWIND", "name": "MSA", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 5, "effective_date": "2025-01-01",
                        "cancelled_date": "2025-06-30", "status": "Cancelled"},
                       {"product": "RCLOUD-GB", "quantity": 7, "effective_date": f"{nxt}"}]},
    ])
    result, doc = publish(run, configure(make_config, sim.url, "agreement_addition"))
    assert result.exit_code == 3, result.stderr
    lines = held(sim, "additions")
    assert [a["quantity"] for a in lines["LAWSMITH"]] == [1250.46]  # still billing: updated
    assert [a["quantity"] for a in lines["CONTOSO-01"]] == [310.5]
    # NORTHWIND: the old line ended and next month's line is not this one's, but a new
    # open-ended line for this month would bill beside it from next month on: refused
    assert sorted(a["quantity"] for a in lines["NORTHWIND"]) == [5, 7]
    assert f"starts {nxt}, after {PERIOD}" in rows(doc)["NORTHWIND"]["error"]
    assert requests(sim, "POST") == []
    assert len(requests(sim, "PATCH")) == 2
    assert read_history(tmp_path)[0]["status"] == "partial"


def test_two_lines_billing_the_period_fail_that_client_naming_them(
    server, make_config, rest_key, run, tmp_path
):
    sim = server(agreements=[
        {"company": "LAWSMITH", "name": "MSA", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 5, "effective_date": "2025-01-01",
                        "cancelled_date": f"{TODAY.year + 1}-01-31"},
                       {"product": "RCLOUD-GB", "quantity": 6, "effective_date": "2025-02-01"}]},
        {"company": "CONTOSO-01", "name": "MSA", "type": "Managed Services"},
        {"company": "NORTHWIND", "name": "MSA", "type": "Managed Services"},
    ])
    result, doc = publish(run, configure(make_config, sim.url, "agreement_addition"))
    assert result.exit_code == 3
    error = rows(doc)["LAWSMITH"]["error"]
    assert "several active 'RCLOUD-GB' additions" in error and "5000, 5001" in error
    assert [a["quantity"] for a in held(sim, "additions")["LAWSMITH"]] == [5, 6]
    assert ledger(tmp_path, "LAWSMITH") == {} and ledger(tmp_path, "NORTHWIND")


def test_a_company_with_a_custom_active_status_is_published(
    server, make_config, rest_key, run, tmp_path
):
    companies = [
        {"name": "Law Office of R. Smith", "managed_id": "LAWSMITH", "status": "Current"},
        {"name": "Contoso Dental", "managed_id": "CONTOSO-01", "status": "Active - Net 15"},
        {"name": "Northwind Traders", "managed_id": "NORTHWIND", "status": "Gone Away"},
    ]
    statuses = [{"name": "Current", "default": True}, {"name": "Active - Net 15"},
                {"name": "Gone Away", "inactive": True}]
    sim = server(companies, company_statuses=statuses)
    config = configure(make_config, sim.url)
    result, doc = publish(run, config)
    assert result.exit_code == 3, result.stderr
    assert rows(doc)["LAWSMITH"]["status"] == rows(doc)["CONTOSO-01"]["status"] == "published"
    assert "company 'NORTHWIND' is inactive (status 'Gone Away')" in rows(doc)["NORTHWIND"][
        "error"]
    assert set(held(sim)) == {"LAWSMITH", "CONTOSO-01"}
    assert ledger(tmp_path, "CONTOSO-01") == {"manual": 310.5}
    # the status list unreadable: judged by name, and said so
    sim_faults(sim, [{"operation": "GET /company/companies/statuses", "http_status": 403}])
    result, doc = publish(run, config, "--force")
    assert result.exit_code == 1
    assert "status list cannot be read" in result.stderr
    assert "/company/companies/statuses" in rows(doc)["LAWSMITH"]["error"]
    assert read_history(tmp_path)[0]["exit_code"] == 1


# -- 5. ConnectWise's lengths -------------------------------------------------------------------


def test_a_120_character_client_name_publishes_with_its_name_cut(
    server, make_config, rest_key, run, tmp_path
):
    long_name = "Law Office of Reginald Smith" + " & Partners" * 8 + " Ltd"
    assert len(long_name) == 120
    sim = server()
    clients = [{"name": long_name, "company": "LAWSMITH"}]
    result, doc = publish(run, configure(make_config, sim.url, clients=clients,
                                         usage=f"client,billable_gb\n{long_name},12.5\n"))
    assert result.exit_code == 0, result.stderr
    [config] = held(sim)["LAWSMITH"]
    assert len(config["name"]) == 100 and config["name"].endswith("…")
    assert config["name"].startswith("rCloud Backup - Law Office of Reginald Smith & Partners")
    assert config["deviceIdentifier"] == "rcloud-LAWSMITH"
    assert ledger(tmp_path, "LAWSMITH") == {"manual": 12.5}


def test_a_managed_id_too_long_for_connectwise_is_a_config_error(make_config, rest_key, run):
    clients = [{"name": "Acme", "company": "LAWSMITH", "managed_id": "M" * 94}]
    result = run(configure(make_config, "http://127.0.0.1:9", clients=clients), "publish",
                 "--yes")
    assert result.exit_code == 2
    assert "partners[0].clients" in result.stderr and "client 'Acme'" in result.stderr
    assert "101 characters" in result.stderr and "Traceback" not in result.stderr


def test_look_ups_of_many_long_identifiers_stay_under_2000_bytes(
    server, make_config, rest_key, run, tmp_path
):
    idents = [f"CLIENT-{i:03d}-" + "Ä" * 14 for i in range(120)]  # 25 characters each
    sim = server([{"name": f"Client {i}", "managed_id": ident}
                  for i, ident in enumerate(idents)], agreements=[])
    clients = [{"name": f"Client {i}", "company": ident} for i, ident in enumerate(idents)]
    usage = "client,billable_gb\n" + "".join(f"Client {i},{i}\n" for i in range(120))
    result, doc = publish(run, configure(make_config, sim.url, clients=clients, usage=usage))
    assert result.exit_code == 0, result.stderr
    assert len(held(sim)) == 120 and ledger(tmp_path, idents[-1]) == {"manual": 119.0}
    for path in ("/company/companies", "/company/configurations"):
        gets = [r for r in requests(sim, "GET", path) if r["path"].endswith(path)]
        assert len(gets) > 2  # 100 a request would have been 2
        assert all(len(urlencode(r["query"])) <= 2000 for r in gets)


# -- 6. what was written is checked; a misbehaving server is stopped ----------------------------


def test_a_patch_connectwise_did_not_keep_fails_and_is_not_recorded(
    server, make_config, rest_key, run, tmp_path
):
    sim = server(configurations=[{"company": "LAWSMITH", "type": "Backup Stats", "name": "old",
                                  "device_identifier": "rcloud-LAWSMITH",
                                  "backup_billable_space_gb": 1, "backup_year": 2026,
                                  "backup_month": 1}])
    sim_faults(sim, [{"operation": "PATCH /company/configurations", "keep_old": True}])
    config = configure(make_config, sim.url)
    result, doc = publish(run, config)
    assert result.exit_code == doc["exit_code"] == 3
    error = rows(doc)["LAWSMITH"]["error"]
    assert "ConnectWise kept backupBillableSpaceGb 1 (sent 1250.46)" in error
    assert rows(doc)["CONTOSO-01"]["status"] == "published"
    assert [c["backupBillableSpaceGb"] for c in held(sim)["LAWSMITH"]] == [1]
    assert ledger(tmp_path, "LAWSMITH") == {}  # not recorded as received
    assert ledger(tmp_path, "CONTOSO-01") == {"manual": 310.5}
    entry = read_history(tmp_path)[0]
    assert entry["status"] == "partial" and entry["exit_code"] == 3


def test_an_endless_pager_is_stopped_cleanly(server, make_config, rest_key, run, tmp_path):
    lines = [{"product": "RCLOUD-GB", "quantity": 1, "effective_date": "2020-01-01",
              "cancelled_date": "2020-01-31"}] * 1000  # a full page of ended lines
    sim = server(agreements=[{"company": "LAWSMITH", "name": "MSA", "type": "Managed Services",
                              "additions": lines}])
    sim_faults(sim, [{"operation": "GET /finance/agreements/300/additions",
                      "ignore_page": True}])
    clients = [{"name": "Law Office of R. Smith", "company": "LAWSMITH"}]
    started = time.monotonic()
    result, doc = publish(run, configure(make_config, sim.url, "agreement_addition",
                                         clients=clients, retry_max_seconds=2))
    assert time.monotonic() - started < 10
    assert result.exit_code == doc["exit_code"] == 1
    assert "ignores `page`" in doc["entries"][0]["error"]
    assert len(requests(sim, "GET", "/additions")) == 2 and requests(sim, "POST") == []
    assert read_history(tmp_path)[0]["exit_code"] == 1 and ledger(tmp_path, "LAWSMITH") == {}


@pytest.mark.parametrize("cloudflare", [False, True])
def test_a_600s_retry_after_ends_within_the_time_budget(
    server, make_config, rest_key, run, tmp_path, cloudflare
):
    sim = server()
    rule = {"operation": "POST /company/configurations", "http_status": 429,
            "retry_after": 600, "times": 1}
    sim_faults(sim, [{**rule, "cloudflare": True} if cloudflare else rule])
    started = time.monotonic()
    result, doc = publish(run, configure(make_config, sim.url, retry_max_seconds=3))
    assert time.monotonic() - started < 3  # neither the refused create nor the others wait
    assert result.exit_code == doc["exit_code"]
    error = doc["entries"][0]["error"]
    assert "HTTP 429" in error and "time budget" in error
    if cloudflare:
        assert "error code: 1015" in error
    # what was answered before the 429 came back landed (2 in flight); the refused one did not
    published = {k for k, c in rows(doc).items() if c["status"] == "published"}
    [refused] = [r for r in requests(sim, "POST") if r["status"] == 429]
    assert refused["body"]["deviceIdentifier"].removeprefix("rcloud-") not in published
    assert len(published) <= 2 and result.exit_code == (3 if published else 1)
    assert set(held(sim)) == published
    assert all(ledger(tmp_path, k) == ({"manual": GB[k]} if k in published else {})
               for k in GB)
    assert read_history(tmp_path)[0]["exit_code"] == result.exit_code


def test_sigterm_ends_a_retry_after_wait_at_once(server, make_config, rest_key, tmp_path):
    sim = server()
    sim_faults(sim, [{"operation": "GET /company/configurations", "http_status": 429,
                      "retry_after": 60, "times": 1}])
    proc = start_publish(configure(make_config, sim.url), "--json")
    wait_for(lambda: requests(sim, "GET", "/company/configurations"))  # 429: now waits 60 s
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert proc.returncode == 143, err
    [entry] = json.loads(out)["entries"]
    assert entry["status"] == "interrupted"
    assert all(c["kind"] == "not-sent" for c in entry["clients"])
    assert requests(sim, "POST") == [] and held(sim) == {}
    assert read_history(tmp_path)[0]["status"] == "interrupted"


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ({"operation": "GET /company/companies", "nest": 200_000}, "nested too deep"),
        # after the configuration type's look-up, the configurations' (one is there)
        ({"operation": "GET /company/configurations", "after": 1, "bad_id": True},
         "id is a string, not a number"),
        ({"operation": "GET /company/configurations", "after": 1, "raw": "{half",
          "content_type": "application/json"}, "invalid JSON"),
        ({"operation": "GET /company/configurations", "after": 1, "raw": '{"id": 1}',
          "content_type": "application/json"}, "an object where a list was due"),
    ],
)
def test_answers_of_the_wrong_shape_fail_cleanly_with_history(
    server, make_config, rest_key, run, tmp_path, rule, needle
):
    sim = server(configurations=[{"company": "LAWSMITH", "type": "Backup Stats", "name": "x",
                                  "device_identifier": "rcloud-LAWSMITH"}])
    sim_faults(sim, [rule])
    result, doc = publish(run, configure(make_config, sim.url))
    assert result.exit_code == doc["exit_code"] == 1
    assert needle in doc["entries"][0]["error"]
    assert f"{rule['operation']}: " in doc["entries"][0]["error"]  # the call is named
    assert requests(sim, "POST") == [] and requests(sim, "PATCH") == []
    entry = read_history(tmp_path)[0]
    assert entry["exit_code"] == 1 and needle in entry["error"]
