"""Reading an agreement's invoicing state over REST: /finance/agreementrecap (whose `id` is
the agreement's) for the last and next invoice dates, and the agreement's billing cycle.
Paged with `conditions`, CHUNK agreements per request, never one request per client."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from cwpublish.targets.connectwise_rest.client import RestClient
from cwpublish.targets.connectwise_rest.lookups import CHUNK
from cwpublish.text.redaction import clean_line

RECAP = "GET /finance/agreementrecap"


def day(value: object) -> date | None:
    """The date of a ConnectWise date(-time) text ("2026-11-06T00:00:00Z", "2026-11-06",
    with or without an offset); None when there is none ("" or null)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    try:
        if len(text) == 10 or (len(text) > 10 and text[10] in "T "):
            return date.fromisoformat(text[:10])
    except ValueError:
        pass
    raise ValueError(f"{clean_line(repr(value), 60)} is not a date")


def _dates(recap: dict | None) -> tuple[date | None, date | None, str | None]:
    """The recap's last and next invoice dates, and why the last one cannot be known. A last
    date that is missing or unreadable is never taken as "not invoiced yet" (a late publish
    would miss that invoice silently); an unreadable next date is only not shown."""
    if recap is None:
        return None, None, f"no {RECAP.removeprefix('GET ')} for it"
    try:
        last = day(recap.get("lastInvoiceDate"))
    except ValueError as e:
        return None, None, f"lastInvoiceDate {e} (expected YYYY-MM-DD...)"
    try:
        return last, day(recap.get("nextInvoiceDate")), None
    except ValueError:
        return last, None, None


def _by_id(client: RestClient, path: str, ids: list[int], fields: str) -> dict[int, dict]:
    found: dict[int, dict] = {}
    for i in range(0, len(ids), CHUNK):
        listed = ", ".join(str(int(n)) for n in ids[i : i + CHUNK])
        for obj in client.pages(path, f"id in ({listed})", fields):
            found[int(obj["id"])] = obj
    return found


def recaps(client: RestClient, agreement_ids: Iterable[int]) -> dict[int, dict]:
    """agreement id -> {last, next (dates or None), cycle (text or None), problem (why the
    last invoice date cannot be known, or None)}."""
    ids = sorted(set(agreement_ids))
    if not ids:
        return {}
    recap = _by_id(client, RECAP.removeprefix("GET "), ids, "id,lastInvoiceDate,nextInvoiceDate")
    cycles = _by_id(client, "/finance/agreements", ids, "id,billingCycle")
    out = {}
    for aid in ids:
        last, upcoming, problem = _dates(recap.get(aid))
        cycle = (cycles.get(aid) or {}).get("billingCycle")
        out[aid] = {
            "last": last,
            "next": upcoming,
            "cycle": cycle.get("name") if isinstance(cycle, dict) else None,
            "problem": problem,
        }
    return out
