"""Attacks on the REST money safety of agreement additions (issue 18), through the CLI against
the simulator over loopback, time frozen: answers lost on updates and read-backs, older
periods published after a newer line exists, dry runs, quantities at their edges. Each test
asserts the exit code, `--json`, history, ledger and what the simulator holds."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from conftest import (
    REST_PRIVATE_KEY,
    read_history,
    rest_data,
    rest_partner_config,
    sim_faults,
    sim_state,
    tenant,
)
from cwpublish.simulator import SimulatorServer
from cwpublish.state.ledger import Ledger

NOW = "2026-11-05 15:00:00"
USAGE = "client,billable_gb\nLaw Office of R. Smith,1250.456\nNorthwind Traders,87\n" \
        "Contoso Dental,310.5\n"
CLIENTS = [  # A and B on one company's agreement, C on its own
    {"name": "Law Office of R. Smith", "company": "LAWSMITH", "managed_id": "LAW-A"},
    {"name": "Northwind Traders", "company": "LAWSMITH", "managed_id": "LAW-B"},
    {"name": "Contoso Dental", "company": "CONTOSO-01"},
]


@pytest.fixture
def server():
    servers: list[SimulatorServer] = []

    def make(**rest) -> SimulatorServer:
        servers.append(SimulatorServer({"tenants": [tenant(rest=rest_data(**rest))]}).start())
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


def configure(make_config, url, usage=None, clients=CLIENTS, cw=None, **extra):
    partner = rest_partner_config(url, "agreement_addition", clients=clients, **extra)
    partner["connectwise"].update(cw or {})
    return make_config(partners=[partner], usage=usage or {"acme-2026-11.csv": USAGE})


def publish(run, config, *args, now=NOW):
    with freeze_time(now, tick=True):
        result = run(config, "publish", "--yes", "--json", *args)
    assert "Traceback" not in result.stderr
    assert REST_PRIVATE_KEY not in result.stdout + result.stderr
    return result, json.loads(result.stdout)


def lines(sim) -> dict[str, list[dict]]:
    """Company identifier -> its additions, as the simulator holds them."""
    return {ident: c["additions"] for ident, c in sim_state(sim)["rest"]["acme"].items()
            if c["additions"]}


def quantities(sim) -> dict[str, list[float]]:
    return {k: sorted(a["quantity"] for a in v) for k, v in lines(sim).items()}


def writes(sim, method: str) -> list[dict]:
    return [r for r in sim_state(sim)["requests"]
            if r.get("api") == "rest" and r["method"] == method]


def ledger(tmp_path, managed_id: str, period: str = "2026-11") -> dict:
    root = tmp_path / "state" / "ledger"
    if not root.exists():
        return {}
    key = next(p.name for p in root.iterdir())
    found = Ledger(tmp_path / "state").published(key, period, managed_id)
    return {mode: rec["billable_gb"] for mode, rec in found.items()}


def rows(doc) -> dict[str, dict]:
    return {c["managed_id"]: c for c in doc["entries"][0]["clients"]}


def test_a_lost_answer_to_an_addition_update_is_retried_not_doubled(
    server, make_config, rest_key, run, tmp_path
):
    sim = server(agreements=[
        {"company": "LAWSMITH", "name": "MSA", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 5, "effective_date": "2025-01-01"}]},
        {"company": "CONTOSO-01", "name": "MSA", "type": "Managed Services"},
    ])
    sim_faults(sim, [{"operation": "PATCH /finance/agreements", "lose_answer": True,
                      "times": 1}])
    result, doc = publish(run, configure(make_config, sim.url))
    assert result.exit_code == doc["exit_code"] == 0, result.stderr
    assert quantities(sim) == {"LAWSMITH": [1337.46], "CONTOSO-01": [310.5]}
    assert [p["status"] for p in writes(sim, "PATCH")] == [0, 200]  # lost, then sent again
    assert not [w for w in doc["entries"][0]["warnings"] if "could not read" in w]
    assert all(r["status"] == "published" for r in rows(doc).values())
    assert ledger(tmp_path, "LAW-A") == {"manual": 1250.46}
    assert ledger(tmp_path, "LAW-B") == {"manual": 87.0}


def test_a_create_whose_read_back_fails_too_is_not_counted_and_the_next_run_adopts_it(
    server, make_config, rest_key, run, tmp_path
):
    sim = server(agreements=[{"company": "LAWSMITH", "name": "MSA", "type": "Managed Services"}])
    clients = CLIENTS[:2]
    config = configure(make_config, sim.url, clients=clients)
    sim_faults(sim, [
        {"operation": "POST /finance/agreements", "lose_answer": True, "times": 1},
        # the planning look-up passes; every read-back after the lost create fails
        {"operation": "GET /finance/agreements/300/additions", "after": 1,
         "http_status": 500},
    ])
    result, doc = publish(run, config)
    assert result.exit_code == doc["exit_code"] == 1
    error = doc["entries"][0]["error"]
    assert "reading back whether it was stored failed too" in error
    assert all(c["kind"] == "not-sent" for c in rows(doc).values())
    assert quantities(sim) == {"LAWSMITH": [1337.46]}  # stored after all
    assert ledger(tmp_path, "LAW-A") == {} and ledger(tmp_path, "LAW-B") == {}
    assert read_history(tmp_path)[0]["exit_code"] == 1
    sim_faults(sim, [])
    result, doc = publish(run, config)  # the next run reads before it writes
    assert result.exit_code == 0, result.stderr
    assert quantities(sim) == {"LAWSMITH": [1337.46]}
    assert len(writes(sim, "POST")) == 1 and writes(sim, "PATCH") == []
    assert ledger(tmp_path, "LAW-A") == {"manual": 1250.46}


def test_an_older_period_published_after_a_newer_line_exists_never_adds_a_second_line(
    server, make_config, rest_key, run, tmp_path
):
    """A line created for November (effective 1 November, no end) is not in effect for
    October; creating October's line beside it would bill both from November on."""
    sim = server()
    usage = {"acme-2026-11.csv": USAGE, "acme-2026-10.csv": USAGE.replace("87", "80")}
    config = configure(make_config, sim.url, usage=usage)
    assert publish(run, config)[0].exit_code == 0
    assert quantities(sim) == {"LAWSMITH": [1337.46], "CONTOSO-01": [310.5]}
    result, doc = publish(run, config, "--month", "2026-10", "--force")
    assert quantities(sim) == {"LAWSMITH": [1337.46], "CONTOSO-01": [310.5]}  # one line each
    assert result.exit_code == doc["exit_code"] == 1
    assert len(writes(sim, "POST")) == 2  # only November's
    error = rows(doc)["LAW-A"]["error"]
    assert "starts 2026-11-01, after 2026-10" in error and "(id " in error
    assert rows(doc)["LAW-A"]["kind"] == rows(doc)["CONTOSO-01"]["kind"] == "rejected"
    assert ledger(tmp_path, "LAW-A", "2026-10") == {}
    assert read_history(tmp_path)[0]["status"] == "failed"


