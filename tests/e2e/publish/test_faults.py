"""Fault injection: the CLI against the simulator in each fault mode.

Each case checks the exit code, the history entry, what the simulator holds at the end (every
good client's value right for the period, nothing for a bad one, no period that was not asked
for) and that the integrator password appears nowhere.
"""

from __future__ import annotations

import json
import ssl
from datetime import date

import keyring
import pytest
import trustme

from conftest import (
    SECRET,
    USAGE,
    partner_config,
    read_history,
    sim_faults,
    soap_requests,
    tenant,
)
from cwpublish.simulator import SimulatorServer

TODAY = date.today()
PERIOD = f"{TODAY:%Y-%m}"
EXPECTED = {"LAWSMITH": 1250.46, "CONTOSO-01": 310.5, "NORTHWIND": 87.0}


def configure(make_config, url: str, **cw) -> object:
    partner = partner_config(url)
    partner["connectwise"].update({"retries": 2, "retry_backoff": 0.01, **cw})
    return make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": USAGE})


def held(sim) -> dict[str, tuple[float, int, int]]:
    return {
        mid: (c["billable_space_gb"], c["year"], c["month"])
        for mid, c in sim.sim.state()["configurations"].get("acme", {}).items()
    }


def assert_all_published(sim) -> None:
    assert held(sim) == {mid: (gb, TODAY.year, TODAY.month) for mid, gb in EXPECTED.items()}


def assert_clean(result, tmp_path) -> None:
    everything = result.stdout + result.stderr
    assert SECRET not in everything and "Traceback" not in everything
    for f in (tmp_path / "state").rglob("*.json"):
        assert SECRET not in f.read_text()


@pytest.mark.parametrize(
    "rule",
    [
        {"http_status": 503, "times": 2},
        {"http_status": 502, "html": True, "times": 2},
        {"http_status": 504, "times": 1, "operation": "UpdateManagedDevices"},
        {"http_status": 429, "retry_after": 0, "times": 2},
        {"drop": True, "times": 2},
    ],
)
def test_transient_faults_are_retried_and_everything_is_published(
    sim, make_config, password, run, tmp_path, rule
):
    sim_faults(sim, [rule])
    result = run(configure(make_config, sim.url), "-v", "publish", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "retrying in" in result.stderr
    assert read_history(tmp_path)[0]["status"] == "success"
    assert_all_published(sim)
    assert_clean(result, tmp_path)


def test_a_time_out_is_retried(sim, make_config, password, run, tmp_path):
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "delay": 1.5, "times": 1}])
    result = run(configure(make_config, sim.url, timeout=0.5), "publish", "--yes")
    assert result.exit_code == 0, result.stdout
    assert_all_published(sim)  # the late first attempt and the retry carry the same values
    assert len(soap_requests(sim, "UpdateManagedDevices")) >= 1


def test_persistent_5xx_gives_up_after_the_retries(sim, make_config, password, run, tmp_path):
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "http_status": 503}])
    result = run(configure(make_config, sim.url), "publish", "--yes")
    assert result.exit_code == 1
    entry = read_history(tmp_path)[0]
    assert entry["status"] == "failed"
    # the partner-wide failure is stated once, as the entry's error; rows say "not sent"
    assert "HTTP 503 service unavailable from 127.0.0.1 (after 3 attempts)" in entry["error"]
    assert {(c["error"], c["kind"]) for c in entry["clients"]} == {("not sent", "not-sent")}
    assert result.stdout.count("HTTP 503") == 1
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 3
    assert held(sim) == {}
    assert_clean(result, tmp_path)


def test_retries_stop_at_the_time_budget(sim, make_config, password, run, tmp_path):
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "http_status": 429, "retry_after": 30}])
    config = configure(make_config, sim.url, retries=5, retry_max_seconds=10)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 1
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1  # 30 s would pass the budget


def test_connection_refused(make_config, password, run, tmp_path):
    result = run(configure(make_config, "http://127.0.0.1:9"), "publish", "--yes")
    assert result.exit_code == 1
    entry = read_history(tmp_path)[0]
    assert "127.0.0.1 refused the connection" in entry["error"]
    assert "attempts" not in entry["error"]  # refused is not retried (issue 21)
    assert_clean(result, tmp_path)


def test_soap_fault_on_the_preflight_is_a_login_problem_not_retried(
    sim, make_config, password, run, tmp_path
):
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "soap_fault": "Access denied"}])
    result = run(configure(make_config, sim.url), "publish", "--yes")
    assert result.exit_code == 12
    assert len(soap_requests(sim, "GetManagementItSetupsName")) == 1
    assert held(sim) == {} and read_history(tmp_path)[0]["exit_code"] == 12
    assert_clean(result, tmp_path)


def test_soap_fault_on_update_is_not_retried(sim, make_config, password, run, tmp_path):
    sim_faults(
        sim,
        [
            {
                "operation": "UpdateManagedDevices",
                "soap_fault": "Server was unable to process request",
            }
        ],
    )
    result = run(configure(make_config, sim.url), "publish", "--yes")
    assert result.exit_code == 1
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1
    assert held(sim) == {}
    assert "SOAP fault: Server was unable to process request" in read_history(tmp_path)[0]["error"]


def test_bad_credentials(sim, make_config, run, tmp_path):
    import keyring

    keyring.set_password("cwpublish", "connectwise:acme", "not-the-password")
    result = run(configure(make_config, sim.url), "-vv", "publish", "--yes")
    assert result.exit_code == 12 and held(sim) == {}
    assert "not-the-password" not in result.stdout + result.stderr


