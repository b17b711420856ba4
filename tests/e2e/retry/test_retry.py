"""`cwpublish publish --retry ID`: publishing again exactly what one history entry did not get
into ConnectWise, through the CLI against the simulator; and the advice that names it."""

from __future__ import annotations

import json
from datetime import date

import pytest
from helpers import add_entry, rows, sent_ids

from conftest import (
    CLIENTS,
    USAGE,
    partner_config,
    read_history,
    rest_partner_config,
    soap_requests,
)

TODAY = date.today()


PERIOD = f"{TODAY:%Y-%m}"


LAST = f"{date.fromordinal(TODAY.replace(day=1).toordinal() - 1):%Y-%m}"


NEW = [f"NEW-{i:02d}" for i in range(1, 13)]  # twelve Managed IDs the simulator does not know








def test_twelve_unknown_managed_ids_fixed_in_connectwise_are_retried_by_id(
    sim, make_config, password, run, tmp_path
):
    clients = [dict(c) for c in CLIENTS] + [
        {"name": f"New Client {mid}", "managed_id": mid} for mid in NEW
    ]
    usage = USAGE + "".join(f"New Client {mid},{10 + i}\n" for i, mid in enumerate(NEW))
    config = make_config(
        partners=[partner_config(sim.url, clients=clients)], usage={f"acme-{PERIOD}.csv": usage}
    )
    first = run(config, "publish", "--yes")
    assert first.exit_code == 3, first.stdout + first.stderr
    entry = read_history(tmp_path)[0]
    failed = [c for c in entry["clients"] if c["status"] == "failed"]
    assert sorted(c["managed_id"] for c in failed) == NEW
    assert {c["kind"] for c in failed} == {"unknown-key"}
    assert f"cwpublish publish --retry {entry['id']}" in first.stdout
    assert "--client" not in first.stdout  # one command, however many clients failed

    # fixed in ConnectWise: the twelve Managed IDs now exist
    sim.sim.tenants["acme"]["companies"] += [
        {"name": f"New Client {mid}", "managed_id": mid, "device_type": "Backup Stats"}
        for mid in NEW
    ]
    before = len(soap_requests(sim))
    second = run(config, "publish", "--retry", entry["id"][:6], "--yes", "--json")
    assert second.exit_code == 0, second.stdout + second.stderr
    assert sorted(sent_ids(sim, before)) == NEW  # exactly those twelve, nothing else re-sent
    doc = json.loads(second.stdout)
    assert doc["status"] == "success"
    retried = doc["entries"][0]
    assert retried["period"] == PERIOD and retried["mode"] == "manual"
    assert sorted((c["managed_id"], c["status"]) for c in retried["clients"]) == [
        (mid, "published") for mid in NEW
    ]
    held = sim.sim.state()["configurations"]["acme"]
    assert held["NEW-12"]["billable_space_gb"] == 21.0
    assert read_history(tmp_path)[0]["id"] == retried["id"]


def test_retry_sends_the_unanswered_and_failed_clients_of_a_past_period(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage={f"acme-{LAST}.csv": USAGE})
    entry = add_entry(
        tmp_path,
        sim.url,
        rows(("LAWSMITH", "published", None), ("CONTOSO-01", "unknown", "unknown"),
             ("NORTHWIND", "failed", "rejected")),
        period=LAST,
        status="interrupted",
        exit_code=143,
    )
    result = run(config, "publish", "--retry", entry.id, "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert sorted(sent_ids(sim)) == ["CONTOSO-01", "NORTHWIND"]
    held = sim.sim.state()["configurations"]["acme"]
    year, month = map(int, LAST.split("-"))
    assert (held["NORTHWIND"]["year"], held["NORTHWIND"]["month"]) == (year, month)
    assert read_history(tmp_path)[0]["period"] == LAST


def test_an_entry_with_nothing_left_to_retry_exits_0_and_sends_nothing(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})
    assert run(config, "publish", "--yes").exit_code == 0
    entry = read_history(tmp_path)[0]
    before = len(soap_requests(sim))
    result = run(config, "publish", "--retry", entry["id"], "--yes")
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        f"nothing to retry: every client of {entry['id']} (acme {PERIOD}) reached ConnectWise"
    )
    as_json = run(config, "publish", "--retry", entry["id"], "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["status"] == "nothing-to-retry"
    assert len(soap_requests(sim)) == before and len(read_history(tmp_path)) == 1


@pytest.mark.parametrize(
    "extra",
    [
        ["--partner", "acme"],
        ["--client", "LAWSMITH"],
        ["--month", PERIOD],
        ["--from", PERIOD],
        ["--to", PERIOD],
        ["--scheduled"],
    ],
)
def test_retry_refuses_a_selection_beside_it(sim, make_config, password, run, extra):
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, "publish", "--retry", "abc123", "--yes", *extra)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert f"--retry cannot be combined with {extra[0]}" in result.stderr
    assert soap_requests(sim) == []


