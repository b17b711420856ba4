"""An agreement addition's quantity is the sum of all its clients, whatever subset a run
publishes: --client, --retry, the rest of a partial scheduled run, a client without usage.
Through the CLI against the simulator over loopback, time frozen."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from conftest import read_history, rest_data, rest_partner_config, sim_state, tenant
from cwpublish.simulator import SimulatorServer
from cwpublish.state.ledger import Ledger

NOW = "2026-11-05 15:00:00"  # 10:00 in New York: partner acme's day 5
FULL = "client,billable_gb\nLaw Office of R. Smith,1250.456\nNorthwind Traders,87\n" \
       "Contoso Dental,310.5\n"
WITHOUT_B = "client,billable_gb\nLaw Office of R. Smith,1250.456\nContoso Dental,310.5\n"
CLIENTS = [  # A and B on one company's agreement, C on its own
    {"name": "Law Office of R. Smith", "company": "LAWSMITH", "managed_id": "LAW-A"},
    {"name": "Northwind Traders", "company": "LAWSMITH", "managed_id": "LAW-B"},
    {"name": "Contoso Dental", "company": "CONTOSO-01"},
]
STATE_KEY = "acme@127.0.0.1~acme"


@pytest.fixture
def server():
    s = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    yield s
    s.stop()


def config_for(make_config, url: str, usage: str, **extra):
    partner = rest_partner_config(url, "agreement_addition", clients=CLIENTS, **extra)
    return make_config(partners=[partner], usage={"acme-2026-11.csv": usage})


def set_usage(tmp_path, text: str) -> None:
    (tmp_path / "usage" / "acme-2026-11.csv").write_text(text)


def quantity(server, company: str = "LAWSMITH") -> float:
    """The one addition's quantity on the company's agreement, from GET /_sim/state."""
    [addition] = sim_state(server)["rest"]["acme"][company]["additions"]
    return addition["quantity"]


def publish(run, config, *args):
    with freeze_time(NOW, tick=True):
        result = run(config, "publish", "--yes", "--json", *args)
    assert "Traceback" not in result.stderr
    return result, json.loads(result.stdout)


def ledger_gb(tmp_path, managed_id: str) -> dict:
    found = Ledger(tmp_path / "state").published(
        next(p.name for p in (tmp_path / "state" / "ledger").iterdir()), "2026-11", managed_id
    )
    return {mode: rec["billable_gb"] for mode, rec in found.items()}


def summed(entry: dict) -> dict:
    return {o["managed_id"]: (o["billable_gb"], o["source"]) for o in entry["summed_with"]}


def test_client_publish_writes_the_whole_agreement_sum(server, make_config, rest_key, run,
                                                       tmp_path):
    config = config_for(make_config, server.url, FULL)
    result, doc = publish(run, config, "--client", "LAW-A")
    assert result.exit_code == 0, result.stderr
    assert quantity(server) == 1337.46  # A 1250.46 + B 87, not A alone
    [entry] = doc["entries"]
    assert [c["managed_id"] for c in entry["clients"]] == ["LAW-A"]
    assert summed(entry) == {"LAW-B": (87.0, "usage")}
    assert summed(read_history(tmp_path)[0]) == {"LAW-B": (87.0, "usage")}
    assert ledger_gb(tmp_path, "LAW-A") == {"manual": 1250.46}
    assert ledger_gb(tmp_path, "LAW-B") == {}  # only summed: not published by this run


def test_retry_of_one_client_writes_the_whole_sum(server, make_config, rest_key, run, tmp_path):
    config = config_for(make_config, server.url, WITHOUT_B)
    result, doc = publish(run, config)
    assert result.exit_code == 3
    assert quantity(server) == 1250.46  # B has no usage and was never published
    failed = doc["entries"][0]
    assert {c["managed_id"]: c["kind"] for c in failed["clients"]}["LAW-B"] == "no-usage"
    set_usage(tmp_path, FULL)
    result, doc = publish(run, config, "--retry", failed["id"][:6])
    assert result.exit_code == 0, result.stderr
    assert quantity(server) == 1337.46  # B's 87 on top of A's usage, not B's 87 alone
    [entry] = doc["entries"]
    assert [c["managed_id"] for c in entry["clients"]] == ["LAW-B"]
    assert summed(entry) == {"LAW-A": (1250.46, "usage")}
    assert read_history(tmp_path)[0]["id"] == entry["id"]
    assert ledger_gb(tmp_path, "LAW-B") == {"manual": 87.0}


def test_client_without_usage_counts_what_connectwise_last_received(
    server, make_config, rest_key, run, tmp_path
):
    config = config_for(make_config, server.url, FULL)
    assert publish(run, config)[0].exit_code == 0
    assert quantity(server) == 1337.46
    set_usage(tmp_path, WITHOUT_B.replace("1250.456", "1300"))
    result, doc = publish(run, config, "--force")
    assert result.exit_code == 3
    assert quantity(server) == 1387.0  # A's new 1300 + B's 87 from the ledger
    [entry] = doc["entries"]
    assert summed(entry) == {"LAW-B": (87.0, "ledger")}
    assert entry["summed_with"][0]["received_period"] == "2026-11"
    [note] = [w for w in entry["warnings"] if "last received" in w]
    assert "Northwind Traders (87.00 GB, 2026-11)" in note
    assert read_history(tmp_path)[0]["warnings"] == entry["warnings"]
    assert ledger_gb(tmp_path, "LAW-A") == {"manual": 1300.0}
    assert ledger_gb(tmp_path, "LAW-B") == {"manual": 87.0}
    # the dry run names it too, before anything is sent
    with freeze_time(NOW, tick=True):
        dry = run(config, "publish", "--dry-run", "--force", "--client", "LAW-A")
    assert "note: addition totals count the GB ConnectWise last received for 1 client" in (
        dry.stdout)


def test_the_rest_of_a_partial_scheduled_run_writes_the_whole_sum(
    server, make_config, rest_key, run, tmp_path
):
    schedule = {"day": 5, "timezone": "America/New_York"}
    config = config_for(make_config, server.url, WITHOUT_B, schedule=schedule)
    with freeze_time(NOW, tick=True):
        first = run(config, "publish", "--scheduled", "--json")
    assert first.exit_code == 3
    assert quantity(server) == 1250.46
    set_usage(tmp_path, FULL)
    with freeze_time(NOW, tick=True):
        second = run(config, "publish", "--scheduled", "--json")
    assert second.exit_code == 0, second.stderr
    assert quantity(server) == 1337.46  # A (skipped: already published) + B
    [entry] = json.loads(second.stdout)["entries"]
    assert {c["managed_id"]: c["status"] for c in entry["clients"]} == {
        "LAW-A": "skipped", "CONTOSO-01": "skipped", "LAW-B": "published"}
    assert summed(entry) == {"LAW-A": (1250.46, "usage")}
    assert summed(read_history(tmp_path)[0]) == summed(entry)
    assert ledger_gb(tmp_path, "LAW-B") == {"automatic": 87.0}


def test_two_partners_writing_one_addition_are_refused(server, make_config, rest_key, run):
    one = rest_partner_config(server.url, "agreement_addition", clients=CLIENTS[:1])
    other = rest_partner_config(server.url, "agreement_addition", name="beta",
                                clients=[{**CLIENTS[1], "managed_id": "OTHER"}])
    config = make_config(partners=[one, other], usage={"acme-2026-11.csv": FULL})
    for args in (("check-config",), ("publish", "--yes")):
        with freeze_time(NOW):
            result = run(config, *args)
        assert result.exit_code == 2, result.stdout + result.stderr
        out = result.stdout + result.stderr
        assert "company 'LAWSMITH'" in out and "'RCLOUD-GB'" in out and "'acme'" in out
    assert sim_state(server)["requests"] == []


def test_a_publish_false_client_counts_only_once_it_was_published(
    server, make_config, rest_key, run, tmp_path
):
    clients = [dict(c) for c in CLIENTS]
    clients[1]["publish"] = False  # left out on purpose: never billed through A's total
    partner = rest_partner_config(server.url, "agreement_addition", clients=clients)
    config = make_config(partners=[partner], usage={"acme-2026-11.csv": FULL})
    result, doc = publish(run, config)
    assert result.exit_code == 0 and quantity(server) == 1250.46
    assert doc["entries"][0]["summed_with"] == []
    result, doc = publish(run, config, "--client", "LAW-B")  # published deliberately
    assert result.exit_code == 0 and quantity(server) == 1337.46
    set_usage(tmp_path, FULL.replace("1250.456", "1300"))
    result, doc = publish(run, config, "--force")  # now part of the addition: it stays
    assert result.exit_code == 0 and quantity(server) == 1387.0
    assert summed(doc["entries"][0]) == {"LAW-B": (87.0, "usage")}
