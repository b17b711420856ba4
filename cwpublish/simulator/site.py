"""The simulated ConnectWise site: tenants, ConnectWise's rules, and what it accepted.

It reads a ManagedDevice's fields in sequence order, as ASP.NET's XmlSerializer does, so a
field sent out of order is ignored; an UpdateManagedDevices call with any bad device applies
none of them (the source document: a wrong Managed ID means the usage is not published).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from cwpublish.simulator.rest_limit import RateLimits
from cwpublish.simulator.rest_site import RestSite
from cwpublish.simulator.soap_rest_link import mirror

NS = "http://connectwise.com"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"

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
        self.faults_replaced = threading.Condition(self.lock)
        self.fault_generation = 0
        self.tenants = {t["company_id"].lower(): t for t in data.get("tenants", [])}
        self.latency = float(data.get("latency", 0))
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.configurations: dict[str, dict[str, dict]] = {}
            self.requests: list[dict] = []
            self.faults: list[dict] = []
            self.busy_seconds = 0.0
            self.rest = RestSite(self.tenants.values())  # REST v3.0 data (rest_site.py)
            self.limits = RateLimits(self.tenants.values())  # Cloudflare's (rest_limit.py)

    def state(self) -> dict:
        with self.lock:
            return {
                "configurations": json.loads(json.dumps(self.configurations)),
                "requests": list(self.requests),
                "faults": list(self.faults),
                "request_count": len(self.requests),
                "busy_seconds": round(self.busy_seconds, 6),
                "rest": self.rest.state(),
            }

    def answered(self, entry: dict, started: float) -> None:
        """Log a request with the time it kept the site busy (since `started`, a
        perf_counter), then wait the configured latency, outside the lock."""
        import time

        elapsed = time.perf_counter() - started
        with self.lock:
            self.requests.append(entry)
            self.busy_seconds += elapsed
        if self.latency:
            time.sleep(self.latency)

    def set_faults(self, rules: list[dict]) -> None:
        """Replace the fault rules; a request held by a rule's delay is let go at once."""
        with self.lock:
            self.faults = rules
            self.fault_generation += 1
            self.faults_replaced.notify_all()

    def hold(self, seconds: float) -> None:
        """A rule's delay: wait `seconds`, or until the faults are replaced (a test's release)."""
        with self.lock:
            generation = self.fault_generation
            self.faults_replaced.wait_for(lambda: self.fault_generation != generation, seconds)

    def take_fault(self, operation: str, prefix: bool = False) -> dict | None:
        """The first rule for `operation` still due (SOAP: equal; REST, prefix: its start)."""
        with self.lock:
            for rule in self.faults:
                wanted = rule.get("operation")
                if wanted not in (None, operation) and not (
                    prefix and isinstance(wanted, str) and operation.lower().startswith(
                        wanted.lower())
                ):
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
                rest = self.rest.tenant(tenant["company_id"])
                if rest is not None:  # the same record, seen over REST (soap_rest_link.py)
                    mirror(rest, company, {
                        "name": _text(info, "DeviceName") or managed_id,
                        "type": company.get("device_type", ""),
                        "identifier": _text(info, "DeviceIdentifier"), "gb": gb, "year": year,
                        "month": month,
                    })
        return ""