def test_an_unknown_or_ambiguous_id_exits_2_naming_it(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})
    failing = rows(("LAWSMITH", "failed", "not-sent"))
    add_entry(tmp_path, sim.url, failing, id="abc111111111")
    add_entry(tmp_path, sim.url, failing, id="abc222222222")
    unknown = run(config, "publish", "--retry", "fff", "--yes")
    assert unknown.exit_code == 2 and "no history entry with ID 'fff'" in unknown.stderr
    ambiguous = run(config, "publish", "--retry", "abc", "--yes", "--json")
    assert ambiguous.exit_code == 2
    error = json.loads(ambiguous.stdout)["error"]
    assert "'abc' is ambiguous" in error and "abc111111111" in error and "abc222222222" in error
    assert soap_requests(sim, "UpdateManagedDevices") == []


def test_a_client_no_longer_configured_is_named_and_skipped(
    sim, make_config, password, run, tmp_path
):
    clients = [c for c in CLIENTS if c["managed_id"] != "NORTHWIND"]
    config = make_config(
        partners=[partner_config(sim.url, clients=clients)], usage={f"acme-{PERIOD}.csv": USAGE}
    )
    entry = add_entry(
        tmp_path, sim.url, rows(("CONTOSO-01", "failed", "rejected"),
                                ("NORTHWIND", "failed", "rejected"))
    )
    result = run(config, "publish", "--retry", entry.id, "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "no longer in the config; skipped: Northwind Traders (NORTHWIND)" in result.stderr
    assert sent_ids(sim) == ["CONTOSO-01"]


def test_retry_dry_run_previews_only_the_clients_left(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})
    entry = add_entry(
        tmp_path,
        sim.url,
        rows(("LAWSMITH", "published", None), ("NORTHWIND", "failed", "rejected")),
    )
    result = run(config, "publish", "--retry", entry.id, "--dry-run", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    preview = json.loads(result.stdout)["entries"][0]
    assert [(c["managed_id"], c["status"]) for c in preview["clients"]] == [
        ("NORTHWIND", "would-publish")
    ]
    assert soap_requests(sim) == [] and len(read_history(tmp_path)) == 1


def test_retry_keeps_the_agreement_addition_period_rule(sim, make_config, rest_key, run, tmp_path):
    partner = rest_partner_config(sim.url, "agreement_addition")
    config = make_config(partners=[partner], usage={f"acme-{LAST}.csv": USAGE})
    entry = add_entry(tmp_path, sim.url, rows(("NORTHWIND", "failed", "not-sent")), period=LAST)
    refused = run(config, "publish", "--retry", entry.id, "--dry-run")
    assert refused.exit_code == 2 and "one quantity, not one per month" in refused.stdout
    assert "newer-held" in refused.stdout
    forced = run(config, "publish", "--retry", entry.id, "--dry-run", "--force", "--json")
    assert forced.exit_code == 0, forced.stdout + forced.stderr
    assert json.loads(forced.stdout)["entries"][0]["period"] == LAST


def test_a_lone_unknown_managed_id_is_advised_as_setup_not_as_an_outage(
    make_config, password, run, tmp_path
):
    from conftest import tenant
    from cwpublish.simulator import SimulatorServer

    known = [
        {"name": c["name"], "managed_id": c["managed_id"], "device_type": "Backup Stats"}
        for c in CLIENTS
        if c["managed_id"] != "CONTOSO-01"
    ]
    server = SimulatorServer({"tenants": [tenant(known)]}).start()
    try:
        config = make_config(server.url, usage={f"acme-{PERIOD}.csv": USAGE})
        result = run(config, "publish", "--client", "CONTOSO-01", "--yes")
    finally:
        server.stop()
    assert result.exit_code == 1  # nothing published: the code stays
    assert "could not be reached" not in result.stdout
    assert "ConnectWise does not know 1 client (CONTOSO-01): set them up" in result.stdout
    entry_id = read_history(tmp_path)[0]["id"]
    assert f"next: Then publish what did not reach ConnectWise: cwpublish publish --retry " \
           f"{entry_id}" in result.stdout


def test_a_usage_row_spelled_differently_is_named_and_not_advised_as_a_retry(
    sim, make_config, password, run, tmp_path
):
    usage = USAGE.replace("Law Office of R. Smith", " law office of  r. smith")
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": usage})
    result = run(config, "publish", "--client", "LAWSMITH", "--yes")
    assert result.exit_code == 2
    error = read_history(tmp_path)[0]["clients"][0]["error"]
    assert error.endswith("(did you mean the row 'law office of  r. smith'?)")
    assert "it probably belongs to client 'Law Office of R. Smith'" in result.stderr
    assert f"No usage row for {PERIOD} for 1 client (LAWSMITH)" in result.stdout
    assert "Then publish what did not reach ConnectWise" not in result.stdout
    assert "Once the usage rows are there: cwpublish publish --retry" in result.stdout
