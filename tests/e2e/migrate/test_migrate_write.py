"""`cwpublish migrate --to rest --write`: the file switched to REST in place (comments kept,
FILE.bak, validated), the private key stored in the same step, and REST then publishing to
the very records SOAP created; refusals write nothing, neither file nor keyring."""

from __future__ import annotations

import json
from datetime import date

import keyring
import pytest

from conftest import (
    CLIENTS,
    REST_CLIENT_ID,
    REST_PRIVATE_KEY,
    SECRET,
    USAGE,
    partner_config,
    rest_data,
    run_in_terminal,
    tenant,
)
from cwpublish.config.load import load_config
from cwpublish.simulator import SimulatorServer

PERIOD = f"{date.today():%Y-%m}"
MIGRATE = ("migrate", "--partner", "acme", "--to", "rest", "--public-key", "AbC123xYz",
           "--client-id", REST_CLIENT_ID)
NEW = {"name": "New Client", "managed_id": "NEWCO"}  # in the config, never published


@pytest.fixture
def server():
    companies = [
        {"name": c["name"], "managed_id": c["managed_id"], "identifier": f"CO-{i}",
         "device_type": "Backup Stats"}
        for i, c in enumerate(CLIENTS)
    ]
    s = SimulatorServer({"tenants": [tenant(companies, rest=rest_data(agreements=[]))]}).start()
    yield s
    s.stop()


def records(server) -> dict[str, list]:
    rest = server.sim.state()["rest"]["acme"]
    return {k: v["configurations"] for k, v in rest.items() if v["configurations"]}


def commented(config) -> str:
    """The config file with a user's comments, as it would be after hand edits."""
    text = "# acme billing: keep this comment\n" + config.read_text().replace(
        "  clients:\n", "  clients:  # one per backup client\n", 1).replace(
        "    retry_backoff: 0.01\n", "    retry_backoff: 0.01  # fast retries\n", 1)
    config.write_text(text)
    return text


def soap_published(server, make_config, run, clients=CLIENTS):
    config = make_config(partners=[partner_config(server.url, clients=[dict(c) for c in clients])],
                         usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0, result.stderr
    return config


def test_write_switches_the_file_and_rest_updates_the_soap_records(
    server, make_config, password, run
):
    config = soap_published(server, make_config, run)
    soap_made = records(server)
    assert sorted(soap_made) == ["CO-0", "CO-1", "CO-2"]
    original = commented(config)

    result = run(config, *MIGRATE, "--write", "--yes", input=REST_PRIVATE_KEY + "\n")
    assert result.exit_code == 0, result.stderr
    assert REST_PRIVATE_KEY not in result.stdout + result.stderr
    assert "Switched partner acme to REST" in result.stderr
    assert "credentials set" not in result.stdout  # the key is stored: nothing left to do
    after = config.read_text()
    assert after.startswith("# acme billing: keep this comment\n")
    assert "  clients:  # one per backup client\n" in after
    assert "    retry_backoff: 0.01  # fast retries\n" in after  # a transport key kept
    assert "integrator_username" not in after
    assert config.with_name(config.name + ".bak").read_text() == original
    assert keyring.get_password("cwpublish", "connectwise:acme") == REST_PRIVATE_KEY
    partner = load_config(config).partners[0]
    assert partner.connectwise.api == "rest"
    assert {c.managed_id: c.company for c in partner.clients} == {
        "LAWSMITH": "CO-0", "CONTOSO-01": "CO-1", "NORTHWIND": "CO-2"}
    checked = run(config, "check-config")
    assert checked.exit_code == 0, checked.stdout + checked.stderr

    (config.parent / "usage" / f"acme-{PERIOD}.csv").write_text(
        USAGE.replace("310.5", "333.25"))
    rest = run(config, "publish", "--yes", "--force", "--json")
    assert rest.exit_code == 0, rest.stderr
    now = records(server)
    assert {k: [c["id"] for c in v] for k, v in now.items()} == {
        k: [c["id"] for c in v] for k, v in soap_made.items()}  # same records, none new
    assert now["CO-1"][0]["backupBillableSpaceGb"] == 333.25


def test_an_unplaced_client_stops_the_write(server, make_config, password, run):
    config = soap_published(server, make_config, run)
    config = make_config(partners=[partner_config(server.url, clients=[*CLIENTS, NEW])],
                         usage={f"acme-{PERIOD}.csv": USAGE})
    before = config.read_text()
    result = run(config, *MIGRATE, "--write", "--yes", "--json", input=REST_PRIVATE_KEY)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["unplaced"] == ["New Client"]
    assert "New Client" in result.stderr and "nothing written" in result.stderr
    assert config.read_text() == before
    assert not config.with_name(config.name + ".bak").exists()
    assert keyring.get_password("cwpublish", "connectwise:acme") == SECRET  # SOAP still works


def test_force_leaves_the_unplaced_client_out_named(server, make_config, password, run):
    soap_published(server, make_config, run)
    config = make_config(partners=[partner_config(server.url, clients=[*CLIENTS, NEW])],
                         usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, *MIGRATE, "--write", "--yes", "--force", input=REST_PRIVATE_KEY)
    assert result.exit_code == 3  # written, but a client is no longer published
    assert "left out (commented out): NEWCO" in result.stderr
    assert "  # - name: New Client\n" in config.read_text()
    names = [c.name for c in load_config(config).partners[0].clients]
    assert names == [c["name"] for c in CLIENTS]
    assert keyring.get_password("cwpublish", "connectwise:acme") == REST_PRIVATE_KEY


def test_write_in_a_script_without_yes_asks_nothing_and_writes_nothing(
    server, make_config, password, run
):
    config = soap_published(server, make_config, run)
    before = config.read_text()
    requests = len(server.sim.state()["requests"])
    result = run(config, *MIGRATE, "--write", input=REST_PRIVATE_KEY)
    assert result.exit_code == 2
    assert "add --yes" in result.stderr
    assert config.read_text() == before
    assert len(server.sim.state()["requests"]) == requests  # refused before any call
    assert keyring.get_password("cwpublish", "connectwise:acme") == SECRET


def test_without_write_it_says_to_store_the_key_after_switching(
    server, make_config, password, run
):
    config = soap_published(server, make_config, run)
    result = run(config, *MIGRATE, input=REST_PRIVATE_KEY)
    assert result.exit_code == 0, result.stderr
    assert "cwpublish credentials set --partner acme" in result.stdout
    assert keyring.get_password("cwpublish", "connectwise:acme") == SECRET


def test_write_answered_no_at_a_terminal_exits_10_and_changes_nothing(
    server, make_config, password, run
):
    config = soap_published(server, make_config, run)
    before = config.read_text()
    code, screen = run_in_terminal("-c", str(config), *MIGRATE, "--write", answers=[
        ("API private key", REST_PRIVATE_KEY), ("Write [y/N]", "n")])
    assert code == 10, screen
    assert "<Write [y/N]>" in screen and "Switch partner acme to REST" in screen
    assert REST_PRIVATE_KEY not in screen  # asked without echo
    assert config.read_text() == before
    assert not config.with_name(config.name + ".bak").exists()
    assert keyring.get_password("cwpublish", "connectwise:acme") == SECRET