def test_a_dry_run_of_a_partial_addition_publish_writes_nothing(
    server, make_config, rest_key, run, tmp_path
):
    sim = server()
    config = configure(make_config, sim.url)
    with freeze_time(NOW, tick=True):
        result = run(config, "publish", "--dry-run", "--json", "--client", "LAW-A")
    assert result.exit_code == 0, result.stderr
    [entry] = json.loads(result.stdout)["entries"]
    assert [c["managed_id"] for c in entry["clients"]] == ["LAW-A"]
    assert {o["managed_id"]: o["source"] for o in entry["summed_with"]} == {
        "LAW-B": "usage", "CONTOSO-01": "usage"}
    assert writes(sim, "POST") == writes(sim, "PATCH") == []
    assert lines(sim) == {} and read_history(tmp_path) == []


@pytest.mark.parametrize(
    ("gb", "total"),
    [
        (("0", "0"), 0.0),  # no usage yet: a line of 0, not a skipped client
        (("0.005", "0.005"), 0.02),  # each rounded half up to 0.01 first, as the ledger has it
        (("999999999999.99", "999999999999.99"), 1999999999999.98),
    ],
)
def test_addition_totals_at_their_edges_are_kept_exactly(
    server, make_config, rest_key, run, tmp_path, gb, total
):
    sim = server(agreements=[{"company": "LAWSMITH", "name": "MSA", "type": "Managed Services"}])
    usage = f"client,billable_gb\nLaw Office of R. Smith,{gb[0]}\nNorthwind Traders,{gb[1]}\n"
    config = configure(make_config, sim.url, usage={"acme-2026-11.csv": usage},
                       clients=CLIENTS[:2])
    result, doc = publish(run, config, "--client", "LAW-A")
    assert result.exit_code == doc["exit_code"] == 0, result.stderr
    assert quantities(sim) == {"LAWSMITH": [total]}
    result, doc = publish(run, config, "--client", "LAW-B")  # the other half: nothing changes
    assert result.exit_code == 0, result.stderr
    assert quantities(sim) == {"LAWSMITH": [total]} and writes(sim, "PATCH") == []