def test_html_502_page_persistently(sim, make_config, password, run, tmp_path):
    sim_faults(sim, [{"http_status": 502, "html": True}])
    result = run(configure(make_config, sim.url), "publish", "--yes")
    assert result.exit_code == 1
    assert (
        "HTTP 502 bad gateway from 127.0.0.1 (an HTML page) (after 3 attempts)"
        in read_history(tmp_path)[0]["error"]
    )
    assert held(sim) == {}


def test_xxe_payload_is_refused(sim, make_config, password, run, tmp_path):
    secret_file = tmp_path / "local-secret.txt"
    secret_file.write_text("TOP-SECRET-LOCAL-FILE")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret_file}">]>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<GetManagementItSetupsNameResponse xmlns="http://connectwise.com">'
        "<GetManagementItSetupsNameResult>&x;</GetManagementItSetupsNameResult>"
        "</GetManagementItSetupsNameResponse></soap:Body></soap:Envelope>"
    )
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "raw": xxe}])
    result = run(configure(make_config, sim.url), "publish", "--yes")
    assert result.exit_code == 1
    assert "refused (possible XXE attack)" in result.stdout
    everything = result.stdout + result.stderr + str(read_history(tmp_path))
    assert "TOP-SECRET-LOCAL-FILE" not in everything
    assert held(sim) == {}


def test_a_huge_response_is_refused(sim, make_config, password, run, tmp_path):
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "huge_mib": 17}])
    result = run(configure(make_config, sim.url), "publish", "--yes")
    assert result.exit_code == 1 and "more than 16 MiB; refused" in result.stdout


def test_error_text_for_some_devices_in_a_batch(make_config, password, run, tmp_path):
    companies = [
        {"name": "Law Office of R. Smith", "managed_id": "LAWSMITH", "device_type": "Backup Stats"},
        {"name": "Contoso Dental", "managed_id": "CONTOSO-01", "device_type": "Server Stats"},
        {"name": "Northwind Traders", "managed_id": "NORTHWIND", "device_type": "Backup Stats"},
    ]
    server = SimulatorServer({"tenants": [tenant(companies)]}).start()
    try:
        result = run(configure(make_config, server.url), "publish", "--yes")
        assert result.exit_code == 3
        assert held(server) == {
            "LAWSMITH": (1250.46, TODAY.year, TODAY.month),
            "NORTHWIND": (87.0, TODAY.year, TODAY.month),
        }
        entry = read_history(tmp_path)[0]
        failed = [c for c in entry["clients"] if c["status"] == "failed"]
        assert [c["managed_id"] for c in failed] == ["CONTOSO-01"]
        assert failed[0]["error"].startswith("ConnectWise: ")
        assert_clean(result, tmp_path)
    finally:
        server.stop()


@pytest.fixture
def tls_sim(tmp_path):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = SimulatorServer({"tenants": [tenant()]}, tls=context).start()
    server.ca_file = ca_file
    yield server
    server.stop()


def test_tls_is_verified_and_a_private_ca_can_be_added(
    tls_sim, make_config, password, run, tmp_path
):
    assert tls_sim.url.startswith("https://")
    untrusted = configure(make_config, tls_sim.url, retries=0)
    result = run(untrusted, "publish", "--yes")
    assert result.exit_code == 1
    assert "TLS certificate of 127.0.0.1 could not be verified" in result.stdout
    assert held(tls_sim) == {}
    trusted = configure(make_config, tls_sim.url, ca_bundle=str(tls_sim.ca_file))
    result = run(trusted, "publish", "--yes", "--force")
    assert result.exit_code == 0, result.stdout
    assert_all_published(tls_sim)
    live = configure(make_config, tls_sim.url, ca_bundle=str(tls_sim.ca_file), wsdl="live")
    result = run(live, "publish", "--yes", "--force")  # the ?wsdl is fetched over TLS too
    assert result.exit_code == 0, result.stdout


def test_a_wrong_password_for_150_clients_is_said_once(
    make_config, run, tmp_path, smtp_server, smtp_password
):
    clients = [{"name": f"Client {i:03d}", "managed_id": f"C{i:03d}"} for i in range(150)]
    server = SimulatorServer({"tenants": [tenant([
        {**c, "device_type": "Backup Stats"} for c in clients])]}).start()
    try:
        keyring.set_password("cwpublish", "connectwise:acme", "not-the-password")
        usage = "client,billable_gb\n" + "".join(f"{c['name']},1\n" for c in clients)
        config = make_config(partners=[partner_config(server.url, clients=clients)],
                             usage={f"acme-{PERIOD}.csv": usage}, smtp=smtp_server.config)
        result = run(config, "publish", "--yes")
    finally:
        server.stop()
    assert result.exit_code == 12
    reason = "ConnectWise rejected the login"
    assert result.stdout.count(reason) == 1 and result.stderr.count(reason) == 0
    assert len(result.stdout.encode()) < 150 * 80  # rows, not 150 copies of the reason
    [(_, _, msg)] = smtp_server.messages
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    body = html.split("</title>", 1)[1]  # the <title> is the subject line
    assert text.count(reason) == 1 and body.count(reason) == 1
    entry = read_history(tmp_path)[0]
    assert reason in entry["error"]
    assert all(c["error"] == "not sent" for c in entry["clients"])
    assert json.dumps(entry).count(reason) == 1
