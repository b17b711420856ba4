"""`cwpublish publish` end to end: the CLI against the simulator over real HTTP on loopback."""

from __future__ import annotations

from datetime import date

from conftest import (
    CLIENTS,
    SECRET,
    USAGE,
    partner_config,
    read_history,
    sim_faults,
    sim_state,
    soap_requests,
    tenant,
)
from cwpublish.simulator import SimulatorServer

PERIOD = date.today().strftime("%Y-%m")
USAGE_FILE = f"acme-{PERIOD}.csv"


def configured(sim) -> dict:
    return sim_state(sim)["configurations"].get("acme", {})


def test_publish_sends_every_selected_client_and_records_history(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0, result.stderr
    got = configured(sim)
    year, month = map(int, PERIOD.split("-"))
    assert {k: (v["billable_space_gb"], v["year"], v["month"]) for k, v in got.items()} == {
        "LAWSMITH": (1250.46, year, month),
        "CONTOSO-01": (310.5, year, month),
        "NORTHWIND": (87.0, year, month),
    }
    assert got["LAWSMITH"]["device_identifier"] == "rcloud-LAWSMITH"
    assert "published 3 of 3 clients" in result.stdout
    [entry] = read_history(tmp_path)
    assert entry["partner"] == "acme" and entry["mode"] == "manual"
    assert entry["status"] == "success" and entry["exit_code"] == 0
    assert entry["period"] == PERIOD and entry["initiated_by"] == "tester@example.com"
    assert [c["status"] for c in entry["clients"]] == ["published"] * 3
    assert entry["started_at"][-6] in "+-" and entry["finished_at"]
    # one pre-flight, one Managed ID check, one batched update for all three clients
    operations = [r["operation"] for r in soap_requests(sim)]
    # the two pre-flight calls are independent and overlap (one round trip), then the update
    assert sorted(operations[:2]) == ["GetManagedGroup", "GetManagementItSetupsName"]
    assert operations[2:] == ["UpdateManagedDevices"]


def test_client_option_picks_exactly_the_named_clients_including_publish_false(
    sim, make_config, password, run
):
    partner = partner_config(sim.url)
    partner["clients"][1]["publish"] = False
    config = make_config(partners=[partner], usage={USAGE_FILE: USAGE})
    assert run(config, "publish", "--yes").exit_code == 0
    assert set(configured(sim)) == {"LAWSMITH", "NORTHWIND"}
    result = run(config, "publish", "--yes", "--client", "CONTOSO-01")
    assert result.exit_code == 0
    devices = soap_requests(sim, "UpdateManagedDevices")[-1]["devices"]
    assert [d["managed_id"] for d in devices] == ["CONTOSO-01"]


def test_unknown_client_name_is_an_error_and_nothing_is_sent(sim, make_config, password, run):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    result = run(config, "publish", "--yes", "--client", "Nobody Inc")
    assert result.exit_code == 2
    assert "--client: no configured client named 'Nobody Inc'" in result.stderr
    assert soap_requests(sim) == []


def test_client_without_usage_fails_and_is_never_sent_as_zero(
    sim, make_config, password, run, tmp_path
):
    usage = "client,billable_gb\nLaw Office of R. Smith,5\nContoso Dental,6\n"
    config = make_config(sim.url, usage={USAGE_FILE: usage})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 3
    assert f"no usage for {PERIOD}" in result.stdout
    assert "NORTHWIND" not in configured(sim)
    sent = [
        d["managed_id"] for r in soap_requests(sim, "UpdateManagedDevices") for d in r["devices"]
    ]
    assert "NORTHWIND" not in sent
    entry = read_history(tmp_path)[0]
    assert entry["status"] == "partial"
    northwind = next(c for c in entry["clients"] if c["managed_id"] == "NORTHWIND")
    assert northwind["status"] == "failed" and northwind["billable_gb"] is None


def test_unmapped_usage_rows_are_reported_not_dropped(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE + "Fabrikam,42\n"})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0
    assert "'Fabrikam' has no client in the config" in result.stderr
    assert "unmapped" in result.stdout and "Fabrikam" in result.stdout
    assert read_history(tmp_path)[0]["unmapped"] == [{"client": "Fabrikam", "billable_gb": 42.0}]


