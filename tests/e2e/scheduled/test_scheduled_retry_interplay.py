"""Where the invoice guard (issue 18) meets the nightly retries (issue 19): a retry night does
not resend a client whose last automatic try failed as `invoiced` (no email for the same
failure; the last try still says it is NOT published), and counts a client published by hand
since the first try as done. Through the CLI with frozen nights, the simulator over loopback,
real files and a real SMTP server."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time
from helpers import ADDITION_CLIENTS as CLIENTS
from helpers import additions, invoice
from test_scheduled_retries import (
    ALL,
    DOWN,
    NOV,
    automatic,
    night,
    schedule_json,
    scheduled_partner,
    text_of,
)

from conftest import read_history, rest_data, rest_partner_config, sim_faults, soap_requests, tenant
from cwpublish.config.load import load_config
from cwpublish.config.model import state_key
from cwpublish.simulator import SimulatorServer

SCHEDULE = {"day": 5, "timezone": "America/New_York", "catch_up_days": 5}
LAW_ONLY = "client,billable_gb\nLaw Office of R. Smith,1250.456\nNorthwind Traders,87\n"
FULL = LAW_ONLY + "Contoso Dental,310.5\n"


@pytest.fixture
def server():
    s = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    yield s
    s.stop()


def test_an_invoiced_client_is_not_resent_each_night_but_others_are_and_the_last_try_says_so(
    server, make_config, rest_key, run, tmp_path, smtp_server, smtp_password
):
    partner = rest_partner_config(server.url, "agreement_addition", clients=CLIENTS,
                                  schedule=SCHEDULE)
    config = make_config(partners=[partner], usage={"acme-2026-11.csv": LAW_ONLY},
                         smtp=smtp_server.config)
    usage = tmp_path / "usage" / "acme-2026-11.csv"
    assert usage.exists()
    with freeze_time("2026-11-04 15:00:00"):  # before the day: nothing due
        assert run(config, "publish", "--scheduled").exit_code == 0
    with freeze_time("2026-11-07 15:00:00", tick=True):
        invoice(server, "LAWSMITH", "2026-11-06")  # the 5th was missed (machine off)
    first = night(run, config, "2026-11-07 15:00:00")  # catch-up: LAWSMITH's invoice missed
    assert first.exit_code == 1, first.stdout + first.stderr
    rows = {c["managed_id"]: c for c in json.loads(first.stdout)["entries"][0]["clients"]}
    assert rows["LAW-A"]["kind"] == rows["LAW-B"]["kind"] == "invoiced"
    assert rows["CONTOSO-01"]["kind"] == "no-usage"
    key = state_key(load_config(config).partners[0])
    assert schedule_json(tmp_path)[key]["attempted"]["invoiced"] == ["LAW-A", "LAW-B"]
    assert len(smtp_server.messages) == 1

    usage.write_text(FULL)  # Contoso's row arrives: the next night retries Contoso only
    second = night(run, config, "2026-11-08 07:00:00")
    assert second.exit_code == 3, second.stdout + second.stderr
    [entry] = json.loads(second.stdout)["entries"]
    rows = {c["managed_id"]: c for c in entry["clients"]}
    assert rows["CONTOSO-01"]["status"] == "published"
    assert rows["LAW-A"]["status"] == "failed" and rows["LAW-A"]["kind"] == "invoiced"
    assert "not sent again" in rows["LAW-A"]["error"] and "--force" in rows["LAW-A"]["error"]
    assert additions(server) == {"CONTOSO-01": [310.5]}  # nothing written on LAWSMITH's
    assert entry["scheduled_retry"]["next_try"] == "2026-11-09"
    assert len(smtp_server.messages) == 2
    assert "bill it by hand" in text_of(smtp_server.messages[1][2])

    quiet = night(run, config, "2026-11-09 07:00:00")  # only the invoiced failure is left
    assert quiet.exit_code == 0, quiet.stdout + quiet.stderr
    assert json.loads(quiet.stdout)["entries"] == []
    assert len(smtp_server.messages) == 2 and len(read_history(tmp_path)) == 2
    assert additions(server) == {"CONTOSO-01": [310.5]}
    assert schedule_json(tmp_path)[key]["attempted"]["open"] is True

    last = night(run, config, "2026-12-04 07:00:00")  # its last try: said, not sent
    assert last.exit_code == 1, last.stdout + last.stderr
    [entry] = json.loads(last.stdout)["entries"]
    assert entry["scheduled_retry"]["next_try"] is None
    assert {c["managed_id"]: c["kind"] for c in entry["clients"] if c["status"] == "failed"} == {
        "LAW-A": "invoiced", "LAW-B": "invoiced"}
    assert additions(server) == {"CONTOSO-01": [310.5]}
    assert len(smtp_server.messages) == 3
    body = " ".join(text_of(smtp_server.messages[2][2]).split())
    assert "2026-11 is NOT published for 2 clients" in body
    assert f"cwpublish publish --retry {entry['id']} --force" in body


def test_clients_published_by_hand_after_a_failed_night_are_not_sent_again(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    sim_faults(sim, DOWN)
    assert night(run, config, "2026-11-05 07:00:00").exit_code == 1
    sim_faults(sim, [])
    with freeze_time("2026-11-05 15:00:00", tick=True):  # a person publishes one by hand
        manual = run(config, "publish", "--client", "LAWSMITH", "--yes", "--force")
    assert manual.exit_code == 0, manual.stdout + manual.stderr
    sent = len(soap_requests(sim, "UpdateManagedDevices"))
    retried = night(run, config, "2026-11-06 07:00:00")
    assert retried.exit_code == 0, retried.stdout + retried.stderr
    [entry] = json.loads(retried.stdout)["entries"]
    assert {c["managed_id"]: c["status"] for c in entry["clients"]} == {
        "LAWSMITH": "skipped", "CONTOSO-01": "published", "NORTHWIND": "published"}
    [request] = soap_requests(sim, "UpdateManagedDevices")[sent:]
    assert sorted(d["managed_id"] for d in request["devices"]) == ["CONTOSO-01", "NORTHWIND"]
    assert automatic(tmp_path, config, "2026-11") == ALL - {"LAWSMITH"}
    key = state_key(load_config(config).partners[0])
    assert schedule_json(tmp_path)[key]["attempted"]["open"] is False


def test_a_whole_retry_by_hand_closes_the_period(sim, make_config, password, run, tmp_path):
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    sim_faults(sim, DOWN)
    failed = night(run, config, "2026-11-05 07:00:00")
    entry_id = json.loads(failed.stdout)["entries"][0]["id"]
    sim_faults(sim, [])
    with freeze_time("2026-11-05 15:00:00", tick=True):
        manual = run(config, "publish", "--retry", entry_id, "--yes")
    assert manual.exit_code == 0, manual.stdout + manual.stderr
    sent = len(soap_requests(sim, "UpdateManagedDevices"))
    with freeze_time("2026-11-06 07:00:00", tick=True):
        quiet = run(config, "-v", "publish", "--scheduled")
    assert quiet.exit_code == 0 and quiet.stdout == "", quiet.stdout
    assert len(soap_requests(sim, "UpdateManagedDevices")) == sent  # nothing sent again
    assert len(read_history(tmp_path)) == 2
    key = state_key(load_config(config).partners[0])
    assert schedule_json(tmp_path)[key]["attempted"]["open"] is False