SCHEDULE = {"day": 5, "timezone": "America/New_York", "catch_up_days": 5}
LATE = "2026-11-07 15:00:00"  # two days after acme's day 5 for 2026-11


def late_scheduled_run(run, config):
    """cron ran the day before acme's day 5, the machine was off on it, then this catch-up."""
    with freeze_time("2026-11-04 15:00:00"):
        assert run(config, "publish", "--scheduled").exit_code == 0
    with freeze_time(LATE, tick=True):
        return run(config, "publish", "--scheduled", "--json")


def recap(last: str | None, next_: str | None = None) -> dict:
    """A fault rule answering /finance/agreementrecap with LAWSMITH's agreement (id 300)."""
    body = [{"id": 300, "name": "MSA LAWSMITH", "lastInvoiceDate": last,
             "nextInvoiceDate": next_}]
    return {"operation": "GET /finance/agreementrecap", "raw": json.dumps(body),
            "content_type": "application/json"}


@pytest.mark.parametrize(
    "last",
    ["2026-11-06T00:00:00Z", "2026-11-06T00:00:00", "2026-11-06", "2026-11-06 00:00:00",
     "2026-11-06T00:00:00.000+13:00"],
)
def test_an_invoice_date_in_any_form_connectwise_writes_holds_a_late_run(
    server, make_config, rest_key, run, tmp_path, last
):
    sim = server()
    sim_faults(sim, [recap(last, "2026-12-06T00:00:00Z")])
    config = configure(make_config, sim.url, schedule=SCHEDULE)
    result = late_scheduled_run(run, config)
    assert result.exit_code == 3, result.stdout + result.stderr
    [entry] = json.loads(result.stdout)["entries"]
    kinds = {c["managed_id"]: c["kind"] for c in entry["clients"]}
    assert kinds["LAW-A"] == kinds["LAW-B"] == "invoiced"
    assert "missed the invoice of 2026-11-06" in entry["clients"][0]["error"]
    assert quantities(sim) == {"CONTOSO-01": [310.5]}
    dates = {i["agreement_id"]: i for i in entry["invoices"]}
    assert dates[300]["last_invoice_date"] == "2026-11-06"
    assert dates[300]["next_invoice_date"] == "2026-12-06"


