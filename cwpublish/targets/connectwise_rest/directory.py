"""Read-only look-ups for `map` and `migrate`: every usable company, and which company holds
each client's configuration (deviceIdentifier `rcloud-<Managed ID>`, as SOAP created it).
Nothing here writes; both go through the RestClient's retries, time budget and redaction."""

from __future__ import annotations

from collections.abc import Iterable

from cwpublish.targets.connectwise_rest import lookups
from cwpublish.targets.connectwise_rest.answers import ref_id
from cwpublish.targets.connectwise_rest.client import RestClient


def active_companies(client: RestClient) -> list[dict]:
    """Every company a client could be published to (not deleted, status not inactive:
    lookups.company_problem, the one rule publish uses), as {id, identifier, name}."""
    found = client.pages("/company/companies", "", "id,identifier,name,status,deletedFlag")
    statuses = lookups.company_statuses(client)
    return [
        {"id": c.get("id"), "identifier": str(c.get("identifier", "")),
         "name": str(c.get("name", ""))}
        for c in found
        if lookups.company_problem(c, statuses) is None
    ]


def holders(client: RestClient, type_name: str, device_ids: Iterable[str]) -> dict[str, list[dict]]:
    """deviceIdentifier (casefolded) -> the companies ({id, identifier, name}) holding a
    configuration of that type with it; {} when the type does not exist."""
    ctype = lookups.configuration_type(client, type_name)
    if ctype is None:
        return {}
    found = lookups.configurations(client, ctype["id"], device_ids)
    out: dict[str, list[dict]] = {}
    for ident, configs in found.items():
        for c in configs:
            company = c.get("company") if isinstance(c.get("company"), dict) else {}
            out.setdefault(ident, []).append(
                {"id": ref_id(c, "company"), "identifier": str(company.get("identifier", "")),
                 "name": str(company.get("name", ""))}
            )
    return out
