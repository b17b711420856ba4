"""Final-review findings on the nightly run, through the CLI with frozen nights, the simulator
over loopback, real files and a real ping server: a night refuses to send while an earlier
publish is still not recorded (as a manual publish does) and tries again the next night; a
scheduled preview with nothing to send exits as the night would (1, not the manual dry run's
2); a retry night that only holds `invoiced` clients pings `/fail`, never "alive"."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time
from helpers import ADDITION_CLIENTS, additions, invoice
from test_scheduled_retries import NOV, night, schedule_json, scheduled_partner

from conftest import USAGE, partner_config, rest_data, rest_partner_config, soap_requests, tenant
from cwpublish.config.load import load_config
from cwpublish.config.model import state_key
from cwpublish.simulator import SimulatorServer


def _ping_url(ping_server) -> str:
    return f"http://127.0.0.1:{ping_server.server_address[1]}/ping/abc"


def _updates(sim) -> int:
    return len(soap_requests(sim, "UpdateManagedDevices"))


def test_a_night_with_an_earlier_publish_not_recorded_sends_nothing_and_retries_next_night(
    sim, make_config, password, run, tmp_path, ping_server
):
    partner = scheduled_partner(sim.url, ping_url=_ping_url(ping_server))
    config = make_config(partners=[partner], usage=NOV)
    key = state_key(load_config(config).partners[0])
    blocked = tmp_path / "state" / "ledger" / key
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a folder")  # a file where the ledger folder should be
    with freeze_time("2026-11-04 15:00:00", tick=True):  # a manual publish the day before
        manual = run(config, "publish", "--client", "LAWSMITH", "--yes", "--json")
    assert manual.exit_code == 4, manual.stdout + manual.stderr
    sent = _updates(sim)

    refused = night(run, config, "2026-11-05 07:00:00")  # the day: still not recorded
    assert refused.exit_code == 1, refused.stdout + refused.stderr
    doc = json.loads(refused.stdout)
    assert (doc["status"], doc["entries"]) == ("error", [])
    assert "not published: an earlier publish is still not recorded" in refused.stderr
    assert _updates(sim) == sent  # nothing sent blindly
    assert ping_server.paths == ["/ping/abc/1"]  # monitoring sees the failed night
    assert schedule_json(tmp_path)[key]["attempted"]["open"] is True

    blocked.unlink()  # the disk is fixed: the retry night records, then publishes
    retried = night(run, config, "2026-11-06 07:00:00")
    assert retried.exit_code == 0, retried.stdout + retried.stderr
    [entry] = json.loads(retried.stdout)["entries"]
    assert {c["status"] for c in entry["clients"]} == {"published"}
    assert _updates(sim) == sent + 1
    assert schedule_json(tmp_path)[key]["attempted"]["open"] is False
    assert ping_server.paths[-2:] == ["/ping/abc/start", "/ping/abc/0"]


@pytest.mark.parametrize("by_hand, kind, code", [
    ("2026-12", "newer-held", 1),  # every client holds a newer month: a failed night
    (None, "no-usage", 2),  # no usage row for any client: the input's fault, both ways
])
def test_a_scheduled_preview_with_nothing_to_send_exits_as_the_night_does(
    sim, make_config, password, run, by_hand, kind, code
):
    partner = partner_config(
        sim.url, schedule={"day": 5, "timezone": "America/New_York", "period": "previous"}
    )
    usage = {"acme-2026-11.csv": "client,billable_gb\nSomeone Else,12\n"} if kind == \
        "no-usage" else {"acme-2026-11.csv": USAGE, "acme-2026-12.csv": USAGE}
    config = make_config(partners=[partner], usage=usage)
    if by_hand:
        with freeze_time("2026-12-03 15:00:00", tick=True):
            assert run(config, "publish", "--month", by_hand, "--yes").exit_code == 0
    with freeze_time("2026-12-05 07:00:00", tick=True):
        preview = run(config, "publish", "--scheduled", "--dry-run", "--json")
    assert preview.exit_code == code, preview.stdout + preview.stderr
    [entry] = json.loads(preview.stdout)["entries"]
    assert (entry["status"], entry["exit_code"]) == ("failed", code)
    assert {c["kind"] for c in entry["clients"]} == {kind}
    real = night(run, config, "2026-12-05 07:00:00")
    assert real.exit_code == code, real.stdout + real.stderr
    assert json.loads(real.stdout)["entries"][0]["exit_code"] == code


@pytest.fixture
def server():
    s = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    yield s
    s.stop()


def test_a_retry_night_holding_only_invoiced_clients_pings_fail_not_alive(
    server, make_config, rest_key, run, ping_server
):
    schedule = {"day": 5, "timezone": "America/New_York", "catch_up_days": 5,
                "ping_url": _ping_url(ping_server)}
    partner = rest_partner_config(server.url, "agreement_addition", clients=ADDITION_CLIENTS,
                                  schedule=schedule)
    usage = "client,billable_gb\nLaw Office of R. Smith,1250.456\nNorthwind Traders,87\n" \
            "Contoso Dental,310.5\n"
    config = make_config(partners=[partner], usage={"acme-2026-11.csv": usage})
    with freeze_time("2026-11-04 15:00:00"):  # before the day: nothing due, alive
        assert run(config, "publish", "--scheduled").exit_code == 0
    assert ping_server.paths == ["/ping/abc"]
    with freeze_time("2026-11-07 15:00:00", tick=True):
        invoice(server, "LAWSMITH", "2026-11-06")  # the 5th was missed (machine off)
    first = night(run, config, "2026-11-07 15:00:00")  # LAW-A, LAW-B: invoiced
    assert first.exit_code == 3, first.stdout + first.stderr
    assert ping_server.paths[-1] == "/ping/abc/3"

    quiet = night(run, config, "2026-11-08 07:00:00")  # only the invoiced failure is left
    assert quiet.exit_code == 0, quiet.stdout + quiet.stderr
    assert json.loads(quiet.stdout)["entries"] == []
    assert additions(server) == {"CONTOSO-01": [310.5]}
    assert ping_server.paths[-1] == "/ping/abc/fail"  # NOT published: never "alive"
    assert ping_server.paths.count("/ping/abc") == 1  # only the night before the day