def test_one_bad_managed_id_fails_only_that_client_and_names_it(
    make_config, password, run, tmp_path
):
    companies = [
        {"name": c["name"], "managed_id": c["managed_id"], "device_type": "Backup Stats"}
        for c in CLIENTS
        if c["managed_id"] != "CONTOSO-01"
    ]
    server = SimulatorServer({"tenants": [tenant(companies)]}).start()
    try:
        config = make_config(server.url, usage={USAGE_FILE: USAGE})
        result = run(config, "publish", "--yes")
        assert result.exit_code == 3
        assert set(configured(server)) == {"LAWSMITH", "NORTHWIND"}
        entry = read_history(tmp_path)[0]
        failed = [c for c in entry["clients"] if c["status"] == "failed"]
        assert [(c["name"], c["managed_id"]) for c in failed] == [("Contoso Dental", "CONTOSO-01")]
        assert "CONTOSO-01" in failed[0]["error"]
    finally:
        server.stop()


def test_batch_error_is_isolated_by_splitting_without_parsing_the_text(
    make_config, password, run, tmp_path
):
    """GetManagedGroup cannot vouch for IDs (fault), and one device has the wrong type."""
    companies = [
        {
            "name": c["name"],
            "managed_id": c["managed_id"],
            "device_type": "Server Stats" if c["managed_id"] == "NORTHWIND" else "Backup Stats",
        }
        for c in CLIENTS
    ]
    server = SimulatorServer({"tenants": [tenant(companies)]}).start()
    try:
        sim_faults(server, [{"operation": "GetManagedGroup", "soap_fault": "not supported"}])
        config = make_config(server.url, usage={USAGE_FILE: USAGE})
        result = run(config, "publish", "--yes")
        assert result.exit_code == 3, result.stdout + result.stderr
        assert "could not verify Managed IDs" in result.stderr
        assert set(configured(server)) == {"LAWSMITH", "CONTOSO-01"}
        assert configured(server)["LAWSMITH"]["billable_space_gb"] == 1250.46
        entry = read_history(tmp_path)[0]
        assert {c["managed_id"]: c["status"] for c in entry["clients"]} == {
            "LAWSMITH": "published",
            "CONTOSO-01": "published",
            "NORTHWIND": "failed",
        }
    finally:
        server.stop()


def test_batches_respect_batch_size(sim, make_config, password, run):
    partner = partner_config(sim.url)
    partner["connectwise"]["batch_size"] = 2
    config = make_config(partners=[partner], usage={USAGE_FILE: USAGE})
    assert run(config, "publish", "--yes").exit_code == 0
    sizes = [len(r["devices"]) for r in soap_requests(sim, "UpdateManagedDevices")]
    assert sorted(sizes) == [1, 2]  # two calls may be in flight at once


def test_rejected_login_exits_12_sends_nothing_and_is_recorded(sim, make_config, run, tmp_path):
    import keyring

    keyring.set_password("cwpublish", "connectwise:acme", "wrong-password")
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 12
    assert "rejected the login" in result.stdout
    assert soap_requests(sim, "UpdateManagedDevices") == []
    entry = read_history(tmp_path)[0]
    assert entry["status"] == "failed" and entry["exit_code"] == 12
    assert "wrong-password" not in str(entry)


def test_unknown_management_it_name_exits_12(sim, make_config, password, run):
    partner = partner_config(sim.url)
    partner["connectwise"]["management_it_name"] = "Wrong Name"
    config = make_config(partners=[partner], usage={USAGE_FILE: USAGE})
    assert run(config, "publish", "--yes").exit_code == 12


def test_http_401_on_preflight_exits_12(sim, make_config, password, run):
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "http_status": 401}])
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    assert run(config, "publish", "--yes").exit_code == 12


def test_connectwise_unreachable_exits_1_and_records_failure(make_config, password, run, tmp_path):
    config = make_config("http://127.0.0.1:9", usage={USAGE_FILE: USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 1
    assert "127.0.0.1 refused the connection" in result.stdout
    entry = read_history(tmp_path)[0]
    assert entry["status"] == "failed" and entry["exit_code"] == 1


def test_http_503_on_update_fails_all_clients_exit_1(sim, make_config, password, run):
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "http_status": 503}])
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 1
    assert "HTTP 503" in result.stdout
    assert configured(sim) == {}


def test_missing_password_exits_2_with_the_fix(sim, make_config, run):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2
    assert "cwpublish credentials set --partner acme" in result.stdout
    assert soap_requests(sim) == []


def test_missing_usage_file_exits_2_naming_the_file(sim, make_config, password, run):
    config = make_config(sim.url)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2
    assert f"usage/{USAGE_FILE}: usage file not found for {PERIOD}" in result.stdout
    assert soap_requests(sim) == []


