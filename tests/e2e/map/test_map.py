"""`cwpublish map`: candidate companies for unmapped usage rows, through the CLI against the
simulator (REST and SOAP), and `--write` into a commented configuration file."""

from __future__ import annotations

import json
from datetime import date

import pytest

from conftest import CLIENTS, USAGE, partner_config, rest_data, rest_partner_config, tenant
from cwpublish.config.load import load_config
from cwpublish.simulator import SimulatorServer

PERIOD = f"{date.today():%Y-%m}"
EXTRA = [  # (name, identifier, status) of companies beside the configured clients'
    ("Fjord Logistics", "FJORD", "Active"),
    ("Fjord Logistic Partners", "FJORDP", "Active"),
    ("Acme Plumbing Ltd", "ACMEPLUMB", "Active"),
    ("Acme Plumbers Supply", "ACMESUP", "Active"),
    ("Café Zürich", "CAFEZ", "Active"),
    ("Partners Smith & Jones", "SJP", "Active"),
    ("Greenleaf Dental", "GREEN1", "Active"),
    ("Greenleaf Dental Ltd.", "GREEN2", "Active"),
    ("Old Mill Bakery", "OLDMILL", "Inactive"),
    ("Zephyrus Laboratories", "ZEPH", "Active"),
]
ROWS = {  # usage name -> (status, chosen)
    "Fjord Logistics, LLC": ("match", "FJORD"),  # legal suffix
    "ACME PLUMBING": ("match", "ACMEPLUMB"),  # case
    "Cafe Zurich GmbH": ("match", "CAFEZ"),  # accents
    "Smith and Jones Partners": ("match", "SJP"),  # word order
    "Greenleaf Dental": ("tie", None),  # two equal candidates: never chosen
    "Zephyr Labs": ("weak", None),
    "Old Mill Bakery": ("none", None),  # its only match is inactive
}
USAGE_ROWS = USAGE + "".join(f'"{n}",12.5\n' for n in ROWS)


def companies() -> list[dict]:
    base = [{"name": c["name"], "managed_id": c["managed_id"], "device_type": "Backup Stats"}
            for c in CLIENTS]
    return base + [{"name": n, "managed_id": i, "status": s, "device_type": "Backup Stats"}
                   for n, i, s in EXTRA]


@pytest.fixture
def rest_sim():
    server = SimulatorServer({"tenants": [tenant(companies(), rest=rest_data())]}).start()
    yield server
    server.stop()


def writes(server) -> list[dict]:
    return [r for r in server.sim.state()["requests"]
            if r.get("api") == "rest" and r["method"] in ("POST", "PATCH", "PUT", "DELETE")]


def rest_config(make_config, url):
    return make_config(partners=[rest_partner_config(url)],
                       usage={f"acme-{PERIOD}.csv": USAGE_ROWS})


def test_map_ranks_variants_first_and_never_chooses_ties_or_weak(
    rest_sim, make_config, rest_key, run
):
    config = rest_config(make_config, rest_sim.url)
    result = run(config, "map", "--partner", "acme", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    got = {r["name"]: (r["status"], r["chosen"]) for r in doc["rows"]}
    assert got == ROWS
    rows = {r["name"]: r for r in doc["rows"]}
    tie = [c["identifier"] for c in rows["Greenleaf Dental"]["candidates"][:2]]
    assert sorted(tie) == ["GREEN1", "GREEN2"]
    assert all(c["identifier"] != "OLDMILL" for r in doc["rows"] for c in r["candidates"])
    assert doc["clients"] == [{"name": n, "company": c} for n, (s, c) in ROWS.items() if c]
    assert writes(rest_sim) == []  # read-only
    assert rest_key not in result.stdout + result.stderr
    text = run(config, "map", "--partner", "acme")
    assert text.exit_code == 0
    assert '- {name: "Fjord Logistics, LLC", company: "FJORD"}' in text.stdout
    assert "# Greenleaf Dental (12.50 GB): TIE, not chosen" in text.stdout


def test_write_keeps_comments_and_the_file_validates(rest_sim, make_config, rest_key, run):
    config = rest_config(make_config, rest_sim.url)
    original = "# acme billing: keep this comment\n" + config.read_text().replace(
        "  clients:\n", "  clients:  # one per backup client\n", 1)
    config.write_text(original)
    result = run(config, "map", "--partner", "acme", "--write", "--yes")
    assert result.exit_code == 0, result.stderr
    after = config.read_text()
    assert after.startswith("# acme billing: keep this comment\n")
    assert "  clients:  # one per backup client\n" in after
    assert config.with_name(config.name + ".bak").read_text() == original
    clients = {c.name: c.company for c in load_config(config).partners[0].clients}
    assert clients["Smith and Jones Partners"] == "SJP"
    assert clients["Cafe Zurich GmbH"] == "CAFEZ"
    assert "Greenleaf Dental" not in clients  # a tie is never written
    again = json.loads(run(config, "map", "--partner", "acme", "--json").stdout)
    assert {r["name"] for r in again["rows"]} == {"Greenleaf Dental", "Zephyr Labs",
                                                   "Old Mill Bakery"}
    assert writes(rest_sim) == []


def test_write_with_no_clear_match_writes_nothing(rest_sim, make_config, rest_key, run):
    config = make_config(partners=[rest_partner_config(rest_sim.url)],
                         usage={f"acme-{PERIOD}.csv": USAGE + "Greenleaf Dental,3\n"})
    before = config.read_text()
    result = run(config, "map", "--partner", "acme", "--write", "--yes")
    assert result.exit_code == 2
    assert "no clear match" in result.stderr
    assert config.read_text() == before
    assert not config.with_name(config.name + ".bak").exists()


def test_soap_lists_managed_ids_no_client_uses(make_config, password, run):
    server = SimulatorServer({"tenants": [tenant(companies())]}).start()
    try:
        config = make_config(partners=[partner_config(server.url)],
                             usage={f"acme-{PERIOD}.csv": USAGE + "Zephyr Labs,4\n"})
        result = run(config, "map", "--partner", "acme", "--json")
    finally:
        server.stop()
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["unused_managed_ids"] == sorted(i for _, i, _ in EXTRA)
    assert doc["unmapped"] == [{"name": "Zephyr Labs", "billable_gb": "4.00"}]


def test_write_in_a_script_without_yes_is_refused(rest_sim, make_config, rest_key, run):
    config = rest_config(make_config, rest_sim.url)
    before = config.read_text()
    result = run(config, "map", "--partner", "acme", "--write")
    assert result.exit_code == 2
    assert "add --yes" in result.stderr
    assert config.read_text() == before
