"""Look-ups the REST target makes, in pages and `conditions`, never one request per client for
data a page can carry: companies by identifier, configurations by deviceIdentifier, agreements
by company; additions per agreement (a sub-resource: one request per agreement)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from cwpublish.targets.connectwise_rest.client import RestClient, quoted

CHUNK = 100  # values per `in (...)` list: the request line stays a few KB


def _chunks(values: Iterable, size: int = CHUNK) -> list[list]:
    items = list(dict.fromkeys(values))
    return [items[i : i + size] for i in range(0, len(items), size)]


def companies(client: RestClient, identifiers: Iterable[str]) -> dict[str, list[dict]]:
    """identifier (casefolded) -> the companies ConnectWise has with it (any status)."""
    found: dict[str, list[dict]] = defaultdict(list)
    for chunk in _chunks(identifiers):
        listed = ", ".join(quoted(i) for i in chunk)
        for c in client.pages(
            "/company/companies",
            f"identifier in ({listed})",
            "id,identifier,name,status,deletedFlag",
        ):
            found[str(c.get("identifier", "")).casefold()].append(c)
    return found


def is_active(company: dict) -> bool:
    status = company.get("status")
    name = status.get("name") if isinstance(status, dict) else status
    return not company.get("deletedFlag") and str(name or "").casefold() == "active"


def configuration_type(client: RestClient, name: str) -> dict | None:
    """The active configuration type of that name, if exactly one exists."""
    types = [
        t
        for t in client.pages(
            "/company/configurations/types", f"name={quoted(name)}", "id,name,inactiveFlag"
        )
        if not t.get("inactiveFlag")
    ]
    return types[0] if len(types) == 1 else None


def product(client: RestClient, identifier: str) -> dict | None:
    """The active catalog item with that identifier, if exactly one exists."""
    items = [
        p
        for p in client.pages(
            "/procurement/catalog", f"identifier={quoted(identifier)}", "id,identifier,inactiveFlag"
        )
        if not p.get("inactiveFlag")
    ]
    return items[0] if len(items) == 1 else None


def configurations(
    client: RestClient, type_id: int, device_ids: Iterable[str]
) -> dict[str, list[dict]]:
    """deviceIdentifier (casefolded) -> configurations of that type holding it."""
    found: dict[str, list[dict]] = defaultdict(list)
    for chunk in _chunks(device_ids):
        listed = ", ".join(quoted(d) for d in chunk)
        for c in client.pages(
            "/company/configurations",
            f"type/id={int(type_id)} and deviceIdentifier in ({listed})",
            "id,name,company,deviceIdentifier,backupBillableSpaceGb,backupYear,backupMonth",
        ):
            found[str(c.get("deviceIdentifier", "")).casefold()].append(c)
    return found


def agreements(
    client: RestClient, company_ids: Iterable[int], agreement_type: str
) -> dict[int, list[dict]]:
    """company id -> its active agreements of that type."""
    found: dict[int, list[dict]] = defaultdict(list)
    for chunk in _chunks(company_ids):
        listed = ", ".join(str(int(i)) for i in chunk)
        for a in client.pages(
            "/finance/agreements",
            f'company/id in ({listed}) and type/name={quoted(agreement_type)} '
            'and agreementStatus="Active"',
            "id,name,company,type,agreementStatus,cancelledFlag",
        ):
            if not a.get("cancelledFlag") and isinstance(a.get("company"), dict):
                found[int(a["company"]["id"])].append(a)
    return found


def additions(client: RestClient, agreement_id: int, product_identifier: str) -> list[dict]:
    """The agreement's active (not cancelled) additions of that product."""
    return [
        a
        for a in client.pages(
            f"/finance/agreements/{int(agreement_id)}/additions",
            f"product/identifier={quoted(product_identifier)}",
            "id,product,quantity,agreementStatus,cancelledDate",
        )
        if not a.get("cancelledDate") and str(a.get("agreementStatus") or "Active") == "Active"
    ]
