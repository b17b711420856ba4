"""A local ConnectWise site: rehearse a configuration, and run the tests.

A real HTTP server on loopback that serves the WSDL and answers GetManagementItSetupsName,
GetManagedGroup and UpdateManagedDevices with ConnectWise's rules, from a small YAML file of
tenants (login, Management IT names, companies with Managed IDs and device types). It reads a
ManagedDevice's fields in sequence order, as ASP.NET's XmlSerializer does, so a field sent out
of order is ignored. An UpdateManagedDevices call with any bad device applies none of them
(the source document: a wrong Managed ID means the usage is not published).

A tenant with a `rest` key also answers the PSA REST API v3.0, strictly
(shared/reference/connectwise-rest-api.md): GET /login/companyinfo/{companyId} (no auth), then
under /{codebase}apis/3.0 with Basic "{companyId}+{publicKey}:{privateKey}", a registered
clientId header and Accept application/json or application/vnd.connectwise.com+json;
version=X: GET /system/info; GET lists (page, pageSize <= 1000, conditions, fields, orderBy,
Link header, pagination-type: forward-only with pageId), /count and /{id} of
/company/companies, /company/configurations, /company/configurations/types,
/finance/agreements, /finance/agreements/{id}/additions and /procurement/catalog;
POST and PATCH (JSON Patch) /company/configurations[/{id}] and
/finance/agreements/{id}/additions[/{id}]. Errors are JSON {"code", "message", "errors"?}.
REST data keys (under the tenant; `companies` gain identifier, status, deleted):
rest: {codebase, public_key, private_key, client_ids, versions, permissions (company, finance,
procurement, system), configuration_types, catalog [{identifier, description, inactive}],
agreements [{company, name, type, status, start_date, end_date, additions [{product, quantity,
bill_customer, status}]}], configurations [{company, type, name, device_identifier,
backup_billable_space_gb, backup_year, backup_month}]}.

    python -m cwpublish.simulator serve --port 8765    # the built-in sample tenant "acme"
    python -m cwpublish.simulator serve --data demo/simulator.yaml --port 8765
    python -m cwpublish.simulator show --url http://127.0.0.1:8765

Without --data it serves sample.yaml, shipped inside the package (package data, equal to
demo/simulator.yaml), so an installed cwpublish can rehearse without the source tree.

Control endpoints (JSON): GET /_sim/state, POST /_sim/faults (a list of fault rules),
POST /_sim/reset. A fault rule: {"operation": "UpdateManagedDevices", "times": 2, "after": 0,
"http_status": 503 | "soap_fault": "text" | "result_text": "text" | "html": true,
"delay": 0.5, "drop": true, "retry_after": 1, "raw": "<xml/>" (with http_status, default 200,
and "content_type"), "huge_mib": 20, "redirect": "https://elsewhere/" (HTTP 307 or
http_status, with that Location), "dribble": 0.5 (the answer one byte per 0.5 s)}.
For REST, "operation" is the start of "METHOD /path-after-apis/3.0" (case-insensitive), e.g.
{"operation": "PATCH /company/configurations", "http_status": 429, "retry_after": 1}; REST
answers http_status with a JSON error, raw as text/plain or content_type (status http_status,
default 200), html as a 502 page; a rule without "operation" matches SOAP and REST requests
alike.
GET / shows the "Configuration tab" of every company, then the REST side's records.
"""

from cwpublish.simulator.server import (
    SimulatorServer,
    format_configuration_tab,
    render_configuration_tab,
)
from cwpublish.simulator.site import SimulatedConnectWise

__all__ = [
    "SimulatedConnectWise",
    "SimulatorServer",
    "format_configuration_tab",
    "render_configuration_tab",
]
