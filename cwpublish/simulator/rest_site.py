"""The simulated site's REST v3.0 data: objects in ConnectWise's JSON shapes, and its rules.

One RestTenant per tenant with a `rest` key, built from it and the tenant's `companies`. It
validates creates and JSON Patch updates as ConnectWise does. It takes no lock itself: the
HTTP side holds `sim.lock` around every call, as the SOAP side does for its data.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cwpublish.simulator.rest_conditions import parse_date

DEFAULT_CODEBASE = "v4_6_release/"
DEFAULT_VERSIONS = ("2025.1", "2026.4")
AREAS = ("company", "finance", "procurement", "system")
BILL_CUSTOMER = ("Billable", "DoNotBill", "NoCharge")
AGREEMENT_STATUSES = ("Active", "Cancelled", "Expired", "Inactive")
STATUSES = {"active": {"id": 1, "name": "Active"}, "inactive": {"id": 2, "name": "Inactive"}}
# Each kind of object counts from its own base, so an id of the wrong kind is found wanting.
FIRST_ID = {"companies": 250, "types": 10, "configurations": 1000, "agreements": 300,
            "additions": 5000, "catalog": 70, "agreement_types": 5}

RESOURCE = {"companies": "company", "types": "configurationType", "configurations":
            "configuration", "agreements": "agreement", "additions": "addition",
            "catalog": "catalogItem"}
# Writable fields and the kind of value each takes (see RestTenant._value).
CONFIGURATION_FIELDS = {"name": "str", "type": "type", "company": "company", "status": "status",
                        "deviceIdentifier": "str", "backupBillableSpaceGb": "number",
                        "backupYear": "int", "backupMonth": "month", "activeFlag": "bool",
                        "billFlag": "bool", "notes": "str", "backupServerName": "str",
                        "lastBackupDate": "date"}
ADDITION_FIELDS = {"product": "product", "billCustomer": "billCustomer", "quantity": "quantity",
                   "effectiveDate": "date", "cancelledDate": "date", "description": "str"}
_REFS = {"type": ("id", "name"), "company": ("id", "identifier"), "status": ("id", "name"),
         "product": ("id", "identifier")}
_MISSING = object()


class RestError(Exception):
    """Answered as ConnectWise's JSON error: {"code", "message", "errors"?}."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


