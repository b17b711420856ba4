"""Look-ups the REST target makes, in pages and `conditions`, never one request per client for
data a page can carry: companies by identifier, configurations by deviceIdentifier, agreements
by company; additions per agreement (a sub-resource: one request per agreement); the company
statuses once. The same look-ups re-read what a create of unknown outcome left (writes.py).
What the `conditions` ask is checked again on every object answered (`same`): a server or
proxy that ignores them must never get another product's line or type's record written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from urllib.parse import quote_plus, urlencode

from cwpublish.errors import ConnectWiseError
from cwpublish.targets.connectwise_rest.answers import ref_id
from cwpublish.targets.connectwise_rest.client import PAGE_SIZE, RestClient, quoted

CHUNK = 100  # values per `in (...)` list at most...
MAX_QUERY = 2000  # ...and at most this many bytes of URL-encoded query string per request
SEPARATOR = ", "


def chunks(
    values: Iterable[str], condition: Callable[[str], str], fields: str,
    size: int = CHUNK, max_bytes: int = MAX_QUERY,
) -> list[list[str]]:
    """`values` (duplicates dropped) in lists of at most `size`, each list's query string
    (`condition(listed)`, fields, page, pageSize; URL-encoded as sent) at most `max_bytes`
    long; a value too long to share a request goes alone."""
    base = len(urlencode({"conditions": condition(""), "fields": fields, "page": 1,
                          "pageSize": PAGE_SIZE}))
    gap = len(quote_plus(SEPARATOR))
    out: list[list[str]] = []
    current: list[str] = []
    used = base
    for value in dict.fromkeys(values):
        cost = len(quote_plus(value))
        if current and (len(current) >= size or used + gap + cost > max_bytes):
            out.append(current)
            current, used = [], base
        used += cost + (gap if current else 0)
        current.append(value)
    if current:
        out.append(current)
    return out


def same(obj: dict, field: str, value: str, part: str = "name") -> bool:
    """Whether the object's `field` (text, or a reference's `part`) is `value`, ignoring case
    as ConnectWise's conditions do."""
    have = obj.get(field)
    if isinstance(have, dict):
        have = have.get(part)
    return isinstance(have, str) and have.casefold() == value.casefold()


def _grouped(
    client: RestClient, path: str, condition: Callable[[str], str], values: Iterable[str],
    fields: str, key: Callable[[dict], object],
) -> dict:
    """Objects at `path` for `values` (chunked by count and bytes, `condition(listed)` each),
    grouped by `key(object)`."""
    found: dict = defaultdict(list)
    for chunk in chunks(values, condition, fields):
        for obj in client.pages(path, condition(SEPARATOR.join(chunk)), fields):
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


def company_statuses(client: RestClient) -> dict[int, dict] | None:
    """status id -> the company status (its name and `inactiveFlag`), or None when the API
    member may not read the list (HTTP 403/404): the caller then judges by name."""
    try:
        found = client.pages("/company/companies/statuses", "", "id,name,inactiveFlag")
    except ConnectWiseError as e:
        if e.http_status in (403, 404):
            return None
        raise
    return {o["id"]: o for o in found}


def company_problem(company: dict, statuses: dict[int, dict] | None) -> str | None:
    """Why a company cannot be published to (None: usable). Usable means not deleted and
    with a status whose `inactiveFlag` is false, whatever its name ("Current", "Active -
    Net 15"); without the status list, only a status named "Active" counts."""
    if company.get("deletedFlag"):
        return "is deleted"
    status = company.get("status")
    name = status.get("name") if isinstance(status, dict) else status
    if statuses is not None:
        known = statuses.get(ref_id(company, "status") or -1)
        if known is None:
            return f"has a status ConnectWise does not list ({name!r})"
        if known.get("inactiveFlag") is not False:
            return f"is inactive (status {known.get('name', name)!r})"
        return None
    if str(name or "").strip().casefold() == "active":
        return None
    return (
        f"is inactive or its status {name!r} cannot be judged: the API member may not read "
        "/company/companies/statuses, so only a status named 'Active' counts (allow its role "
        "to view company statuses)"
    )


def _one_active(client: RestClient, path: str, field: str, value: str) -> dict | None:
    """The one object at `path` whose `field` is `value` and that is not inactive, if exactly
    one exists (none, or several, cannot be chosen between)."""
    found = [
        o
        for o in client.pages(path, f"{field}={quoted(value)}", f"id,{field},inactiveFlag")
        if not o.get("inactiveFlag") and same(o, field, value)
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
    found = _grouped(
        client,
        "/company/configurations",
        lambda listed: f"type/id={int(type_id)} and deviceIdentifier in ({listed})",
        (quoted(d) for d in device_ids),
        "id,name,type,company,deviceIdentifier,backupBillableSpaceGb,backupYear,backupMonth",
        lambda c: str(c.get("deviceIdentifier", "")).casefold(),
    )
    return {k: [c for c in v if ref_id(c, "type") == type_id] for k, v in found.items()}


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
        lambda a: ref_id(a, "company") or 0,
    )
    return {
        k: [a for a in v if not a.get("cancelledFlag") and same(a, "type", agreement_type)
            and same(a, "agreementStatus", "Active")]
        for k, v in found.items() if k
    }


# The one look-up of an agreement's additions, for publishing (writes.py, target.py) and
# reconcile (reads.py): the union of the fields each needs (price and lessIncluded: reconcile).
ADDITION_FIELDS = (
    "id,product,quantity,lessIncluded,unitPrice,agreementStatus,effectiveDate,cancelledDate"
)


def additions(client: RestClient, agreement_id: int, product_identifier: str) -> list[dict]:
    """Every addition of that product on the agreement, whatever its status or dates: which
    one bills a period is decided by its dates (rules.in_effect), by each caller."""
    found = client.pages(
        f"/finance/agreements/{int(agreement_id)}/additions",
        f"product/identifier={quoted(product_identifier)}",
        ADDITION_FIELDS,
    )
    return [a for a in found if same(a, "product", product_identifier, "identifier")]

