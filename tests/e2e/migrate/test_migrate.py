"""`cwpublish migrate --to rest`: a SOAP partner's REST configuration found through the
records SOAP created, proved by publishing over REST to those very records."""

from __future__ import annotations

import json
from datetime import date

import keyring
import pytest

from conftest import (
    CLIENTS,
    REST_CLIENT_ID,
    REST_PRIVATE_KEY,
    USAGE,
    partner_config,
    rest_data,
    tenant,
)
from cwpublish.simulator import SimulatorServer

PERIOD = f"{date.today():%Y-%m}"
MIGRATE = ("migrate", "--partner", "acme", "--to", "rest", "--public-key", "AbC123xYz",
           "--client-id", REST_CLIENT_ID)


@pytest.fixture
def server():
    companies = [  # company identifiers differ from the Managed IDs, as they may in real sites
        {"name": c["name"], "managed_id": c["managed_id"], "identifier": f"CO-{i}",
         "device_type": "Backup Stats"}
        for i, c in enumerate(CLIENTS)
    ] + [{"name": "New Client", "managed_id": "NEWCO", "identifier": "CO-9",
          "device_type": "Backup Stats"}]
    s = SimulatorServer({"tenants": [tenant(companies, rest=rest_data(agreements=[]))]}).start()
    yield s
    s.stop()


def configurations(server) -> dict[str, list[dict]]:
    rest = server.sim.state()["rest"]["acme"]
    return {k: v["configurations"] for k, v in rest.items() if v["configurations"]}


def test_migrate_finds_companies_and_rest_publishes_to_the_soap_records(
    server, make_config, password, run
):
    usage = {f"acme-{PERIOD}.csv": USAGE}
    config = make_config(partners=[partner_config(server.url)], usage=usage)
    published = run(config, "publish", "--yes")
    assert published.exit_code == 0, published.stderr
    soap_made = configurations(server)
    assert sorted(soap_made) == ["CO-0", "CO-1", "CO-2"]
    # a client added since, never published: it cannot be placed
    clients = [*CLIENTS, {"name": "New Client", "managed_id": "NEWCO"}]
    config = make_config(partners=[partner_config(server.url, clients=clients)], usage=usage)
    before = len(server.sim.state()["requests"])

    result = run(config, *MIGRATE, "--json", input=REST_PRIVATE_KEY + "\n")
    assert result.exit_code == 3, result.stderr
    assert REST_PRIVATE_KEY not in result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert {c["managed_id"]: c["company"] for c in doc["clients"]} == {
        "LAWSMITH": "CO-0", "CONTOSO-01": "CO-1", "NORTHWIND": "CO-2", "NEWCO": None}
    assert "rcloud-NEWCO" in doc["clients"][3]["problem"]
    assert doc["unplaced"] == ["New Client"]
    assert doc["connectwise"]["api"] == "rest"
    assert all(r["method"] == "GET" for r in server.sim.state()["requests"][before:]
               if r.get("api") == "rest")  # read-only

    # the printed configuration publishes over REST to the records SOAP created
    placed = [{"name": c["name"], "company": c["company"], "managed_id": c["managed_id"]}
              for c in doc["clients"] if c["company"]]
    rest_partner = {**partner_config(server.url), "clients": placed,
                    "connectwise": {**doc["connectwise"], "retry_backoff": 0.01}}
    changed = USAGE.replace("310.5", "333.25")
    config = make_config(partners=[rest_partner], usage={f"acme-{PERIOD}.csv": changed})
    keyring.set_password("cwpublish", "connectwise:acme", REST_PRIVATE_KEY)
    rest = run(config, "publish", "--yes", "--force", "--json")
    assert rest.exit_code == 0, rest.stderr
    after = configurations(server)
    assert {k: [c["id"] for c in v] for k, v in after.items()} == {
        k: [c["id"] for c in v] for k, v in soap_made.items()}  # same records, none new
    assert after["CO-1"][0]["backupBillableSpaceGb"] == 333.25


def test_migrate_prints_yaml_with_managed_ids_kept(server, make_config, password, run):
    config = make_config(partners=[partner_config(server.url)],
                         usage={f"acme-{PERIOD}.csv": USAGE})
    assert run(config, "publish", "--yes").exit_code == 0
    result = run(config, *MIGRATE, input=REST_PRIVATE_KEY)
    assert result.exit_code == 0, result.stderr
    assert '  api: "rest"' in result.stdout
    assert ('- {name: "Contoso Dental", company: "CO-1", managed_id: "CONTOSO-01"}'
            in result.stdout)
    assert REST_PRIVATE_KEY not in result.stdout + result.stderr


def test_migrate_refuses_wrong_keys_with_exit_12(server, make_config, password, run):
    config = make_config(partners=[partner_config(server.url)])
    result = run(config, *MIGRATE, input="not-the-key")
    assert result.exit_code == 12
    assert "Traceback" not in result.stderr
