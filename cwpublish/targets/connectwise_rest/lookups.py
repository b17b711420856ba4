"""Look-ups the REST target makes, in pages and `conditions`, never one request per client for
data a page can carry: companies by identifier, configurations by deviceIdentifier, agreements
by company; additions per agreement (a sub-resource: one request per agreement)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from cwpublish.targets.connectwise_rest.client import RestClient, quoted

CHUNK = 100  # values per `in (...)` list: the request line stays a few KB


def _chunks(values: Iterable, size: int = CHUNK) -> list[list]:
    items = list(dict.fromkeys(values))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _grouped(
    client: RestClient, path: str, condition: Callable[[str], str], values: Iterable, fields: str,
    key: Callable[[dict], object],
) -> dict:
    """Objects at `path` for `values` (CHUNK per request, `condition(listed)` each), grouped
    by `key(object)`."""
    found: dict = defaultdict(list)
    for chunk in _chunks(values):
        for obj in client.pages(path, condition(", ".join(chunk)), fields):
            found[key(obj)].append(obj)
    return found


def companies(client: RestClient, identifiers: Iterable[str]) -> dict[str, list[dict]]:
    """identifier (casefolded) -> the companies ConnectWise has with it (any status)."""
    return _grouped(
        client,
        "/company/companies",
        lambda listed: f"identifier in ({listed})",
        (quoted(i) for i in identifiers),
        "id,identifier,name,status,deletedFlag",
        lambda c: str(c.get("identifier", "")).casefold(),
    )


def is_active(company: dict) -> bool:
    status = company.get("status")
    name = status.get("name") if isinstance(status, dict) else status
    return not company.get("deletedFlag") and str(name or "").casefold() == "active"


def _one_active(client: RestClient, path: str, field: str, value: str) -> dict | None:
    """The one object at `path` whose `field` is `value` and that is not inactive, if exactly
    one exists (none, or several, cannot be chosen between)."""
    found = [
        o
        for o in client.pages(path, f"{field}={quoted(value)}", f"id,{field},inactiveFlag")
        if not o.get("inactiveFlag")
    ]
    return found[0] if len(found) == 1 else None


def configuration_type(client: RestClient, name: str) -> dict | None:
    """The active configuration type of that name, if exactly one exists."""
    return _one_active(client, "/company/configurations/types", "name", name)


def product(client: RestClient, identifier: str) -> dict | None:
    """The active catalog item with that identifier, if exactly one exists."""
    return _one_active(client, "/procurement/catalog", "identifier", identifier)


def configurations(
    client: RestClient, type_id: int, device_ids: Iterable[str]
) -> dict[str, list[dict]]:
    """deviceIdentifier (casefolded) -> configurations of that type holding it."""
    return _grouped(
        client,
        "/company/configurations",
        lambda listed: f"type/id={int(type_id)} and deviceIdentifier in ({listed})",
        (quoted(d) for d in device_ids),
        "id,name,company,deviceIdentifier,backupBillableSpaceGb,backupYear,backupMonth",
        lambda c: str(c.get("deviceIdentifier", "")).casefold(),
    )


def agreements(
    client: RestClient, company_ids: Iterable[int], agreement_type: str
) -> dict[int, list[dict]]:
    """company id -> its active agreements of that type."""
    found = _grouped(
        client,
        "/finance/agreements",
        lambda listed: f"company/id in ({listed}) and type/name={quoted(agreement_type)} "
        'and agreementStatus="Active"',
        (str(int(i)) for i in company_ids),
        "id,name,company,type,agreementStatus,cancelledFlag",
        lambda a: int((a.get("company") or {}).get("id") or 0),
    )
    return {k: [a for a in v if not a.get("cancelledFlag")] for k, v in found.items() if k}


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
