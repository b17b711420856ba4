"""The simulated site's REST v3.0 data: objects in ConnectWise's JSON shapes, and its rules.

One RestTenant per tenant with a `rest` key, built from it and the tenant's `companies`. Every
object carries the fields ConnectWise's schema marks required (rest_schema), and creates and
JSON Patch updates are checked as ConnectWise does (rest_validate). It takes no lock itself:
the HTTP side holds `sim.lock` around every call, as the SOAP side does for its data.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cwpublish.simulator.rest_billing import Billing, add_months, day, stamp
from cwpublish.simulator.rest_validate import RestError, Validation, error

__all__ = ["AREAS", "SCHEMA_OF", "RestError", "RestSite", "RestTenant"]

DEFAULT_CODEBASE = "v4_6_release/"
DEFAULT_VERSIONS = ("2025.1", "2026.4")
AREAS = ("company", "finance", "procurement", "system")
AGREEMENT_STATUSES = ("Active", "Cancelled", "Expired", "Inactive")
# Each kind of object counts from its own base, so an id of the wrong kind is found wanting.
FIRST_ID = {"companies": 250, "types": 10, "configurations": 1000, "agreements": 300,
            "additions": 5000, "catalog": 70, "agreement_types": 5, "company_statuses": 1,
            "configuration_statuses": 1, "contacts": 40, "billing_cycles": 1}
RESOURCE = {"companies": "company", "types": "configurationType", "configurations":
            "configuration", "agreements": "agreement", "additions": "addition",
            "catalog": "catalogItem", "company_statuses": "companyStatus",
            "configuration_statuses": "configurationStatus", "recaps": "agreementRecap",
            "invoices": "invoice"}
# The schema (rest_schema) of each kind's objects.
SCHEMA_OF = {"companies": "Company", "types": "ConfigurationType", "configurations":
             "Configuration", "agreements": "Agreement", "additions": "Addition", "catalog":
             "CatalogItem", "company_statuses": "CompanyStatus", "configuration_statuses":
             "ConfigurationStatus", "recaps": "AgreementRecap", "invoices": "Invoice"}
# Fields with a rule beyond the schema, and the kind of value each takes (Validation._value);
# any other field of the schema is kept as sent.
CONFIGURATION_FIELDS = {"name": "str", "type": "type", "company": "company", "status": "status",
                        "deviceIdentifier": "str", "backupBillableSpaceGb": "number",
                        "backupYear": "int", "backupMonth": "month", "activeFlag": "bool",
                        "billFlag": "bool", "notes": "str", "backupServerName": "str",
                        "lastBackupDate": "date"}
ADDITION_FIELDS = {"product": "product", "billCustomer": "billCustomer", "quantity": "quantity",
                   "effectiveDate": "date", "cancelledDate": "date", "description": "str",
                   "unitPrice": "number", "unitCost": "number", "lessIncluded": "quantity"}
DEFAULT_COMPANY_STATUSES = ({"name": "Active", "default": True},
                            {"name": "Inactive", "inactive": True})
DEFAULT_CONFIGURATION_STATUSES = ({"name": "Active", "default": True},
                                  {"name": "Inactive", "closed": True})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _info() -> dict:
    return {"lastUpdated": _now(), "updatedBy": "simulator"}


def _named(item: Any, key: str = "name") -> dict:
    """A data list entry: a bare name, or a mapping with `key` (or `name`)."""
    return {"name": str(item)} if not isinstance(item, dict) else {
        **item, "name": str(item.get(key) or item.get("name"))}


class RestTenant(Validation, Billing):
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
        self.company_statuses: list[dict] = []
        for s in rest.get("company_statuses") or DEFAULT_COMPANY_STATUSES:
            self._company_status(_named(s))
        self.configuration_statuses = [
            {"id": self._next("configuration_statuses"), "description": s["name"],
             "closedFlag": bool(s.get("closed", False)), "defaultFlag": bool(s.get("default")),
             "_info": _info()}
            for s in map(_named, rest.get("configuration_statuses")
                         or DEFAULT_CONFIGURATION_STATUSES)]
        self.companies: list[dict] = []
        self._identifiers: set[str] = set()
        for c in tenant.get("companies") or []:
            self._load_company(c)
        self.types = [
            {"id": self._next("types"), "name": t["name"],
             "inactiveFlag": bool(t.get("inactive", False)), "systemFlag": False,
             "_info": _info()}
            for t in map(_named, rest.get("configuration_types") or [])]
        self.catalog = [
            {"id": self._next("catalog"), "identifier": str(p["identifier"]),
             "description": str(p.get("description", p["identifier"])),
             "customerDescription": str(p.get("description", p["identifier"])),
             "inactiveFlag": bool(p.get("inactive", False)),
             "subcategory": {"id": 1, "name": "Backup"}, "type": {"id": 1, "name": "Service"},
             "productClass": "Agreement", "price": float(p.get("price", 0)),
             "cost": float(p.get("cost", 0)), "_info": _info()}
            for p in rest.get("catalog") or []]
        self.agreements: list[dict] = []
        self.additions: list[dict] = []
        self.configurations: list[dict] = []
        self.invoices: list[dict] = []
        self.invoice_lines: dict[int, list[dict]] = {}
        self._agreement_types: dict[str, int] = {}
        self._cycles: dict[str, int] = {}
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

    def _company_status(self, s: dict) -> dict:
        status = {"id": self._next("company_statuses"), "name": s["name"],
                  "defaultFlag": bool(s.get("default", False)),
                  "inactiveFlag": bool(s.get("inactive", False)), "notifyFlag": False,
                  "disallowSavingFlag": bool(s.get("disallow_saving", False)),
                  "customNoteFlag": False, "cancelOpenTracksFlag": False, "_info": _info()}
        self.company_statuses.append(status)
        return status

    def _load_company(self, c: dict) -> None:
        ident = str(c.get("identifier") or c.get("managed_id") or "")
        if not ident or ident.casefold() in self._identifiers:
            raise ValueError(f"tenant {self.company_id}: company identifier {ident!r} is "
                             "missing or not unique (case-insensitively)")
        default = next((s for s in self.company_statuses if s["defaultFlag"]),
                       self.company_statuses[0])
        name = str(c.get("status") or default["name"])
        status = next((s for s in self.company_statuses
                       if s["name"].casefold() == name.casefold()), None)
        status = status or self._company_status({"name": name})  # a name the list lacks
        self._identifiers.add(ident.casefold())
        self.companies.append({
            "id": self._next("companies"), "identifier": ident, "name": str(c.get("name", ident)),
            "status": {"id": status["id"], "name": status["name"]},
            "deletedFlag": bool(c.get("deleted", False)), "_info": _info()})

    def _ref_id(self, table: dict[str, int], kind: str, name: str) -> int:
        if name not in table:
            table[name] = self._next(kind)
        return table[name]

    def _load_agreement(self, a: dict) -> None:
        status = str(a.get("status", "Active"))
        company = next((c for c in self.companies
                        if c["identifier"].casefold() == str(a.get("company")).casefold()), None)
        if company is None or status not in AGREEMENT_STATUSES:
            raise ValueError(f"tenant {self.company_id}: agreement {a.get('name')!r} needs a "
                             f"known company and a status in {', '.join(AGREEMENT_STATUSES)}")
        type_name = str(a.get("type", "Managed Services"))
        cycle = str(a.get("billing_cycle", "Monthly"))
        start = day(a.get("start_date")) or day("2025-01-01")
        agreement = {
            "id": self._next("agreements"), "name": str(a.get("name", type_name)),
            "type": {"id": self._ref_id(self._agreement_types, "agreement_types", type_name),
                     "name": type_name},
            "company": {k: company[k] for k in ("id", "identifier", "name")},
            "contact": {"id": self._next("contacts"), "name": str(a.get("contact", "Billing"))},
            "agreementStatus": status, "startDate": stamp(start),
            "endDate": stamp(day(a.get("end_date"))), "noEndingDateFlag": not a.get("end_date"),
            "cancelledFlag": status == "Cancelled",
            "billingCycle": {"id": self._ref_id(self._cycles, "billing_cycles", cycle),
                             "name": cycle},
            "billStartDate": stamp(day(a.get("bill_start_date")) or start),
            "nextInvoiceDate": stamp(day(a.get("next_invoice_date"))), "prorateFlag": False,
            "_info": _info()}
        self.agreements.append(agreement)
        try:
            self._load_invoices(agreement, a)
        except ValueError as e:
            raise ValueError(f"tenant {self.company_id}: {e}") from None
        if agreement["nextInvoiceDate"] is None:  # the 1st of next month
            today = datetime.now(UTC).date().replace(day=1)
            agreement["nextInvoiceDate"] = stamp(add_months(today, 1))
        for ad in a.get("additions") or []:
            body = {"product": {"identifier": ad.get("product")}, "quantity": ad.get("quantity", 0),
                    "billCustomer": ad.get("bill_customer", "Billable"),
                    "effectiveDate": stamp(day(ad.get("effective_date"))),
                    "cancelledDate": stamp(day(ad.get("cancelled_date"))),
                    "description": ad.get("description"), "unitPrice": ad.get("unit_price"),
                    "unitCost": ad.get("unit_cost"), "lessIncluded": ad.get("less_included"),
                    "billedQuantity": ad.get("billed_quantity")}
            try:
                added = self.create_addition(agreement["id"], body, loading=True)
            except RestError as e:
                raise ValueError(f"tenant {self.company_id}: {e.message}") from None
            added["agreementStatus"] = str(ad.get("status", status))
            if added["agreementStatus"] == "Cancelled" and not added["cancelledDate"]:
                added["cancelledDate"] = added["effectiveDate"]

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

    def _ref_items(self, kind: str) -> list[dict]:
        if kind == "status":  # a configuration's status: {id, name} names its description
            return [{"id": s["id"], "name": s["description"]} for s in self.configuration_statuses]
        return {"type": self.types, "company": self.companies, "product": self.catalog}[kind]

    # -- writing ---------------------------------------------------------------------------

    def create_configuration(self, body: Any) -> dict:
        values, extras = self._validate("configuration", "Configuration", CONFIGURATION_FIELDS,
                                        body)
        default = next((s for s in self.configuration_statuses if s["defaultFlag"]),
                       self.configuration_statuses[0])
        config = {"id": self._next("configurations"), "name": values["name"],
                  "type": values["type"], "company": values["company"],
                  "status": values.get("status") or {"id": default["id"],
                                                     "name": default["description"]}}
        for field in list(CONFIGURATION_FIELDS)[4:]:
            config[field] = values.get(field)
        config["activeFlag"] = values.get("activeFlag") is not False  # default true
        config["billFlag"] = values.get("billFlag") is not False
        config.update(extras)
        config["_info"] = _info()
        self.configurations.append(config)
        return config

    def patch_configuration(self, ident: int, body: Any) -> dict:
        config = self.get("configurations", ident)
        config.update(self._patch("configuration", "Configuration", CONFIGURATION_FIELDS,
                                  config, body))
        config["_info"] = _info()
        return config

    def _open_agreement(self, agreement_id: int) -> dict:
        agreement = self.get("agreements", agreement_id)
        if agreement["cancelledFlag"] or agreement["agreementStatus"] == "Cancelled":
            raise RestError(400, "InvalidObject", f"Agreement {agreement_id} "
                            f"({agreement['name']}) is cancelled: its additions cannot change.",
                            [error("InvalidObject", "the agreement is cancelled", "addition",
                                   "agreementId")])
        return agreement

    def create_addition(self, agreement_id: int, body: Any, loading: bool = False) -> dict:
        agreement = (self.get("agreements", agreement_id) if loading
                     else self._open_agreement(agreement_id))
        values, extras = self._validate("addition", "Addition", ADDITION_FIELDS, body)
        extras.pop("agreementId", None)  # the path says which agreement
        product = next(p for p in self.catalog if p["id"] == values["product"]["id"])
        addition = {"id": self._next("additions"), "product": values["product"],
                    "quantity": values.get("quantity") or 0,
                    "lessIncluded": values.get("lessIncluded") or 0,
                    "unitPrice": values.get("unitPrice", product["price"]),
                    "unitCost": values.get("unitCost", product["cost"]),
                    "billCustomer": values["billCustomer"],
                    "effectiveDate": values.get("effectiveDate") or _now()[:10] + "T00:00:00Z",
                    "cancelledDate": values.get("cancelledDate"), "billedQuantity": 0,
                    "agreementStatus": agreement["agreementStatus"], "agreementId": agreement_id,
                    "description": values.get("description") or product["description"]}
        addition.update({k: v for k, v in extras.items() if v is not None or k not in addition})
        addition["_info"] = _info()
        self.additions.append(addition)
        return addition

    def patch_addition(self, agreement_id: int, ident: int, body: Any) -> dict:
        self.get("agreements", agreement_id)
        addition = self.get("additions", ident, agreement_id)
        self._open_agreement(agreement_id)
        changes = self._patch("addition", "Addition", ADDITION_FIELDS, addition, body,
                              fixed=("agreementId",))
        for field in ("quantity", "lessIncluded"):
            if field in changes and changes[field] is None:
                changes[field] = 0
        addition.update(changes)
        addition["_info"] = _info()
        return addition

    # -- the view for /_sim/state and `show` -----------------------------------------------

    def state(self) -> dict:
        """Per company identifier: its configurations, agreement additions and invoices."""
        view: dict[str, dict[str, list]] = {
            c["identifier"]: {"configurations": [], "additions": [], "invoices": []}
            for c in self.companies}
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
                 "id": ad["id"], "billedQuantity": ad["billedQuantity"],
                 "effectiveDate": ad["effectiveDate"], "cancelledDate": ad["cancelledDate"]})
        for c in self.companies:
            mine = {a["id"] for a in self.agreements if a["company"]["id"] == c["id"]}
            view[c["identifier"]]["invoices"] = self.invoices_view(mine)
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

    def generate_invoice(self, request: Any) -> dict:
        """POST /_sim/invoice {"agreement": id, "date": "YYYY-MM-DD", "tenant"?, "number"?}."""
        if not isinstance(request, dict) or type(request.get("agreement")) is not int:
            raise RestError(400, "InvalidObject", 'expected {"agreement": <id>, "date": '
                            '"YYYY-MM-DD"} (optional "tenant", "number")')
        wanted = request.get("tenant")
        for tenant in self.tenants.values():
            if wanted is not None and tenant.company_id.lower() != str(wanted).lower():
                continue
            if any(a["id"] == request["agreement"] for a in tenant.agreements):
                return tenant.generate_invoice(request["agreement"], request.get("date"),
                                               request.get("number"))
        raise RestError(404, "NotFound", f"agreement {request['agreement']} was not found.")
