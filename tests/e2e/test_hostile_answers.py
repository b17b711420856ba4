"""Hostile and odd answers: every shape ends as a clean failure of that call (exit code, JSON,
a history entry), never an internal error, never a secret leaked, never a redirect followed."""

from __future__ import annotations

import html
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import keyring
import pytest

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

PERIOD = f"{date.today():%Y-%m}"


def configure(make_config, url: str, **cw) -> object:
    partner = partner_config(url)
    partner["connectwise"].update({"retries": 0, **cw})
    return make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": USAGE})


def assert_no_secret(result, tmp_path, secret: str = SECRET) -> None:
    everything = result.stdout + result.stderr
    assert secret not in everything and "Traceback" not in everything
    assert "internal error" not in everything
    for f in (tmp_path / "state").rglob("*.json"):
        assert secret not in f.read_text()


class Catcher:
    """A second origin: records anything sent to it (a redirect target must get nothing)."""

    def __init__(self):
        self.bodies: list[bytes] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                catcher.bodies.append(self.rfile.read(n))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/steal"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("operation", ["GetManagementItSetupsName", "UpdateManagedDevices"])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed(sim, make_config, password, run, tmp_path, operation, status):
    catcher = Catcher()
    try:
        sim_faults(sim, [{"operation": operation, "redirect": catcher.url, "http_status": status}])
        result = run(configure(make_config, sim.url), "publish", "--yes", "--json")
    finally:
        catcher.stop()
    assert catcher.bodies == []
    assert result.stdout, result.stderr
    doc = json.loads(result.stdout)
    assert result.exit_code == doc["exit_code"] == 1
    [entry] = doc["entries"]
    assert entry["status"] == "failed" and "redirect to " + catcher.url in entry["error"]
    assert read_history(tmp_path)[0]["id"] == entry["id"]
    assert sim.sim.state()["configurations"] == {}
    assert_no_secret(result, tmp_path)


def test_a_multi_line_fault_text_with_managers_is_a_clean_failure(
    sim, make_config, password, run, tmp_path, smtp_server, smtp_password
):
    text = "Line one\r\nBcc: victim@example.com\r\n\r\n\tforged\u202e"
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "soap_fault": text}])
    config = configure(make_config, sim.url)
    config.write_text(config.read_text() + "smtp:\n" + "".join(
        f"  {k}: {json.dumps(v)}\n" for k, v in smtp_server.config.items()))
    result = run(config, "publish", "--yes", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == doc["exit_code"] == 12
    [entry] = doc["entries"]
    assert "\n" not in entry["error"] and "\u202e" not in entry["error"]
    assert entry["notification"]["status"] == "sent"
    [(_, rcpts, msg)] = smtp_server.messages
    assert rcpts == ["billing@acme.example"] and "Bcc" not in msg
    assert "\n" not in msg["Subject"] and msg["Subject"].startswith("[cwpublish] acme")
    assert read_history(tmp_path)[0]["exit_code"] == 12
    assert_no_secret(result, tmp_path)


@pytest.mark.parametrize(
    "rule",
    [
        {"raw": "this is not xml", "http_status": 500},
        {"raw": "", "http_status": 500},
        {"raw": "", "http_status": 200},
        {"raw": '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                "<soap:Body/></soap:Envelope>"},
        {"raw": '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                "<soap:Body><Unexpected xmlns='urn:x'/></soap:Body></soap:Envelope>"},
        {"raw": "<a><b></a>", "http_status": 200},
        {"raw": "{}", "http_status": 200, "content_type": "application/json"},
        {"raw": "\x00\x01\x02", "http_status": 500},
        {"raw": "garbage", "http_status": 500,
         "content_type": 'multipart/related; boundary=b; type="text/xml"'},
        {"raw": '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                "<soap:Body><UpdateManagedDevicesResponse xmlns='http://connectwise.com'/>"
                "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Login failed"
                "</faultstring></soap:Fault></soap:Body></soap:Envelope>"},
    ],
)
@pytest.mark.parametrize("operation", ["GetManagementItSetupsName", "UpdateManagedDevices"])
def test_odd_answers_fail_cleanly(sim, make_config, password, run, tmp_path, rule, operation):
    sim_faults(sim, [{**rule, "operation": operation}])
    result = run(configure(make_config, sim.url), "publish", "--yes", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == doc["exit_code"] in (1, 3, 12)
    [entry] = doc["entries"]
    assert entry["status"] == "failed" and entry["error"]
    assert read_history(tmp_path)[0]["status"] == "failed"
    assert sim.sim.state()["configurations"] == {}
    assert_no_secret(result, tmp_path)


def test_a_secret_broken_across_lines_by_the_server_is_still_masked(make_config, run, tmp_path):
    secret = "correct horse battery"
    server = SimulatorServer({"tenants": [tenant(integrator_password=secret)]}).start()
    try:
        keyring.set_password("cwpublish", "connectwise:acme", secret)
        text = "Login failed for correct\r\nhorse\tbattery  (wrapped)"
        sim_faults(server, [{"operation": "UpdateManagedDevices", "soap_fault": text}])
        result = run(configure(make_config, server.url), "publish", "--yes", "--json")
    finally:
        server.stop()
    doc = json.loads(result.stdout)
    assert result.exit_code == doc["exit_code"] == 1
    assert "Login failed for ******** (wrapped)" in doc["entries"][0]["error"]
    assert_no_secret(result, tmp_path, secret)


def test_a_dribbling_server_is_cut_at_the_total_deadline(
    sim, make_config, password, run, tmp_path
):
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "dribble": 0.2}])
    result = run(configure(make_config, sim.url, timeout=1), "publish", "--yes", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 1
    assert "did not answer completely within 1s" in doc["entries"][0]["error"]
    assert_no_secret(result, tmp_path)


def test_secrets_echoed_in_any_form_are_masked(make_config, run, tmp_path):
    secret = "p&ss<w0rd> \"x\""
    server = SimulatorServer({"tenants": [tenant(integrator_password=secret)]}).start()
    try:
        keyring.set_password("cwpublish", "connectwise:acme", secret)
        echoes = f"as is {secret} escaped {html.escape(secret)} trimmed {secret.strip()}"
        sim_faults(server, [{"operation": "UpdateManagedDevices", "result_text": echoes}])
        result = run(configure(make_config, server.url), "-vv", "publish", "--yes", "--json")
        requests = soap_requests(server, "UpdateManagedDevices")
    finally:
        server.stop()
    assert requests and result.exit_code == 1
    doc = json.loads(result.stdout)
    error = doc["entries"][0]["clients"][0]["error"]
    assert "********" in error and "p&ss" not in error and "p&amp;ss" not in error
    for text in (result.stdout, result.stderr, *(
            f.read_text() for f in (tmp_path / "state").rglob("*.json"))):
        assert secret not in text and html.escape(secret) not in text


def test_control_characters_in_usage_names_never_reach_the_terminal_raw(
    sim, make_config, password, run, tmp_path
):
    evil = "Evil\rNorthwind Traders      NORTHWIND  87.00  published\x1b[2K\x07"
    usage = USAGE + f'"{evil}",5\n'
    partner = partner_config(sim.url)
    config = make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": usage})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0, result.stderr
    for stream in (result.stdout, result.stderr):
        assert "\r" not in stream and "\x1b" not in stream and "\x07" not in stream
    assert "Evil Northwind Traders" in result.stdout  # shown, on its own row, made harmless
    assert "\\x1b[2K\\x07" in result.stdout