def test_an_unreadable_next_invoice_date_never_lifts_the_hold(
    server, make_config, rest_key, run, tmp_path
):
    sim = server()
    sim_faults(sim, [recap("2026-11-06T00:00:00Z", "12/6/2026")])
    result = late_scheduled_run(run, configure(make_config, sim.url, schedule=SCHEDULE))
    assert result.exit_code == 3, result.stdout + result.stderr
    [entry] = json.loads(result.stdout)["entries"]
    assert {c["managed_id"]: c["kind"] for c in entry["clients"]}["LAW-A"] == "invoiced"
    assert {i["agreement_id"]: i["next_invoice_date"] for i in entry["invoices"]}[300] is None
    assert quantities(sim) == {"CONTOSO-01": [310.5]}


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        (recap("next Tuesday"), "agreement 'MSA LAWSMITH' (id 300): lastInvoiceDate "
         "'next Tuesday' is not a date"),
        # a day and month in either order: never guessed
        (recap("11/6/2026"), "lastInvoiceDate '11/6/2026' is not a date"),
        ({"operation": "GET /finance/agreementrecap", "http_status": 403},
         "agreements' invoice dates (GET /finance/agreementrecap: HTTP 403"),
        ({"operation": "GET /finance/agreementrecap", "http_status": 404},
         "agreements' invoice dates (GET /finance/agreementrecap: HTTP 404"),
    ],
)
def test_invoice_dates_that_cannot_be_read_are_a_warning_never_silent(
    server, make_config, rest_key, run, tmp_path, rule, needle
):
    sim = server()
    sim_faults(sim, [rule])
    config = configure(make_config, sim.url, schedule=SCHEDULE)
    result = late_scheduled_run(run, config)
    assert result.exit_code == 0, result.stdout + result.stderr
    [entry] = json.loads(result.stdout)["entries"]
    [warning] = [w for w in entry["warnings"] if "invoice dates" in w]
    assert warning.startswith("could not read the ") and needle in warning
    assert read_history(tmp_path)[0]["warnings"] == entry["warnings"]
    assert quantities(sim) == {"LAWSMITH": [1337.46], "CONTOSO-01": [310.5]}


def test_a_hostile_server_echoing_the_keys_never_gets_them_printed_or_recorded(
    server, make_config, rest_key, run, tmp_path
):
    import base64

    token = base64.b64encode(f"acme+AbC123xYz:{REST_PRIVATE_KEY}".encode()).decode()
    sim = server(agreements=[{"company": "LAWSMITH", "name": f"MSA {REST_PRIVATE_KEY}",
                              "type": "Managed Services"}])
    sim_faults(sim, [
        {"operation": "POST /finance/agreements/300/", "lose_answer": True, "times": 1},
        {"operation": "GET /finance/agreements/300/", "after": 1, "times": 1,
         "content_type": "application/json", "raw": json.dumps(
             [{"id": 7003, "quantity": f"Basic {token}", "product": {"identifier": "RCLOUD-GB"}}])},
    ])
    config = configure(make_config, sim.url, clients=CLIENTS[:2])
    result, doc = publish(run, config)
    assert result.exit_code == 1, doc  # its only agreement's clients failed
    assert "(id 7003) where it holds quantity" in rows(doc)["LAW-A"]["error"]
    recorded = "".join(p.read_text() for p in (tmp_path / "state").rglob("*") if p.is_file())
    for text in (result.stdout + result.stderr, recorded):
        assert REST_PRIVATE_KEY not in text and token not in text


@pytest.mark.parametrize(
    ("now", "refused"),
    [
        ("2026-11-04 20:00:00", False),  # 09:00 on 5 November in Auckland: the day itself
        ("2026-11-05 20:00:00", True),  # 09:00 on the 6th there, still the 5th in UTC: late
    ],
)
def test_the_invoice_guard_counts_days_in_the_partners_zone(
    server, make_config, rest_key, run, tmp_path, now, refused
):
    sim = server()
    sim_faults(sim, [recap("2026-11-05T00:00:00Z")])
    schedule = {"day": 5, "timezone": "Pacific/Auckland"}
    config = configure(make_config, sim.url, schedule=schedule)
    with freeze_time(now, tick=True):
        result = run(config, "publish", "--yes", "--json")
    doc = json.loads(result.stdout)
    if refused:
        assert result.exit_code == doc["exit_code"] == 2
        assert "invoiced 2026-11-05 (on or after 2026-11-05" in doc["error"]
        assert lines(sim) == {} and read_history(tmp_path) == []
    else:
        assert result.exit_code == 0, result.stdout
        assert quantities(sim) == {"LAWSMITH": [1337.46], "CONTOSO-01": [310.5]}


