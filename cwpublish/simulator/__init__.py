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
clientId header and an Accept whose FIRST media type is */*, application/json (no Accept means
*/*) or application/vnd.connectwise.com+json[; version=X] with a version the site serves:
GET /system/info; GET lists (page, pageSize <= 1000, conditions with "double" or 'single'
quoted strings, fields, orderBy, Link header, pagination-type: forward-only with pageId),
/count and /{id} of /company/companies, /company/companies/statuses, /company/configurations,
/company/configurations/types, /company/configurations/statuses, /finance/agreements,
/finance/agreements/{id}/additions, /finance/invoices, /procurement/catalog, and
/finance/agreementrecap (list and /{agreement id}); POST and PATCH (JSON Patch)
/company/configurations[/{id}] and /finance/agreements/{id}/additions[/{id}].
Bodies and PATCH results are checked against ConnectWise's published schemas (rest_schema.py,
openapi_schemas.json): unknown names, types, enums, required fields and maximum lengths (a
configuration's name and deviceIdentifier: 100) are a 400 {"code": "InvalidObject", "message",
"errors": [{"code": NullValue|MaxLengthField|InvalidField|UnknownField, "message", "resource",
"field"}]}; other errors are JSON {"code", "message"}. Answers carry the fields the schema
marks required (and _info). REST data keys (under the tenant; `companies` gain identifier,
status (a company status name), deleted):
rest: {codebase, public_key, private_key, client_ids, versions, permissions (company, finance,
procurement, system), company_statuses [{name, inactive, default, disallow_saving}] (default
Active, and Inactive (inactive); a company's status the list lacks is added, active),
configuration_statuses [{name, closed, default}], configuration_types, catalog [{identifier,
description, inactive, price, cost}], agreements [{company, name, type, status, contact,
start_date, end_date, billing_cycle (Monthly|Quarterly|Annual), bill_start_date,
next_invoice_date (default: a cycle after the last invoice, else the 1st of next month),
invoices [{date, number, amount}], additions [{product, quantity, bill_customer, status,
effective_date, cancelled_date, unit_price, unit_cost, less_included, billed_quantity}]}],
configurations [{company, type, name, device_identifier, backup_billable_space_gb,
backup_year, backup_month}], rate_limit {requests_per_second, retry_after}}.
A tenant's rate_limit stands for Cloudflare in front of a cloud site: past requests_per_second
REST requests served in any rolling second (companyinfo counts for its company, the rest for
the Basic user's company), it answers 429 `error code: 1015` in plain text, with Retry-After
when retry_after is given, before any fault rule or check. The data key `latency` (seconds;
serve --latency-ms) delays every SOAP and REST answer.

    python -m cwpublish.simulator serve --port 8765    # the built-in sample tenant "acme"
    python -m cwpublish.simulator serve --data demo/simulator.yaml --port 8765
    python -m cwpublish.simulator show --url http://127.0.0.1:8765

Without --data it serves sample.yaml, shipped inside the package (package data, equal to
demo/simulator.yaml), so an installed cwpublish can rehearse without the source tree.

Control endpoints (JSON): GET /_sim/state, POST /_sim/faults (a list of fault rules),
POST /_sim/reset (also restores the data's rate limits), POST /_sim/rate_limit
{"requests_per_second": N or null (none), "retry_after"?, "tenant"? (default: every tenant)},
POST /_sim/invoice {"agreement": id, "date": "YYYY-MM-DD", "tenant"?,
"number"?} (generate the agreement's invoice now: each Billable addition in force that day
gets billedQuantity = quantity, the invoice is listed at /finance/invoices and in the state,
the recap's last invoice and the agreement's nextInvoiceDate move; answers {"invoice",
"lines"}). A fault rule: {"operation": "UpdateManagedDevices", "times": 2, "after": 0,
"http_status": 503 | "soap_fault": "text" | "result_text": "text" | "html": true,
"delay": 0.5 (SOAP: ended early when the faults are replaced), "drop": true,
"retry_after": 1 (any number, e.g. 600: never slept on),
"raw": "<xml/>" (with http_status, default 200, and "content_type"), "huge_mib": 20,
"redirect": "https://elsewhere/" (HTTP 307 or http_status, with that Location),
"dribble": 0.5 (the answer one byte per 0.5 s)}.
For REST, "operation" is the start of "METHOD /path-after-apis/3.0" (case-insensitive), e.g.
{"operation": "PATCH /company/configurations", "http_status": 429, "retry_after": 1}; REST
answers http_status with a JSON error, raw (or "body") as text/plain or content_type (status
http_status, default 200), html as a 502 page, "cloudflare": true as Cloudflare's plain-text
429 `error code: 1015` (with retry_after if given). REST-only keys that let the request through
first: "lose_answer": true (the write is applied, then the connection is closed without an
answer), "store_then_status": 504 (applied, then answered 504; with "html": true as a gateway
page), "store_later": 0.3 (answered 504, or http_status, at once; the write is applied that many
seconds later, as an origin still working behind a gateway that gave up),
"keep_old": true (a PATCH answered 200 but not kept: the answer shows the old object),
"ignore_page": true (lists answer the first page whatever page/pageId asks, always with a
next Link: an endless pager), "bad_id": true (each object's id in the answer becomes a
string "<id>x"; any other value replaces it as given, e.g. null), "nest": 100000 (the answer
is a JSON array nested that deep). A rule without "operation" matches SOAP and REST alike.
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
