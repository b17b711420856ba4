"""The simulator's HTTP side: WSDL, SOAP dispatch, fault injection, control endpoints."""

from __future__ import annotations

import html
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from cwpublish.simulator.rest_http import handle_rest, is_rest_path
from cwpublish.simulator.rest_show import format_rest_tab, render_rest_tab
from cwpublish.simulator.rest_validate import RestError
from cwpublish.simulator.site import NS, SOAP_NS, SimulatedConnectWise, SoapFault

MAX_BODY = 64 * 1024 * 1024
# ConnectWise's WSDL, as the SOAP target bundles it (the simulator serves it at ?wsdl)
WSDL_DIR = resources.files("cwpublish.targets.connectwise_soap") / "wsdl"


def _response(operation: str, payload: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}">'
        f'<soap:Body><{operation}Response xmlns="{NS}">{payload}</{operation}Response>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def _fault(text: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}">'
        "<soap:Body><soap:Fault><faultcode>soap:Server</faultcode>"
        f"<faultstring>{html.escape(text)}</faultstring></soap:Fault></soap:Body>"
        "</soap:Envelope>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the tests read stderr
        pass

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str = "text/xml; charset=utf-8",
        retry_after: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        sim = self.server.sim
        if self.path.lower().endswith("?wsdl"):
            location = f"http://{self.headers.get('Host')}{self.path.split('?')[0]}"
            wsdl = (WSDL_DIR / "ManagedDeviceApi.wsdl").read_text()
            wsdl = wsdl.replace(
                "https://connectwise.invalid/v4_6_release/apis/2.0/ManagedDeviceApi.asmx",
                html.escape(location),
            )
            self._send(200, wsdl.encode())
        elif self.path == "/_sim/state":
            self._send(200, json.dumps(sim.state()).encode(), "application/json")
        elif self.path == "/":
            self._send(
                200, render_configuration_tab(sim.state()).encode(), "text/html; charset=utf-8"
            )
        elif is_rest_path(self.path):
            handle_rest(self, b"")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        sim = self.server.sim
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, b"too large", "text/plain")
            return
        raw = self.rfile.read(length)
        if self.path == "/_sim/faults":
            sim.set_faults(json.loads(raw or b"[]"))
            self._send(200, b"{}", "application/json")
        elif self.path == "/_sim/rate_limit":  # {"requests_per_second", "retry_after"?, ...}
            try:
                rule = json.loads(raw or b"null")
                if not isinstance(rule, dict):
                    raise ValueError("a JSON object is expected")
                for name in rule.get("tenant") and [rule["tenant"]] or list(sim.tenants):
                    sim.limits.set(str(name), rule)
                self._send(200, b"{}", "application/json")
            except ValueError as e:
                self._send(400, json.dumps({"message": str(e)}).encode(), "application/json")
        elif self.path == "/_sim/reset":
            sim.reset()
            self._send(200, b"{}", "application/json")
        elif self.path == "/_sim/invoice":  # generate an agreement's invoice now
            try:
                with sim.lock:
                    answer = sim.rest.generate_invoice(json.loads(raw or b"null"))
                self._send(200, json.dumps(answer).encode(), "application/json")
            except ValueError as e:
                self._send(400, json.dumps({"code": "InvalidObject", "message": str(e)}).encode(),
                           "application/json")
            except RestError as e:
                self._send(e.status, json.dumps(e.body()).encode(), "application/json")
        elif self.path.lower().endswith(".asmx"):
            self._soap(sim, raw)
        elif is_rest_path(self.path):
            handle_rest(self, raw)
        else:
            self._send(404, b"not found", "text/plain")

    def do_PATCH(self) -> None:  # noqa: N802 - REST only; elsewhere http.server's own 501
        if not is_rest_path(self.path):
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, b"too large", "text/plain")
            return
        handle_rest(self, self.rfile.read(length))

    do_PUT = do_DELETE = do_PATCH

    def _soap(self, sim: SimulatedConnectWise, raw: bytes) -> None:
        started = time.perf_counter()
        operation = (self.headers.get("SOAPAction") or "").strip('"').rsplit("/", 1)[-1]
        entry: dict[str, Any] = {"operation": operation, "at": time.time()}
        status, body = self._answer(sim, operation, raw, entry)
        entry["status"] = status
        sim.answered(entry, started)
        if body is None:  # drop the connection without an answer
            self.close_connection = True
            self.connection.shutdown(2)
            return
        ctype = "text/html" if body.lstrip().startswith(b"<html") else "text/xml; charset=utf-8"
        rule = entry.get("fault") or {}
        if rule.get("redirect"):  # a hostile or misconfigured site sending the POST elsewhere
            self.send_response(status)
            self.send_header("Location", rule["redirect"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if rule.get("dribble"):  # one byte at a time: a total deadline must stop the client
            self._dribble(status, body, rule.get("content_type") or ctype, float(rule["dribble"]))
            return
        self._send(status, body, rule.get("content_type") or ctype, entry.get("retry_after"))

    def _dribble(self, status: int, body: bytes, ctype: str, pause: float) -> None:
        head = (
            f"HTTP/1.1 {status} OK\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.close_connection = True
        try:
            for i in range(len(head + body)):
                self.wfile.write((head + body)[i : i + 1])
                self.wfile.flush()
                time.sleep(pause)
        except OSError:  # the client gave up: that is the point
            pass

    def _answer(
        self, sim: SimulatedConnectWise, operation: str, raw: bytes, entry: dict
    ) -> tuple[int, bytes | None]:
        from lxml import etree

        rule = sim.take_fault(operation)
        if rule:
            entry["fault"] = rule
            sim.hold(float(rule.get("delay", 0)))
            if rule.get("drop"):
                return 0, None
            if rule.get("html"):
                return int(rule.get("http_status", 502)), (
                    b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway"
                    b"</h1></body></html>"
                )
            if rule.get("raw") is not None:  # any body, with http_status (default 200)
                return int(rule.get("http_status", 200)), rule["raw"].encode()
            if rule.get("redirect"):
                return int(rule.get("http_status", 307)), b""
            if rule.get("http_status"):
                if rule.get("retry_after") is not None:
                    entry["retry_after"] = str(rule["retry_after"])
                return int(rule["http_status"]), b""
            if rule.get("soap_fault"):
                return 500, _fault(rule["soap_fault"])
            if rule.get("huge_mib"):  # a well-formed but enormous answer
                filler = b"<x>" + b"a" * (int(rule["huge_mib"]) * 2**20) + b"</x>"
                return 200, _response(operation, "").replace(
                    b"<soap:Body>", b"<soap:Body>" + filler
                )
        try:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
            root = etree.fromstring(raw, parser)
            body = root.find(f"{{{SOAP_NS}}}Body")
            op = body[0] if body is not None and len(body) else None
        except etree.XMLSyntaxError:
            return 500, _fault("Server was unable to read request.")
        if op is None or op.tag != f"{{{NS}}}{operation}":
            return 500, _fault(
                f"Server did not recognize the value of HTTP Header SOAPAction: {operation}."
            )
        entry["devices"] = []
        try:
            if operation == "GetManagementItSetupsName":
                name = sim.get_management_it_setups_name(op)
                payload = f"<{operation}Result>{html.escape(name)}</{operation}Result>"
            elif operation == "GetManagedGroup":
                groups = "".join(
                    f"<ManagedGroup><DeviceType>{t}</DeviceType><GroupIdentifier>"
                    f"{html.escape(i)}</GroupIdentifier></ManagedGroup>"
                    for t, i in sim.get_managed_group(op)
                )
                payload = f"<{operation}Result>{groups}</{operation}Result>"
            else:
                text = rule.get("result_text") if rule else None
                text = text or sim.update_managed_devices(op, entry)
                entry["result"] = text
                payload = f"<{operation}Result>{html.escape(text)}</{operation}Result>"
        except SoapFault as e:
            entry["soap_fault"] = str(e)
            return 500, _fault(str(e))
        return 200, _response(operation, payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out, cut at its deadline) is not an error of
        the site: no traceback on stderr, where it would land in whichever test or terminal
        runs next. Anything else is printed as socketserver does."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)
    allow_reuse_address = True
    request_queue_size = 128  # a burst of connections (REST clients keep 8 in flight) waits
    sim: SimulatedConnectWise


class SimulatorServer:
    """Run the simulator in a background thread (tests, `make demo`)."""

    def __init__(self, data: dict, host: str = "127.0.0.1", port: int = 0, tls=None):
        self.sim = SimulatedConnectWise(data)
        self.httpd = _Server((host, port), _Handler)
        self.httpd.sim = self.sim
        self.scheme = "http"
        if tls is not None:  # an ssl.SSLContext with the server certificate loaded
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        # A short poll: stop() waits for serve_forever to notice, once per test fixture.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def start(self) -> SimulatorServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def render_configuration_tab(state: dict) -> str:
    """An HTML page with each company's last Billable Space, Year and Month."""
    rows = "".join(
        f"<tr><td>{html.escape(tenant)}</td><td>{html.escape(c['company'])}</td>"
        f"<td>{html.escape(mid)}</td><td>{c['billable_space_gb']:g}</td><td>{c['year']}</td>"
        f"<td>{c['month']}</td><td>{html.escape(c['updated_at'])}</td></tr>"
        for tenant, companies in sorted(state["configurations"].items())
        for mid, c in sorted(companies.items())
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>ConnectWise simulator"
        "</title></head><body><h1>Configuration tab (Backup Stats)</h1><table border='1'>"
        "<tr><th>Company ID</th><th>Company</th><th>Managed ID</th><th>Billable Space (GB)"
        f"</th><th>Year</th><th>Month</th><th>Received</th></tr>{rows}</table>"
        f"{render_rest_tab(state)}</body></html>"
    )


def format_configuration_tab(state: dict) -> str:
    """The same as text, for `show` and `make demo`."""
    lines = [
        f"{'COMPANY ID':<12} {'MANAGED ID':<14} {'BILLABLE GB':>12} {'YEAR':>5} "
        f"{'MONTH':>5}  COMPANY"
    ]
    for tenant, companies in sorted(state["configurations"].items()):
        for mid, c in sorted(companies.items()):
            lines.append(
                f"{tenant:<12} {mid:<14} {c['billable_space_gb']:>12.2f} "
                f"{c['year']:>5} {c['month']:>5}  {c['company']}"
            )
    if len(lines) == 1:
        lines.append("(nothing received yet)")
    rest = format_rest_tab(state)  # the REST v3.0 side, when a tenant answers REST
    return "\n".join(lines) + (f"\n\n{rest}" if rest else "")