def test_a_lost_answer_on_the_second_agreement_of_one_company_adopts_only_that_line(
    server, make_config, rest_key, run, tmp_path
):
    sim = server(agreements=[
        {"company": "LAWSMITH", "name": "MSA", "type": "Managed Services"},
        {"company": "LAWSMITH", "name": "Backup", "type": "Managed Services"},
    ])
    clients = [{**CLIENTS[0], "agreement": "MSA"}, {**CLIENTS[1], "agreement": "Backup"}]
    config = configure(make_config, sim.url, clients=clients, cw={"parallel_requests": 1})
    sim_faults(sim, [{"operation": "POST /finance/agreements", "after": 1, "lose_answer": True,
                      "times": 1}])
    result, doc = publish(run, config)
    assert result.exit_code == 0, result.stderr
    held = [(a["agreement_id"], a["quantity"]) for a in lines(sim)["LAWSMITH"]]
    assert sorted(held) == [(300, 1250.46), (301, 87.0)]
    assert [p["status"] for p in writes(sim, "POST")] == [201, 0]
    assert ledger(tmp_path, "LAW-A") == {"manual": 1250.46}
    assert ledger(tmp_path, "LAW-B") == {"manual": 87.0}


def test_a_server_ignoring_conditions_never_gets_another_products_line_or_agreement_written(
    server, make_config, rest_key, run, tmp_path
):
    """The look-ups' `conditions` are the server's to apply; an answer that holds another
    product's line or another type's agreement (conditions ignored, a proxy's cache) must
    not be taken for rCloud's: the seats line keeps its 25, the project agreement is left."""
    seats = {"product": "MSP-SEATS", "quantity": 25, "effective_date": "2025-01-01"}
    sim = server(
        catalog=[{"identifier": "RCLOUD-GB"}, {"identifier": "MSP-SEATS"}],
        agreements=[
            {"company": "LAWSMITH", "name": "MSA", "type": "Managed Services",
             "additions": [seats]},
            {"company": "CONTOSO-01", "name": "Project X", "type": "Project"},
        ])
    state = sim_state(sim)["rest"]["acme"]
    [seat_line] = state["LAWSMITH"]["additions"]
    everything = [{"id": seat_line["id"], "product": {"identifier": "MSP-SEATS"},
                   "quantity": 25, "effectiveDate": "2025-01-01T00:00:00Z"}]
    fields = ("id", "name", "company", "type", "agreementStatus", "cancelledFlag")
    every_agreement = [{k: a[k] for k in fields}
                       for a in sim.sim.rest.tenants["acme"].agreements]
    sim_faults(sim, [
        {"operation": "GET /finance/agreements/300/additions", "times": 1,
         "content_type": "application/json", "raw": json.dumps(everything)},
        {"operation": "GET /finance/agreements", "times": 1,
         "content_type": "application/json", "raw": json.dumps(every_agreement)},
    ])
    result, doc = publish(run, configure(make_config, sim.url))
    assert writes(sim, "PATCH") == []
    assert quantities(sim) == {"LAWSMITH": [25, 1337.46]}  # the seats line untouched
    assert rows(doc)["CONTOSO-01"]["status"] == "failed"
    assert "no active 'Managed Services' agreement" in rows(doc)["CONTOSO-01"]["error"]
    assert result.exit_code == 3


@pytest.mark.parametrize("other", [{"id": 301, "lastInvoiceDate": "6/11/2026"}, None])
def test_one_agreements_unreadable_invoice_date_never_lifts_the_hold_of_another(
    server, make_config, rest_key, run, tmp_path, other
):
    """LAWSMITH's agreement (300) was invoiced after the day; CONTOSO's (301) recap has a date
    that cannot be read, or no recap at all: CONTOSO publishes with a warning naming it,
    LAWSMITH's clients are still held."""
    body = [{"id": 300, "lastInvoiceDate": "2026-11-06T00:00:00Z"}] + ([other] if other else [])
    sim = server()
    sim_faults(sim, [{"operation": "GET /finance/agreementrecap", "raw": json.dumps(body),
                      "content_type": "application/json"}])
    result = late_scheduled_run(run, configure(make_config, sim.url, schedule=SCHEDULE))
    assert result.exit_code == 3, result.stdout + result.stderr
    [entry] = json.loads(result.stdout)["entries"]
    kinds = {c["managed_id"]: c["kind"] for c in entry["clients"]}
    assert kinds == {"LAW-A": "invoiced", "LAW-B": "invoiced", "CONTOSO-01": None}
    assert quantities(sim) == {"CONTOSO-01": [310.5]}
    [warning] = [w for w in entry["warnings"] if "invoice date" in w]
    assert "agreement 'MSA CONTOSO-01' (id 301)" in warning
    assert ("'6/11/2026' is not a date" if other else "no /finance/agreementrecap") in warning
    assert read_history(tmp_path)[0]["warnings"] == entry["warnings"]


