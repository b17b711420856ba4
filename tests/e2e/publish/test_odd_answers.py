"""Hostile and odd answers: every shape ends as a clean failure of that call (exit code, JSON,
a history entry), never an internal error, never a redirect followed, never cut by luck."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import assert_no_secret, configure

from conftest import (
    read_history,
    sim_faults,
)

PERIOD = f"{date.today():%Y-%m}"


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
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
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


def test_a_dribbling_server_is_cut_at_the_total_deadline(
    sim, make_config, password, run, tmp_path
):
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "dribble": 0.2}])
    result = run(configure(make_config, sim.url, timeout=1), "publish", "--yes", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 1
    assert "did not answer completely within 1s" in doc["entries"][0]["error"]
    assert_no_secret(result, tmp_path)
