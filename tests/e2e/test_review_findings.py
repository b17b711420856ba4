"""What a review of the finished change found, each now refused or made right (one test each)."""

from __future__ import annotations

import signal
import urllib.parse
from datetime import date

import keyring

from conftest import (
    CLIENTS,
    USAGE,
    partner_config,
    read_history,
    sim_faults,
    soap_requests,
    start_publish,
    tenant,
    wait_for,
)
from cwpublish.simulator import SimulatorServer

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


def test_another_month_from_a_source_without_placeholders_is_refused(sim, make_config,
                                                                      password, run):
    partner = partner_config(sim.url, usage={"csv": "usage/current.csv"})
    config = make_config(partners=[partner], usage={"current.csv": USAGE})
    result = run(config, "publish", "--yes", "--month", "2026-01")
    assert result.exit_code == 2 and "has no {year}/{month} placeholder" in result.stderr
    assert soap_requests(sim) == []
    assert run(config, "publish", "--yes").exit_code == 0  # its own month still publishes


def test_url_encoded_echoes_of_the_password_are_masked(make_config, run, tmp_path):
    secret = "P&ss<w>rd \"x' +/=é"
    server = SimulatorServer({"tenants": [tenant(integrator_password=secret)]}).start()
    try:
        keyring.set_password("cwpublish", "connectwise:acme", secret)
        dotnet = urllib.parse.quote_plus(secret, safe="!*()").lower()  # HttpUtility.UrlEncode
        echo = f"{dotnet} / {urllib.parse.quote(secret)}"
        sim_faults(server, [{"operation": "UpdateManagedDevices", "result_text": echo}])
        config = make_config(partners=[partner_config(server.url)],
                             usage={f"acme-{THIS}.csv": USAGE})
        result = run(config, "publish", "--yes", "--json")
    finally:
        server.stop()
    stored = " ".join(f.read_text() for f in (tmp_path / "state").rglob("*.json"))
    for text in (result.stdout, stored):
        assert dotnet not in text.lower() and urllib.parse.quote(secret) not in text
    assert "********" in result.stdout


def test_the_company_ids_case_does_not_bypass_the_duplicate_guard(sim, make_config, password,
                                                                   run):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    assert run(config, "publish", "--yes").exit_code == 0
    upper = partner_config(sim.url)
    upper["connectwise"]["company_id"] = "ACME"
    config = make_config(partners=[upper], usage={f"acme-{THIS}.csv": USAGE})
    again = run(config, "publish", "--yes")
    assert again.exit_code == 2 and "already published for the period" in again.stderr
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1


def test_two_partners_on_one_company_cannot_share_a_managed_id(make_config, run):
    a = partner_config("https://cw.example.com", clients=[CLIENTS[0]])
    b = partner_config("https://cw.example.com", name="acme2",
                       clients=[{"name": "Other", "managed_id": CLIENTS[0]["managed_id"]}])
    for p in (a, b):
        p["connectwise"].pop("allow_insecure_http")
    result = run(make_config(partners=[a, b]), "check-config")
    assert result.exit_code == 2
    assert "is also a client of partner 'acme'" in result.stdout


def test_an_ambiguous_client_option_is_refused(sim, make_config, password, run):
    clients = [{"name": "CONTOSO-01", "managed_id": "LAWSMITH"},
               {"name": "Contoso Dental", "managed_id": "CONTOSO-01"}]
    config = make_config(partners=[partner_config(sim.url, clients=clients)],
                         usage={f"acme-{THIS}.csv": USAGE})
    result = run(config, "publish", "--yes", "--client", "CONTOSO-01", "--dry-run")
    assert result.exit_code == 2 and "names 2 clients of acme" in result.stderr


def test_a_second_sigterm_exits_143_and_the_next_run_closes_the_entry(sim, make_config,
                                                                      password, tmp_path, run):
    partner = partner_config(sim.url)
    partner["connectwise"].update({"batch_size": 1, "parallel_requests": 1})
    config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": USAGE})
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "delay": 2}])
    proc = start_publish(config)
    wait_for(lambda: soap_requests(sim, "UpdateManagedDevices"))
    proc.send_signal(signal.SIGTERM)
    said = ""  # the second only once the first was handled (two at once would be merged)
    while "stopping after the requests in flight" not in said:
        line = proc.stderr.readline()
        assert line, said
        said += line
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    sim_faults(sim, [])
    run(config, "publish", "--yes", "--force")
    closed = [e for e in read_history(tmp_path) if e["status"] == "interrupted"]
    assert closed and "killed" in closed[0]["error"]


def test_minus_zero_is_sent_as_zero(sim, make_config, password, run):
    usage = "client,billable_gb\nLaw Office of R. Smith,-0\n"
    partner = partner_config(sim.url, clients=[CLIENTS[0]])
    config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": usage})
    assert run(config, "publish", "--yes").exit_code == 0
    [device] = soap_requests(sim, "UpdateManagedDevices")[0]["devices"]
    assert sim.sim.state()["configurations"]["acme"]["LAWSMITH"]["billable_space_gb"] == 0
    assert str(device.get("billable_space_gb", device)).find("-") == -1


def test_check_config_says_companies(make_config, run, rest_key):
    from conftest import rest_data, rest_partner_config

    server = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    try:
        config = make_config(partners=[rest_partner_config(server.url)])
        (config.parent / "usage").mkdir(exist_ok=True)
        (config.parent / "usage" / f"acme-{THIS}.csv").write_text(USAGE)
        result = run(config, "check-config", "--online")
    finally:
        server.stop()
    assert "all 3 companies exist in ConnectWise" in result.stdout


def test_soap_and_rest_configurations_of_one_company_collide_additions_do_not(make_config, run):
    from conftest import rest_partner_config

    soap = partner_config("https://cw.example.com", clients=[CLIENTS[0]])
    soap["connectwise"].pop("allow_insecure_http")
    for mode, refused in (("configuration", True), ("agreement_addition", False)):
        rest = rest_partner_config("https://cw.example.com", mode, name="cloud",
                                   clients=[{"name": "X", "company": CLIENTS[0]["managed_id"]}])
        rest["connectwise"].pop("allow_insecure_http")
        result = run(make_config(partners=[soap, rest]), "check-config")
        assert ("is also a client of partner 'acme'" in result.stdout) is refused, mode
