"""A local ConnectWise Managed Device API: rehearse a configuration, and run the tests.

A real HTTP server on loopback that serves the WSDL and answers GetManagementItSetupsName,
GetManagedGroup and UpdateManagedDevices with ConnectWise's rules, from a small YAML file of
tenants (login, Management IT names, companies with Managed IDs and device types). It reads a
ManagedDevice's fields in sequence order, as ASP.NET's XmlSerializer does, so a field sent out
of order is ignored. An UpdateManagedDevices call with any bad device applies none of them
(the source document: a wrong Managed ID means the usage is not published).

    python -m cwpublish.simulator serve --data examples/simulator.yaml --port 8765
    python -m cwpublish.simulator show --url http://127.0.0.1:8765

Control endpoints (JSON): GET /_sim/state, POST /_sim/faults (a list of fault rules),
POST /_sim/reset. A fault rule: {"operation": "UpdateManagedDevices", "times": 2, "after": 0,
"http_status": 503 | "soap_fault": "text" | "result_text": "text" | "html": true,
"delay": 0.5, "drop": true, "retry_after": 1, "raw": "<xml/>", "huge_mib": 20}.
GET / shows the "Configuration tab" of every company.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

NS = "http://connectwise.com"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_BODY = 64 * 1024 * 1024

# Wire order of the fields the simulator reads (connectwise-managed-device-api.md).
MANAGED_DEVICE_FIELDS = (
    "Type",
    "Level",
    "ManagedIdentifier",
    "CompanyId",
    "CompanyIdentifier",
    "Device",
    "Billing",
)
DEVICE_INFO_FIELDS = (
    "ConfigurationTypeId",
    "DeviceName",
    "DeviceIdentifier",
    "MacAddress",
    "InstallDate",
    "InstalledBy",
    "SerialNumber",
    "ModelNumber",
    "LastLoginName",
    "BillFlag",
    "BackupSuccesses",
    "BackupIncomplete",
    "BackupFailed",
    "BackupRestores",
    "LastBackupDate",
    "BackupServerName",
    "BackupBillableSpaceGb",
    "BackupProtectedDeviceList",
    "BackupYear",
    "BackupMonth",
    "VendorNotes",
    "IPAddress",
    "DefaultGateway",
    "OSType",
    "OSInfo",
    "CPUSpeed",
    "RAM",
    "LocalHardDrives",
    "IsActive",
    "ManagementLink",
    "RemoteLink",
    "PurchaseDate",
    "WarrantyExpiration",
    "TagNumber",
    "Answers",
    "AddressId",
    "LocationId",
    "BusinessUnitId",
    "ContactId",
    "ParentConfigurationId",
    "SlaName",
    "VendorCompany",
    "ManufacturerCompany",
)
CREDENTIAL_FIELDS = ("CompanyId", "IntegratorLoginId", "IntegratorPassword")
DEVICE_TYPE_CODES = {"backup stats": "B"}


class SoapFault(Exception):
    """Answered as a SOAP 1.1 fault (HTTP 500)."""


_INDEXES = {
    fields: {f"{{{NS}}}{name}": (i, name) for i, name in enumerate(fields)}
    for fields in (MANAGED_DEVICE_FIELDS, DEVICE_INFO_FIELDS, CREDENTIAL_FIELDS)
}


def _ordered(parent: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """Children of `parent` read like XmlSerializer reads a sequence: in order, extras ignored."""
    index = _INDEXES[fields]
    found: dict[str, Any] = {}
    position = 0
    for child in parent:
        hit = index.get(child.tag)
        if hit is not None and hit[0] >= position:
            position = hit[0] + 1
            found[hit[1]] = child
    return found


def _text(found: dict[str, Any], name: str) -> str | None:
    el = found.get(name)
    if el is None or el.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true":
        return None
    return (el.text or "").strip()


class SimulatedConnectWise:
    """The site's data and everything it accepted; thread-safe."""

    def __init__(self, data: dict):
        self.lock = threading.Lock()
        self.tenants = {t["company_id"].lower(): t for t in data.get("tenants", [])}
        self.latency = float(data.get("latency", 0))
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.configurations: dict[str, dict[str, dict]] = {}
            self.requests: list[dict] = []
            self.faults: list[dict] = []
            self.busy_seconds = 0.0

    def state(self) -> dict:
        with self.lock:
            return {
                "configurations": json.loads(json.dumps(self.configurations)),
                "requests": list(self.requests),
                "faults": list(self.faults),
                "request_count": len(self.requests),
                "busy_seconds": round(self.busy_seconds, 6),
            }

    def take_fault(self, operation: str) -> dict | None:
        with self.lock:
            for rule in self.faults:
                if rule.get("operation") not in (None, operation):
                    continue
                if rule.get("after", 0) > 0:  # let this many matching requests through first
                    rule["after"] -= 1
                    continue
                times = rule.get("times", -1)
                if times == 0:
                    continue
                if times > 0:
                    rule["times"] = times - 1
                return rule
        return None

    def login(self, body: Any) -> dict:
        creds = body.find(f"{{{NS}}}credentials")
        found = _ordered(creds, CREDENTIAL_FIELDS) if creds is not None else {}
        tenant = self.tenants.get((_text(found, "CompanyId") or "").lower())
        if (
            tenant is None
            or _text(found, "IntegratorLoginId") != tenant["integrator_username"]
            or _text(found, "IntegratorPassword") != tenant["integrator_password"]
        ):
            raise SoapFault("Login failed: invalid CompanyId, integrator login or password.")
        return tenant

    def solution(self, tenant: dict, body: Any) -> str:
        name = (body.findtext(f"{{{NS}}}managementSolutionName") or "").strip()
        if name.lower() not in [n.lower() for n in tenant.get("management_it_names", [])]:
            raise SoapFault(f"Management IT Solution '{name}' was not found.")
        return name

    def get_management_it_setups_name(self, body: Any) -> str:
        return self.solution(self.login(body), body)

    def get_managed_group(self, body: Any) -> list[tuple[str, str]]:
        tenant = self.login(body)
        self.solution(tenant, body)
        return [
            (DEVICE_TYPE_CODES.get(c.get("device_type", "").lower(), "N"), c["managed_id"])
            for c in tenant.get("companies", [])
        ]

    def update_managed_devices(self, body: Any, entry: dict | None = None) -> str:
        tenant = self.login(body)
        self.solution(tenant, body)
        companies = {c["managed_id"]: c for c in tenant.get("companies", [])}
        array = body.find(f"{{{NS}}}managedDevices")
        devices = [] if array is None else array.findall(f"{{{NS}}}ManagedDevice")
        accepted, errors, seen = [], [], []
        for device in devices:
            md = _ordered(device, MANAGED_DEVICE_FIELDS)
            managed_id = _text(md, "ManagedIdentifier") or ""
            company = companies.get(managed_id)
            info = _ordered(md["Device"], DEVICE_INFO_FIELDS) if "Device" in md else {}
            seen.append(
                {
                    "managed_id": managed_id,
                    "billable_gb": _text(info, "BackupBillableSpaceGb"),
                    "year": _text(info, "BackupYear"),
                    "month": _text(info, "BackupMonth"),
                }
            )
            try:
                gb = float(_text(info, "BackupBillableSpaceGb") or "nan")
                year = int(_text(info, "BackupYear") or 0)
                month = int(_text(info, "BackupMonth") or 0)
            except ValueError:
                gb, year, month = float("nan"), 0, 0
            if company is None:
                errors.append(f"Managed ID '{managed_id}' was not found.")
            elif (_text(md, "Type") or "").lower() != company.get("device_type", "").lower():
                errors.append(
                    f"Device type '{_text(md, 'Type')}' is not configured for '{managed_id}'."
                )
            elif gb != gb or gb < 0 or not 1 <= month <= 12 or year < 2000:
                errors.append(f"Backup Stats for '{managed_id}' are incomplete.")
            else:
                accepted.append((company, managed_id, info, gb, year, month))
        if entry is not None:
            entry["devices"] = seen
        if errors:
            return " ".join(errors)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.lock:
            for company, managed_id, info, gb, year, month in accepted:
                self.configurations.setdefault(tenant["company_id"], {})[managed_id] = {
                    "company": company.get("name", managed_id),
                    "device_name": _text(info, "DeviceName"),
                    "device_identifier": _text(info, "DeviceIdentifier"),
                    "billable_space_gb": gb,
                    "year": year,
                    "month": month,
                    "updated_at": now,
                }
        return ""


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
            wsdl = (resources.files("cwpublish") / "wsdl" / "ManagedDeviceApi.wsdl").read_text()
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
            with sim.lock:
                sim.faults = json.loads(raw or b"[]")
            self._send(200, b"{}", "application/json")
        elif self.path == "/_sim/reset":
            sim.reset()
            self._send(200, b"{}", "application/json")
        elif self.path.lower().endswith(".asmx"):
            self._soap(sim, raw)
        else:
            self._send(404, b"not found", "text/plain")

    def _soap(self, sim: SimulatedConnectWise, raw: bytes) -> None:
        started = time.perf_counter()
        operation = (self.headers.get("SOAPAction") or "").strip('"').rsplit("/", 1)[-1]
        entry: dict[str, Any] = {"operation": operation, "at": time.time()}
        status, body = self._answer(sim, operation, raw, entry)
        entry["status"] = status
        elapsed = time.perf_counter() - started
        with sim.lock:
            sim.requests.append(entry)
            sim.busy_seconds += elapsed
        if sim.latency:
            time.sleep(sim.latency)
        if body is None:  # drop the connection without an answer
            self.close_connection = True
            self.connection.shutdown(2)
            return
        ctype = "text/html" if body.lstrip().startswith(b"<html") else "text/xml; charset=utf-8"
        self._send(status, body, ctype, entry.get("retry_after"))

    def _answer(
        self, sim: SimulatedConnectWise, operation: str, raw: bytes, entry: dict
    ) -> tuple[int, bytes | None]:
        from lxml import etree

        rule = sim.take_fault(operation)
        if rule:
            entry["fault"] = rule
            time.sleep(float(rule.get("delay", 0)))
            if rule.get("drop"):
                return 0, None
            if rule.get("html"):
                return int(rule.get("http_status", 502)), (
                    b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway"
                    b"</h1></body></html>"
                )
            if rule.get("http_status"):
                if rule.get("retry_after") is not None:
                    entry["retry_after"] = str(rule["retry_after"])
                return int(rule["http_status"]), b""
            if rule.get("soap_fault"):
                return 500, _fault(rule["soap_fault"])
            if rule.get("raw"):
                return 200, rule["raw"].encode()
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
    allow_reuse_address = True
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
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

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
        f"</th><th>Year</th><th>Month</th><th>Received</th></tr>{rows}</table></body></html>"
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
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cwpublish.simulator", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the simulator until interrupted")
    serve.add_argument("--data", required=True, help="YAML file of tenants and companies")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument("--latency-ms", type=float, default=0, help="added to every SOAP answer")
    serve.add_argument("--port-file", help="write the chosen port here once listening")
    serve.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)...")
    serve.add_argument("--keyfile", help="...and this private key (PEM)")
    show = sub.add_parser("show", help="print what a running simulator has received")
    show.add_argument("--url", default="http://127.0.0.1:8765")
    args = parser.parse_args(argv)
    if args.command == "show":
        from urllib.request import urlopen

        with urlopen(f"{args.url}/_sim/state", timeout=10) as resp:  # noqa: S310 - loopback
            print(format_configuration_tab(json.load(resp)))
        return 0
    import yaml

    data = yaml.safe_load(Path(args.data).read_text(encoding="utf-8")) or {}
    if args.latency_ms:
        data["latency"] = args.latency_ms / 1000
    tls = None
    if args.certfile:
        import ssl

        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.certfile, args.keyfile)
    server = SimulatorServer(data, args.host, args.port, tls)
    if args.port_file:
        Path(args.port_file).write_text(str(server.httpd.server_address[1]))
    print(f"ConnectWise simulator listening on {server.url}", file=sys.stderr, flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