def test_a_total_connectwise_did_not_keep_claims_no_summed_clients(
    server, make_config, rest_key, run, tmp_path
):
    sim = server(agreements=[
        {"company": "LAWSMITH", "name": "MSA", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 5, "effective_date": "2025-01-01"}]},
    ])
    config = configure(make_config, sim.url, clients=CLIENTS[:2])
    assert publish(run, config, "--client", "LAW-B")[0].exit_code == 0  # B: 1337.46 in all
    sim_faults(sim, [{"operation": "PATCH /finance/agreements", "keep_old": True}])
    usage = USAGE.replace("1250.456", "1300")
    (tmp_path / "usage" / "acme-2026-11.csv").write_text(usage.replace("Northwind Traders,87\n",
                                                                        ""))
    result, doc = publish(run, config, "--client", "LAW-A", "--force")
    assert result.exit_code == doc["exit_code"] == 1
    assert "ConnectWise kept quantity 1337.46 (sent 1387" in rows(doc)["LAW-A"]["error"]
    [entry] = doc["entries"]
    assert entry["summed_with"] == []  # nothing was written: no total counted B's 87
    assert not [w for w in entry["warnings"] if "last received" in w]
    assert read_history(tmp_path)[0]["summed_with"] == []
    assert quantities(sim) == {"LAWSMITH": [1337.46]}


def test_a_create_the_site_stores_after_its_gateway_gave_up_is_adopted_not_sent_twice(
    server, make_config, rest_key, run, tmp_path
):
    """A 504 from the gateway while ConnectWise is still working: the line appears a moment
    later. The read-back that decides to send again must come after the wait, not before."""
    sim = server(agreements=[{"company": "LAWSMITH", "name": "MSA", "type": "Managed Services"}])
    config = configure(make_config, sim.url, clients=CLIENTS[:2], cw={"retry_backoff": 0.6})
    sim_faults(sim, [{"operation": "POST /finance/agreements", "store_later": 0.1,
                      "times": 1}])
    result, doc = publish(run, config)
    assert result.exit_code == 0, result.stderr
    assert quantities(sim) == {"LAWSMITH": [1337.46]}  # one line, not two
    assert [p["status"] for p in writes(sim, "POST")] == [504]
    assert ledger(tmp_path, "LAW-A") == {"manual": 1250.46}


def test_a_client_whose_company_is_unknown_fails_by_name_and_adds_nothing_to_a_total(
    server, make_config, rest_key, run, tmp_path
):
    sim = server()
    clients = [CLIENTS[0], {**CLIENTS[1], "company": "LAWSMYTH"}, CLIENTS[2]]  # a typo
    result, doc = publish(run, configure(make_config, sim.url, clients=clients))
    assert result.exit_code == doc["exit_code"] == 3
    assert rows(doc)["LAW-B"]["kind"] == "unknown-key"
    assert "company 'LAWSMYTH' not found" in rows(doc)["LAW-B"]["error"]
    assert quantities(sim) == {"LAWSMITH": [1250.46], "CONTOSO-01": [310.5]}
    assert doc["entries"][0]["summed_with"] == []
    assert ledger(tmp_path, "LAW-B") == {} and ledger(tmp_path, "LAW-A") == {"manual": 1250.46}
    # the typo fixed, --retry of B alone writes the whole sum of the company's agreement
    fixed = configure(make_config, sim.url)
    result, doc = publish(run, fixed, "--retry", doc["entries"][0]["id"])
    assert result.exit_code == 0, result.stderr
    assert quantities(sim) == {"LAWSMITH": [1337.46], "CONTOSO-01": [310.5]}
    assert {o["managed_id"]: o["source"] for o in doc["entries"][0]["summed_with"]} == {
        "LAW-A": "usage"}
