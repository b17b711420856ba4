"""`cwpublish reconcile` through the CLI against the simulator over loopback: it agrees (exit 0)
after a publish, finds each kind of difference with its cause (exit 3), reports the invoice
dates, price, amount, cost and margin, says SOAP cannot be read back, and never writes."""

from __future__ import annotations

import json
import urllib.request

import pytest
from freezegun import freeze_time

from conftest import REST_PRIVATE_KEY, rest_data, rest_partner_config, sim_state, tenant
from cwpublish.simulator import SimulatorServer

USAGE = (
    "client,billable_gb\nLaw Office of R. Smith,1250.456\nContoso Dental,310.5\n"
    "Northwind Traders,87\n"
)
MONTH = "2026-10"
BEFORE = "2026-11-03 15:00:00"  # publish day, before the agreement invoice of the 6th
# Addition mode publishes the current month; the schedule says its day (the 5th): an invoice
# dated on or after it is the one meant to bill it.
CURRENT = "2026-11"
SCHEDULE = {"day": 5, "timezone": "America/New_York", "catch_up_days": 5}
CATALOG = [{"identifier": "RCLOUD-GB", "description": "rCloud backup GB", "price": 0.1}]


@pytest.fixture
def server():
    s = SimulatorServer({"tenants": [tenant(rest=rest_data(catalog=CATALOG))]}).start()
    yield s
    s.stop()


def writes(server) -> int:
    """Every write the simulator counted (REST POST/PATCH/PUT/DELETE, any SOAP call)."""
    return sum(
        1 for r in sim_state(server)["requests"]
        if r.get("api") != "rest" or r.get("method") not in ("GET", None)
    )


def config_for(make_config, url: str, mode: str, month: str = MONTH, **partner):
    p = rest_partner_config(url, mode, **partner)
    return make_config(partners=[p], usage={f"acme-{month}.csv": USAGE})


def reconcile(run, config, month: str = MONTH):
    result = run(config, "reconcile", "--partner", "acme", "--month", month, "--json")
    assert result.exit_code in (0, 3), result.stdout + result.stderr
    return result, json.loads(result.stdout)


def invoice(server, company: str, on: str) -> None:
    [agreement] = [a for a in server.sim.rest.tenants["acme"].agreements
                   if a["company"]["identifier"] == company]
    body = json.dumps({"agreement": agreement["id"], "date": on}).encode()
    request = urllib.request.Request(f"{server.url}/_sim/invoice", data=body, method="POST")
    urllib.request.urlopen(request, timeout=5).close()


def causes(rows: list[dict]) -> dict:
    return {r.get("managed_id") or r["agreement"]: [c["cause"] for c in r["causes"]]
            for r in rows}