class _Invalid(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _ci(obj: dict, name: str) -> Any:
    """A JSON object's member by case-insensitive name (as Newtonsoft binds them)."""
    return next((v for k, v in obj.items() if k.lower() == name.lower()), _MISSING)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(code: str, message: str, resource: str, field: str) -> dict:
    return {"code": code, "message": message, "resource": resource, "field": field}


def _raise_invalid(resource: str, errors: list[dict]) -> None:
    if errors:
        text = "; ".join(e["message"] for e in errors)
        raise RestError(400, "InvalidObject", f"{resource} object is invalid: {text}", errors)


class RestTenant:
    """One tenant's REST side: keys, permissions, and its objects in JSON shape."""

    def __init__(self, tenant: dict):
        rest = tenant.get("rest") or {}
        self.company_id = str(tenant["company_id"])
        self.company_name = str(rest.get("company_name", self.company_id))
        self.codebase = str(rest.get("codebase", DEFAULT_CODEBASE))
        if not rest.get("public_key") or not rest.get("private_key"):
            raise ValueError(f"tenant {self.company_id}: rest needs public_key and private_key")
        self.public_key, self.private_key = str(rest["public_key"]), str(rest["private_key"])
        self.client_ids = {str(c).lower() for c in rest.get("client_ids") or []}
        self.versions = [str(v) for v in rest.get("versions") or DEFAULT_VERSIONS]
        self.permissions = {str(p).lower() for p in rest.get("permissions", AREAS)}
        self._ids = dict(FIRST_ID)
        self.companies: list[dict] = []
        seen: set[str] = set()
        for c in tenant.get("companies") or []:
            ident = str(c.get("identifier") or c.get("managed_id") or "")
            if not ident or ident.casefold() in seen:
                raise ValueError(f"tenant {self.company_id}: company identifier {ident!r} is "
                                 "missing or not unique (case-insensitively)")
            seen.add(ident.casefold())
            status = str(c.get("status", "Active"))
            self.companies.append({
                "id": self._next("companies"), "identifier": ident,
                "name": str(c.get("name", ident)),
                "status": {"id": STATUSES.get(status.lower(), {"id": 3})["id"], "name": status},
                "deletedFlag": bool(c.get("deleted", False))})
        self.types = [
            {"id": self._next("types"), "name": str(t["name"] if isinstance(t, dict) else t),
             "inactiveFlag": bool(isinstance(t, dict) and t.get("inactive", False))}
            for t in rest.get("configuration_types") or []]
        self.catalog = [
            {"id": self._next("catalog"), "identifier": str(p["identifier"]),
             "description": str(p.get("description", p["identifier"])),
             "inactiveFlag": bool(p.get("inactive", False))}
            for p in rest.get("catalog") or []]
        self.agreements: list[dict] = []
        self.additions: list[dict] = []
        self.configurations: list[dict] = []
        self._agreement_types: dict[str, int] = {}
        for a in rest.get("agreements") or []:
            self._load_agreement(a)
        for c in rest.get("configurations") or []:
            body = {"name": c.get("name") or c.get("device_identifier") or c.get("type"),
                    "type": {"name": c.get("type")}, "company": {"identifier": c.get("company")},
                    "deviceIdentifier": c.get("device_identifier"),
                    "backupBillableSpaceGb": c.get("backup_billable_space_gb"),
                    "backupYear": c.get("backup_year"), "backupMonth": c.get("backup_month")}
            try:
                self.create_configuration(body)
            except RestError as e:
                raise ValueError(f"tenant {self.company_id}: {e.message}") from None

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind] - 1

    def _load_agreement(self, a: dict) -> None:
        status = str(a.get("status", "Active"))
        company = next((c for c in self.companies
                        if c["identifier"].casefold() == str(a.get("company")).casefold()), None)
        if company is None or status not in AGREEMENT_STATUSES:
            raise ValueError(f"tenant {self.company_id}: agreement {a.get('name')!r} needs a "
                             f"known company and a status in {', '.join(AGREEMENT_STATUSES)}")
        type_name = str(a.get("type", "Managed Services"))
        if type_name not in self._agreement_types:
            self._agreement_types[type_name] = self._next("agreement_types")
        agreement = {
            "id": self._next("agreements"), "name": str(a.get("name", type_name)),
            "type": {"id": self._agreement_types[type_name], "name": type_name},
            "company": {k: company[k] for k in ("id", "identifier", "name")},
            "agreementStatus": status,
            "startDate": str(a.get("start_date", "2025-01-01T00:00:00Z")),
            "endDate": a.get("end_date"), "cancelledFlag": status == "Cancelled"}
        self.agreements.append(agreement)
        for ad in a.get("additions") or []:
            body = {"product": {"identifier": ad.get("product")}, "quantity": ad.get("quantity", 0),
                    "billCustomer": ad.get("bill_customer", "Billable"),
                    "effectiveDate": ad.get("effective_date"), "description": ad.get("description")}
            try:
                added = self.create_addition(agreement["id"], body, loading=True)
            except RestError as e:
                raise ValueError(f"tenant {self.company_id}: {e.message}") from None
            added["agreementStatus"] = str(ad.get("status", status))
            if added["agreementStatus"] == "Cancelled":
                added["cancelledDate"] = ad.get("cancelled_date", added["effectiveDate"])

    # -- reading ---------------------------------------------------------------------------

    def collection(self, kind: str, parent: int | None = None) -> list[dict]:
        """The objects of one list endpoint (additions: of agreement `parent`, or 404)."""
        if kind == "additions":
            self.get("agreements", parent or 0)
            return [a for a in self.additions if a["agreementId"] == parent]
        return getattr(self, kind)

    def get(self, kind: str, ident: int, parent: int | None = None) -> dict:
        found = next((o for o in self.collection(kind, parent) if o["id"] == ident), None)
        if found is None:
            raise RestError(404, "NotFound", f"{RESOURCE[kind]} with id {ident} was not found.")
        return found

    # -- validation ------------------------------------------------------------------------

    def _ref(self, kind: str, value: Any) -> dict:
        """A reference ({id} or {name}/{identifier}) to an existing, usable object."""
        if not isinstance(value, dict):
            raise _Invalid("InvalidObject", f"must be an object such as {{\"id\": 12}}, "
                                            f"not {value!r}")
        items = {"type": self.types, "company": self.companies, "product": self.catalog,
                 "status": list(STATUSES.values())}[kind]
        by_id, by_name = (_ci(value, key) for key in _REFS[kind])
        if by_id is not _MISSING and by_id is not None:
            if not isinstance(by_id, int) or isinstance(by_id, bool):
                raise _Invalid("InvalidObject", f"id must be an integer, not {by_id!r}")
            found = next((o for o in items if o["id"] == by_id), None)
            what = f"id {by_id}"
        elif isinstance(by_name, str):
            key = _REFS[kind][1]
            found = next((o for o in items
                          if o[key].rstrip().casefold() == by_name.rstrip().casefold()), None)
            what = f"{key} {by_name!r}"
        else:
            raise _Invalid("NullValue", f"needs an id or {_REFS[kind][1]}")
        if found is None:
            raise _Invalid("InvalidObject", f"{what} was not found")
        if found.get("deletedFlag") or found.get("inactiveFlag"):
            state = "deleted" if found.get("deletedFlag") else "inactive"
            raise _Invalid("InvalidObject", f"{what} is {state}")
        keys = {"company": ("id", "identifier", "name"), "product": ("id", "identifier")}
        return {k: found[k] for k in keys.get(kind, ("id", "name"))}

    def _value(self, kind: str, value: Any) -> Any:
        """`value` checked for a field of `kind`, or _Invalid."""
        if kind in _REFS:
            return self._ref(kind, value)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        checks = {
            "str": (isinstance(value, str), "a string"),
            "number": (number and math.isfinite(value), "a number"),
            "quantity": (number and math.isfinite(value) and value >= 0, "a number >= 0"),
            "int": (isinstance(value, int) and not isinstance(value, bool), "an integer"),
            "month": (type(value) is int and 1 <= value <= 12, "an integer from 1 to 12"),
            "bool": (isinstance(value, bool), "true or false"),
            "date": (isinstance(value, str) and parse_date(value) is not None,
                     "an ISO 8601 date or date-time string"),
            "billCustomer": (str(value).casefold() in [b.casefold() for b in BILL_CUSTOMER],
                             "one of " + ", ".join(BILL_CUSTOMER)),
        }
        ok, expected = checks[kind]
        if not ok:
            raise _Invalid("InvalidObject", f"must be {expected}, not {value!r}")
        if kind == "billCustomer":
            return next(b for b in BILL_CUSTOMER if b.casefold() == value.casefold())
        return value

    def _validate(self, resource: str, spec: dict, required: tuple, body: Any) -> dict:
        """The writable fields of a POST body, checked; 400 listing every bad field."""
        if not isinstance(body, dict):
            raise RestError(400, "InvalidObject", f"The {resource} must be a JSON object.")
        values, errors = {}, []
        for field, kind in spec.items():
            value = _ci(body, field)
            if value is _MISSING or value is None:
                if field in required:
                    errors.append(_error("NullValue", f"{field} is required", resource, field))
                elif value is None:
                    values[field] = None
                continue
            try:
                values[field] = self._value(kind, value)
            except _Invalid as e:
                errors.append(_error(e.code, f"{field} {e.message}", resource, field))
        _raise_invalid(resource, errors)
        return values

    def _patch(self, resource: str, spec: dict, required: tuple, body: Any) -> dict:
        """The changes of a JSON Patch body (replace/add/remove), checked; all or nothing."""
        if not isinstance(body, list):
            raise RestError(400, "InvalidObject", "A PATCH body must be a JSON array of JSON "
                            'Patch operations, e.g. [{"op": "replace", "path": "quantity", '
                            '"value": 12.5}].')
        fields = {f.lower(): f for f in spec}
        changes, errors = {}, []
        for i, op in enumerate(body):
            if not isinstance(op, dict):
                errors.append(_error("InvalidObject", f"operation {i} is not an object",
                                     resource, f"[{i}]"))
                continue
            name, path, value = _ci(op, "op"), _ci(op, "path"), _ci(op, "value")
            parts = path.strip("/").split("/") if isinstance(path, str) else [""]
            field = fields.get(parts[0].lower())
            if not isinstance(name, str) or name.lower() not in ("replace", "add", "remove"):
                errors.append(_error("InvalidObject", f"operation {i}: op must be replace, add "
                                     f"or remove, not {name!r}", resource, f"[{i}].op"))
                continue
            if field is None or len(parts) > 2 or (len(parts) == 2 and spec[field] not in _REFS):
                errors.append(_error("InvalidObject", f"operation {i}: path {path!r} is not a "
                                     f"writable field of {resource}", resource, str(path)))
                continue
            if name.lower() == "remove":
                value = None
            elif value is _MISSING:
                errors.append(_error("NullValue", f"operation {i}: value is required",
                                     resource, field))
                continue
            elif len(parts) == 2:
                value = {parts[1]: value}
            if value is None:
                if field in required:
                    errors.append(_error("NullValue", f"{field} is required", resource, field))
                else:
                    changes[field] = None
                continue
            try:
                changes[field] = self._value(spec[field], value)
            except _Invalid as e:
                errors.append(_error(e.code, f"{field} {e.message}", resource, field))
        _raise_invalid(resource, errors)
        return changes

    # -- writing ---------------------------------------------------------------------------

    def create_configuration(self, body: Any) -> dict:
        values = self._validate("configuration", CONFIGURATION_FIELDS,
                                ("name", "type", "company"), body)
        config = {"id": self._next("configurations"), "name": values["name"],
                  "type": values["type"], "company": values["company"],
                  "status": values.get("status") or dict(STATUSES["active"])}
        for field in list(CONFIGURATION_FIELDS)[4:]:
            config[field] = values.get(field)
        config["activeFlag"] = values.get("activeFlag") is not False  # default true
        config["billFlag"] = values.get("billFlag") is not False
        config["_info"] = {"lastUpdated": _now()}
        self.configurations.append(config)
        return config

    def patch_configuration(self, ident: int, body: Any) -> dict:
        config = self.get("configurations", ident)
        changes = self._patch("configuration", CONFIGURATION_FIELDS,
                              ("name", "type", "company"), body)
        config.update(changes)
        config["_info"] = {"lastUpdated": _now()}
        return config

    def _open_agreement(self, agreement_id: int) -> dict:
        agreement = self.get("agreements", agreement_id)
        if agreement["cancelledFlag"] or agreement["agreementStatus"] == "Cancelled":
            raise RestError(400, "InvalidObject", f"Agreement {agreement_id} "
                            f"({agreement['name']}) is cancelled: its additions cannot change.",
                            [_error("InvalidObject", "the agreement is cancelled", "addition",
                                    "agreementId")])
        return agreement

    def create_addition(self, agreement_id: int, body: Any, loading: bool = False) -> dict:
        agreement = (self.get("agreements", agreement_id) if loading
                     else self._open_agreement(agreement_id))
        values = self._validate("addition", ADDITION_FIELDS, ("product", "billCustomer"), body)
        product = next(p for p in self.catalog if p["id"] == values["product"]["id"])
        addition = {"id": self._next("additions"), "product": values["product"],
                    "quantity": values.get("quantity") or 0,
                    "billCustomer": values["billCustomer"],
                    "effectiveDate": values.get("effectiveDate") or _now()[:10] + "T00:00:00Z",
                    "cancelledDate": values.get("cancelledDate"),
                    "agreementStatus": agreement["agreementStatus"], "agreementId": agreement_id,
                    "description": values.get("description") or product["description"],
                    "_info": {"lastUpdated": _now()}}
        self.additions.append(addition)
        return addition

    def patch_addition(self, agreement_id: int, ident: int, body: Any) -> dict:
        self.get("agreements", agreement_id)
        addition = self.get("additions", ident, agreement_id)
        self._open_agreement(agreement_id)
        changes = self._patch("addition", ADDITION_FIELDS, ("product", "billCustomer"), body)
        if "quantity" in changes and changes["quantity"] is None:
            changes["quantity"] = 0
        addition.update(changes)
        addition["_info"] = {"lastUpdated": _now()}
        return addition

    # -- the view for /_sim/state and `show` -----------------------------------------------

    def state(self) -> dict:
        """Per company identifier: its configurations and agreement additions, in brief."""
        view: dict[str, dict[str, list]] = {
            c["identifier"]: {"configurations": [], "additions": []} for c in self.companies}
        for c in self.configurations:
            view[c["company"]["identifier"]]["configurations"].append(
                {"id": c["id"], "name": c["name"], "type": c["type"]["name"],
                 "deviceIdentifier": c["deviceIdentifier"],
                 "backupBillableSpaceGb": c["backupBillableSpaceGb"],
                 "backupYear": c["backupYear"], "backupMonth": c["backupMonth"]})
        agreements = {a["id"]: a for a in self.agreements}
        for ad in self.additions:
            agreement = agreements[ad["agreementId"]]
            view[agreement["company"]["identifier"]]["additions"].append(
                {"agreement": agreement["name"], "agreement_id": agreement["id"],
                 "product": ad["product"]["identifier"], "quantity": ad["quantity"],
                 "id": ad["id"]})
        return copy.deepcopy(view)


class RestSite:
    """The REST side of every tenant that has a `rest` key."""

    def __init__(self, tenants: Iterable[dict]):
        self.tenants: dict[str, RestTenant] = {}
        for t in tenants:
            if t.get("rest") is None:
                continue
            try:
                self.tenants[str(t["company_id"]).lower()] = RestTenant(t)
            except (KeyError, TypeError, AttributeError) as e:  # a malformed data file
                raise ValueError(f"tenant {t.get('company_id')}: bad rest data ({e!r})") from e

    def tenant(self, company_id: str) -> RestTenant | None:
        return self.tenants.get(company_id.lower())

    def state(self) -> dict:
        return {t.company_id: t.state() for t in self.tenants.values()}
