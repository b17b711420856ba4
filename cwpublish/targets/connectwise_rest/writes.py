"""Deciding and making the REST writes: per client a configuration, or per agreement the
addition whose quantity is the sum of its clients' GB. Nothing is written when ConnectWise
already holds the value; the writes run `parallel_requests` at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from cwpublish import interrupt
from cwpublish.errors import ConnectWiseError, unexpected
from cwpublish.targets.base import (
    INTERRUPTED_TEXT,
    NOT_SENT,
    NOT_SENT_TEXT,
    REJECTED,
    Progress,
    RecordResult,
    Sent,
    UsageRecord,
)
from cwpublish.targets.connectwise_rest.client import RestClient, RestRejected

CENT = Decimal("0.01")


def gb(value: object) -> Decimal | None:
    """A quantity ConnectWise holds, to the cent (None when it holds nothing usable)."""
    try:
        return Decimal(str(value)).quantize(CENT)
    except (ArithmeticError, ValueError, TypeError):
        return None


@dataclass
class Write:
    """One request to make (or none: `method` None means ConnectWise already holds it),
    and the records whose outcome it decides."""

    records: list[UsageRecord]
    method: str | None = None  # POST | PATCH | None
    path: str = ""
    body: object = None
    error: str | None = None  # decided without a request: these records fail with it
    results: list[RecordResult] = field(default_factory=list)


def run_writes(
    client: RestClient, writes: list[Write], parallel: int, progress: Progress | None
) -> Sent:
    """Make the writes, `parallel` in flight; one result per record in the writes' order.

    After a partner-wide failure (site down, keys revoked) or an interrupt nothing new
    starts: those records are not sent.
    """
    from concurrent.futures import ThreadPoolExecutor
    from threading import Event

    stop = Event()
    first: list[str] = []

    def make(w: Write) -> list[RecordResult]:
        if w.error:
            return [RecordResult(r, w.error, REJECTED) for r in w.records]
        if w.method is None:
            return [RecordResult(r) for r in w.records]
        if interrupt.requested():
            return [RecordResult(r, INTERRUPTED_TEXT, NOT_SENT) for r in w.records]
        if stop.is_set():
            return [RecordResult(r, NOT_SENT_TEXT, NOT_SENT) for r in w.records]
        call: Callable = client.post if w.method == "POST" else client.patch
        try:
            call(w.path, w.body)
        except RestRejected as e:
            return [RecordResult(r, f"ConnectWise: {e.message}", REJECTED) for r in w.records]
        except ConnectWiseError as e:
            if not stop.is_set():
                first.append(str(e))
                stop.set()
            return [RecordResult(r, NOT_SENT_TEXT, NOT_SENT) for r in w.records]
        except Exception as e:  # an answer the reader chokes on: this write's clients fail
            return [RecordResult(r, unexpected(f"{w.method} {w.path}", e), REJECTED)
                    for r in w.records]
        return [RecordResult(r) for r in w.records]

    results: list[RecordResult] = []
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for w, outcome in zip(writes, pool.map(make, writes), strict=True):
            results += outcome
            if progress:
                progress(len(w.records))
    return Sent(results, first[0] if first else None)


def configuration_write(
    record: UsageRecord, company: dict, type_: dict, found: list[dict], device_id: str
) -> Write:
    """Create, update (JSON Patch) or leave the client's configuration."""
    w = Write([record])
    values = {
        "backupBillableSpaceGb": float(record.billable_gb),
        "backupYear": record.period.year,
        "backupMonth": record.period.month,
    }
    mine = [c for c in found if (c.get("company") or {}).get("id") == company["id"]]
    if len(mine) > 1:
        ids = ", ".join(str(c.get("id")) for c in mine)
        w.error = (
            f"several {type_['name']!r} configurations with deviceIdentifier {device_id!r} on "
            f"company {company.get('identifier')!r} (ids {ids}); remove all but one"
        )
    elif not mine:
        w.method, w.path = "POST", "/company/configurations"
        w.body = {
            "name": f"rCloud Backup - {record.client}",
            "type": {"id": type_["id"]},
            "company": {"id": company["id"]},
            "deviceIdentifier": device_id,
            **values,
        }
    else:
        held = mine[0]
        same = (
            gb(held.get("backupBillableSpaceGb")) == record.billable_gb.quantize(CENT)
            and held.get("backupYear") == record.period.year
            and held.get("backupMonth") == record.period.month
        )
        if not same:
            w.method, w.path = "PATCH", f"/company/configurations/{int(held['id'])}"
            w.body = [{"op": "replace", "path": k, "value": v} for k, v in values.items()]
    return w


def addition_write(
    records: list[UsageRecord], agreement: dict, product: str, found: list[dict]
) -> Write:
    """Set (never add to) the agreement's addition of `product` to its clients' total GB."""
    w = Write(records)
    total = sum((r.billable_gb for r in records), Decimal(0)).quantize(CENT)
    if len(found) > 1:
        ids = ", ".join(str(a.get("id")) for a in found)
        w.error = (
            f"agreement {agreement.get('name')!r} has several active {product!r} additions "
            f"(ids {ids}); cancel all but one (guessing would bill the wrong line)"
        )
    elif not found:
        period = records[0].period
        w.method, w.path = "POST", f"/finance/agreements/{int(agreement['id'])}/additions"
        w.body = {
            "product": {"identifier": product},
            "quantity": float(total),
            "billCustomer": "Billable",
            "effectiveDate": f"{period.year:04d}-{period.month:02d}-01T00:00:00Z",
        }
    elif gb(found[0].get("quantity")) != total:
        w.method = "PATCH"
        w.path = f"/finance/agreements/{int(agreement['id'])}/additions/{int(found[0]['id'])}"
        w.body = [{"op": "replace", "path": "quantity", "value": float(total)}]
    return w