def test_configuration_mode_agrees_after_a_publish_then_finds_each_difference(
    server, make_config, rest_key, run, tmp_path
):
    config = config_for(make_config, server.url, "configuration", cost_per_gb=0.02)
    with freeze_time(BEFORE):
        clients = ("--client", "Law Office of R. Smith", "--client", "Contoso Dental")
        assert run(config, "publish", "--yes", "--month", MONTH, *clients).exit_code == 0
        before = writes(server)
        result, data = reconcile(run, config)
    assert result.exit_code == 3  # Northwind was never published
    assert causes(data["clients"]) == {
        "LAWSMITH": [], "CONTOSO-01": [], "NORTHWIND": ["never_published"]}
    law = data["clients"][0]
    assert (law["usage_gb"], law["sent_gb"], law["connectwise_gb"]) == ("1250.46",) * 3
    assert law["sent_by"] == "tester@example.com" and law["cost"] == "25.01"
    with freeze_time(BEFORE):
        assert run(config, "publish", "--yes", "--month", MONTH, "--client",
                   "Northwind Traders").exit_code == 0
        before = writes(server)
        result, data = reconcile(run, config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert data["status"] == "agrees" and writes(server) == before
    # an edit in ConnectWise, and usage that changed after publishing
    [contoso] = [c for c in server.sim.rest.tenants["acme"].configurations
                 if c["deviceIdentifier"] == "rcloud-CONTOSO-01"]
    contoso["backupBillableSpaceGb"] = 999.0
    (tmp_path / "usage" / f"acme-{MONTH}.csv").write_text(
        USAGE.replace("Northwind Traders,87", "Northwind Traders,90"), encoding="utf-8")
    with freeze_time(BEFORE):
        result, data = reconcile(run, config)
        table = run(config, "reconcile", "--partner", "acme", "--month", MONTH)
    assert result.exit_code == table.exit_code == 3
    assert causes(data["clients"]) == {"LAWSMITH": [], "CONTOSO-01": ["edited_in_connectwise"],
                                       "NORTHWIND": ["usage_changed"]}
    assert "edited_in_connectwise: sent 310.50 GB; ConnectWise holds 999.00 GB" in table.stdout
    assert writes(server) == before


def test_addition_mode_reports_price_amount_cost_margin_and_agrees(
    server, make_config, rest_key, run
):
    config = config_for(make_config, server.url, "agreement_addition", CURRENT, schedule=SCHEDULE,
                        cost_per_gb=0.05,
                        clients=[{"name": "Law Office of R. Smith", "company": "LAWSMITH",
                                  "cost_per_gb": 0.04},
                                 {"name": "Contoso Dental", "company": "CONTOSO-01"},
                                 {"name": "Northwind Traders", "company": "NORTHWIND"}])
    with freeze_time(BEFORE):
        published = run(config, "publish", "--yes", "--month", CURRENT)
    assert published.exit_code == 0, published.stderr
    invoice(server, "LAWSMITH", "2026-11-06")  # after the publish: it billed the usage
    before = writes(server)
    with freeze_time("2026-11-08 15:00:00"):
        result, data = reconcile(run, config, CURRENT)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert writes(server) == before
    law = next(a for a in data["agreements"] if a["agreement"] == "MSA LAWSMITH")
    assert law["connectwise_gb"] == law["sent_gb"] == "1250.46"
    assert law["unit_price"] == "0.1" and law["less_included"] == "0.00"
    assert law["next_invoice_amount"] == "125.05"
    assert law["cost"] == "50.02" and law["margin"] == "75.03"  # client cost 0.04/GB
    assert law["last_invoice_date"] == "2026-11-06"
    contoso = next(a for a in data["agreements"] if a["agreement"] == "MSA CONTOSO-01")
    assert contoso["cost"] == "15.53" and contoso["margin"] == "15.52"  # partner 0.05/GB


def test_addition_mode_flags_missed_invoice_below_cost_and_an_edited_quantity(
    server, make_config, rest_key, run
):
    config = config_for(make_config, server.url, "agreement_addition", CURRENT, schedule=SCHEDULE,
                        cost_per_gb=0.2)
    invoice(server, "LAWSMITH", "2026-11-06")  # the day was missed: invoiced without it
    with freeze_time("2026-11-07 15:00:00"):
        assert run(config, "publish", "--yes", "--month", CURRENT, "--force").exit_code == 0
    [addition] = [a for a in server.sim.rest.tenants["acme"].additions
                  if a["quantity"] == 87.0]  # Northwind's, edited by hand
    addition["quantity"] = 50.0
    before = writes(server)
    with freeze_time("2026-11-08 15:00:00"):
        result, data = reconcile(run, config, CURRENT)
    assert result.exit_code == 3
    assert writes(server) == before
    found = causes(data["agreements"])
    assert found["MSA LAWSMITH"] == ["missed_invoice", "below_cost"]
    assert found["MSA NORTHWIND"] == ["edited_in_connectwise", "below_cost"]
    assert found["MSA CONTOSO-01"] == ["below_cost"]
    law = next(a for a in data["agreements"] if a["agreement"] == "MSA LAWSMITH")
    assert law["margin"] == "-125.04"


def test_soap_says_it_cannot_read_back_and_compares_usage_with_the_ledger(
    server, make_config, password, run, tmp_path
):
    config = make_config(server.url, usage={f"acme-{MONTH}.csv": USAGE})
    with freeze_time(BEFORE):
        assert run(config, "publish", "--yes", "--month", MONTH).exit_code == 0
        before = writes(server)
        result, data = reconcile(run, config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert data["read_back"] is False and writes(server) == before
    assert all("cannot be read back over SOAP" in r["connectwise"] for r in data["clients"])
    (tmp_path / "usage" / f"acme-{MONTH}.csv").write_text(
        USAGE.replace("Contoso Dental,310.5", "Contoso Dental,320"), encoding="utf-8")
    with freeze_time(BEFORE):
        result = run(config, "reconcile", "--partner", "acme", "--month", MONTH,
                     "--format", "csv")
    assert result.exit_code == 3
    contoso = next(line for line in result.stdout.splitlines() if "CONTOSO-01" in line)
    assert "usage_changed" in contoso and ",310.50," in contoso


def test_a_bad_cost_per_gb_is_one_line_naming_the_key(make_config, run):
    partner = rest_partner_config("http://127.0.0.1:9", cost_per_gb="cheap")
    config = make_config(partners=[partner])
    result = run(config, "reconcile", "--partner", "acme", "--month", MONTH)
    assert result.exit_code == 2
    assert "partners[0].cost_per_gb: must be a number" in result.stderr
    assert "Traceback" not in result.stderr
    partner = rest_partner_config("http://127.0.0.1:9")
    partner["clients"][1]["cost_per_gb"] = -1
    result = run(make_config(partners=[partner]), "reconcile", "--partner", "acme")
    assert result.exit_code == 2
    assert "partners[0].clients[1].cost_per_gb: must be 0-1000000, got -1" in result.stderr


def test_html_to_a_file_and_the_email_carry_the_causes_and_never_the_key(
    server, make_config, rest_key, run, tmp_path, smtp_server, smtp_password
):
    partner = rest_partner_config(server.url, "configuration")
    config = make_config(partners=[partner], usage={f"acme-{MONTH}.csv": USAGE},
                         smtp=smtp_server.config)
    with freeze_time(BEFORE):
        to_file = run(config, "reconcile", "--partner", "acme", "--month", MONTH,
                      "--format", "html", "--output", str(tmp_path / "r.html"))
        emailed = run(config, "reconcile", "--partner", "acme", "--month", MONTH, "--email")
    assert to_file.exit_code == emailed.exit_code == 3  # nothing published yet
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count("never_published") == 3 and "Law Office of R. Smith" in page
    [(_, recipients, message)] = smtp_server.messages
    assert recipients == ["billing@acme.example"]
    assert "differs" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "never_published: 1250.46 GB in the usage data, nothing sent" in text
    everything = page + text + to_file.stderr + emailed.stderr + emailed.stdout
    assert REST_PRIVATE_KEY not in everything
