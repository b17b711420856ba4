"""Reading an agreement's invoicing state over REST: /finance/agreementrecap (whose `id` is
the agreement's) for the last and next invoice dates, and the agreement's billing cycle.
Paged with `conditions`, CHUNK agreements per request, never one request per client."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from cwpublish.targets.connectwise_rest.client import RestClient
from cwpublish.targets.connectwise_rest.lookups import CHUNK


def day(value: object) -> date | None:
    """The date of a ConnectWise date-time text ("2026-11-06T00:00:00Z"); None otherwise."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _by_id(client: RestClient, path: str, ids: list[int], fields: str) -> dict[int, dict]:
    found: dict[int, dict] = {}
    for i in range(0, len(ids), CHUNK):
        listed = ", ".join(str(int(n)) for n in ids[i : i + CHUNK])
        for obj in client.pages(path, f"id in ({listed})", fields):
            found[int(obj["id"])] = obj
    return found


def recaps(client: RestClient, agreement_ids: Iterable[int]) -> dict[int, dict]:
    """agreement id -> {last, next (dates or None), cycle (text or None)}."""
    ids = sorted(set(agreement_ids))
    if not ids:
        return {}
    recap = _by_id(client, "/finance/agreementrecap", ids, "id,lastInvoiceDate,nextInvoiceDate")
    cycles = _by_id(client, "/finance/agreements", ids, "id,billingCycle")
    out = {}
    for aid in ids:
        r = recap.get(aid, {})
        cycle = (cycles.get(aid) or {}).get("billingCycle")
        out[aid] = {
            "last": day(r.get("lastInvoiceDate")),
            "next": day(r.get("nextInvoiceDate")),
            "cycle": cycle.get("name") if isinstance(cycle, dict) else None,
        }
    return out