def test_bad_usage_row_exits_2_naming_the_row_and_sends_nothing(sim, make_config, password, run):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE + "Fabrikam,lots\n"})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2
    assert f"{USAGE_FILE}: row 5: billable_gb must be a number, got 'lots'" in result.stdout
    assert soap_requests(sim) == []
    assert "Traceback" not in result.stdout + result.stderr


def test_month_option_publishes_that_period(sim, make_config, password, run):
    config = make_config(sim.url, usage={"acme-2025-12.csv": USAGE})
    result = run(config, "publish", "--yes", "--month", "2025-12")
    assert result.exit_code == 0, result.stdout
    assert {(v["year"], v["month"]) for v in configured(sim).values()} == {(2025, 12)}


def test_month_in_the_future_is_refused(sim, make_config, password, run):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    result = run(config, "publish", "--yes", "--month", "2999-01")
    assert result.exit_code == 2 and "is in the future" in result.stderr
    result = run(config, "publish", "--yes", "--month", "26-1")
    assert result.exit_code == 2 and "--month: expected a month as YYYY-MM" in result.stderr


def test_the_password_appears_nowhere(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    outputs = [run(config, "-vv", "publish", "--yes")]
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "result_text": f"bad {SECRET}"}])
    outputs.append(run(config, "-vv", "publish", "--yes", "--force"))
    outputs.append(run(config, "history", "--json"))
    outputs.append(run(config, "check-config", "--online", "--json"))
    for r in outputs:
        assert SECRET not in r.stdout + r.stderr
    for f in (tmp_path / "state").rglob("*"):
        assert not f.is_file() or SECRET not in f.read_text()
    assert "********" in read_history(tmp_path)[0]["clients"][0]["error"]


def test_history_rows_stay_one_bounded_line_in_the_partners_zone(sim, make_config, run, tmp_path):
    from freezegun import freeze_time

    partner = partner_config(sim.url, schedule={"day": 5, "timezone": "Asia/Tokyo"})
    config = make_config(partners=[partner], usage={"acme-2026-11.csv": USAGE})
    with freeze_time("2026-11-20 23:30:00"):  # UTC; 08:30 the next day in Tokyo
        failed = run(config, "publish", "--yes", "--month", "2026-11")  # no password stored
    assert failed.exit_code == 2
    listing = run(config, "history").stdout.splitlines()
    assert "2026-11-21 08:30 JST" in listing[1]
    assert all(len(line) <= 160 for line in listing)  # one long error does not wrap every row
    [entry] = read_history(tmp_path)
    shown = run(config, "history", "show", entry["id"]).stdout
    assert entry["error"] in shown  # the whole text is one command away


THIS = f"{date.today():%Y-%m}"


def test_a_lone_surrogate_in_json_usage_is_refused_before_sending(sim, make_config, password,
                                                                  run, tmp_path):
    partner = partner_config(sim.url, usage={"json": "usage/u-{year}-{month:02d}.json"})
    rows = ('[{"client": "Contoso Dental", "billable_gb": 1}, '
            '{"client": "\\ud800", "billable_gb": 5}]')
    config = make_config(partners=[partner], usage={f"u-{THIS}.json": rows})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2 and "client name is not valid text" in result.stdout
    assert soap_requests(sim, "UpdateManagedDevices") == []
    assert "internal error" not in result.stderr


def test_an_ambiguous_client_option_is_refused(sim, make_config, password, run):
    clients = [{"name": "CONTOSO-01", "managed_id": "LAWSMITH"},
               {"name": "Contoso Dental", "managed_id": "CONTOSO-01"}]
    config = make_config(partners=[partner_config(sim.url, clients=clients)],
                         usage={f"acme-{THIS}.csv": USAGE})
    result = run(config, "publish", "--yes", "--client", "CONTOSO-01", "--dry-run")
    assert result.exit_code == 2 and "names 2 clients of acme" in result.stderr


def test_minus_zero_is_sent_as_zero(sim, make_config, password, run):
    usage = "client,billable_gb\nLaw Office of R. Smith,-0\n"
    partner = partner_config(sim.url, clients=[CLIENTS[0]])
    config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": usage})
    assert run(config, "publish", "--yes").exit_code == 0
    [device] = soap_requests(sim, "UpdateManagedDevices")[0]["devices"]
    assert sim.sim.state()["configurations"]["acme"]["LAWSMITH"]["billable_space_gb"] == 0
    assert str(device.get("billable_space_gb", device)).find("-") == -1
