"""Deciding and making the REST writes: per client a configuration, or per agreement the
addition whose quantity is the sum of its clients' GB. Nothing is written when ConnectWise
already holds the value; the writes run `parallel_requests` at a time. A create is never
repeated blind (create.py), and every answer is compared with what was sent: a value
ConnectWise did not keep fails that client and is not counted as received."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from cwpublish import interrupt
from cwpublish.domain.period import Period
from cwpublish.domain.record import (
    INTERRUPTED_TEXT,
    NOT_SENT,
    NOT_SENT_TEXT,
    REJECTED,
    Progress,
    RecordResult,
    UsageRecord,
)
from cwpublish.errors import ConnectWiseError, unexpected
from cwpublish.targets.base import Sent
from cwpublish.targets.connectwise_rest import lookups
from cwpublish.targets.connectwise_rest.answers import ref_id
from cwpublish.targets.connectwise_rest.client import RestClient, RestRejected
from cwpublish.targets.connectwise_rest.create import Finder, create
from cwpublish.targets.connectwise_rest.rules import (
    CENT,
    configuration_name,
    in_effect,
    not_kept,
    starts_later,
)
from cwpublish.targets.connectwise_rest.settings import device_id_problem


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
    expected: dict[str, object] = field(default_factory=dict)  # what the record must hold
    find: Finder | None = None  # POST: re-reads the records it could have made
    summed: list = field(default_factory=list)  # summing.OtherClient counted in its total
    note: str | None = None  # what it sets, said once it is done (addition mode: history)


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
        try:
            error = _make(client, w)
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
        if error:
            return [RecordResult(r, error, REJECTED) for r in w.records]
        return [RecordResult(r) for r in w.records]

    results: list[RecordResult] = []
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for w, outcome in zip(writes, pool.map(make, writes), strict=True):
            results += outcome
            if progress:
                progress(len(w.records))
    return Sent(results, first[0] if first else None)


def _make(client: RestClient, w: Write) -> str | None:
    """Make one write; why its records fail (None: ConnectWise holds what was sent)."""
    if w.method == "POST":
        return create(client, w.path, w.body, w.expected, w.find).error  # type: ignore[arg-type]
    try:
        answer = client.patch(w.path, w.body)  # type: ignore[arg-type]
    except ConnectWiseError as e:
        if e.kind != "response":
            raise
        return f"{e}; not counted as received"
    if not isinstance(answer, dict):
        return "ConnectWise answered the update without the record; not counted as received"
    return not_kept(answer, w.expected)


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
    w.expected = {**values, "backupBillableSpaceGb": record.billable_gb.quantize(CENT)}
    mine = [c for c in found if ref_id(c, "company") == company["id"]]
    if problem := device_id_problem(device_id):
        w.error = problem
    elif len(mine) > 1:
        ids = ", ".join(str(c.get("id")) for c in mine)
        w.error = (
            f"several {type_['name']!r} configurations with deviceIdentifier {device_id!r} on "
            f"company {company.get('identifier')!r} (ids {ids}); remove all but one"
        )
    elif not mine:
        w.method, w.path = "POST", "/company/configurations"
        w.body = {
            "name": configuration_name(record.client),
            "type": {"id": type_["id"]},
            "company": {"id": company["id"]},
            "deviceIdentifier": device_id,
            **values,
        }
        w.expected["deviceIdentifier"] = device_id
        w.find = _configurations_of(type_["id"], device_id, company["id"])
    elif not_kept(mine[0], w.expected):
        w.method, w.path = "PATCH", f"/company/configurations/{int(mine[0]['id'])}"
        w.body = [{"op": "replace", "path": k, "value": v} for k, v in values.items()]
    return w


def _configurations_of(type_id: int, device_id: str, company_id: int) -> Finder:
    """Re-reads the company's configurations of that type and deviceIdentifier."""

    def find(client: RestClient) -> list[dict]:
        found = lookups.configurations(client, type_id, [device_id])
        return [c for c in found.get(device_id.casefold(), [])
                if ref_id(c, "company") == company_id]

    return find


def addition_write(
    records: list[UsageRecord], agreement: dict, product: str, found: list[dict]
) -> Write:
    """Set (never add to) the quantity of the agreement's addition of `product` that is in
    effect for the period (rules.in_effect: dates decide, not the status word) to its
    clients' total GB; none in effect: create one from the period's first day, unless a
    line starting after the period exists (the new one would bill beside it: refused)."""
    w = Write(records)
    period = records[0].period
    total = sum((r.billable_gb for r in records), Decimal(0)).quantize(CENT)
    w.note = f"addition {product} on agreement {agreement.get('name')!r} set to {total} GB"
    w.expected = {"quantity": total}
    billing = [a for a in found if in_effect(a, period)]
    later = [a for a in found if starts_later(a, period)]
    agreement_path = f"/finance/agreements/{int(agreement['id'])}/additions"
    if len(billing) > 1:
        ids = ", ".join(str(a.get("id")) for a in billing)
        w.error = (
            f"agreement {agreement.get('name')!r} has several active {product!r} additions "
            f"(in effect for {period}: ids {ids}); cancel all but one (guessing would bill the "
            "wrong line)"
        )
    elif not billing and later:
        starts = ", ".join(
            f"id {a.get('id')} starts {str(a.get('effectiveDate'))[:10]}" for a in later
        )
        w.error = (
            f"agreement {agreement.get('name')!r} has no {product!r} addition in effect for "
            f"{period}, but one that bills after it ({starts}, after {period}): a new line "
            f"for {period} would bill beside it from then on, a doubled line; update that "
            "line or its effective date by hand, then publish again"
        )
    elif not billing:
        w.method, w.path = "POST", agreement_path
        w.body = {
            "product": {"identifier": product},
            "quantity": float(total),
            "billCustomer": "Billable",
            "effectiveDate": f"{period.year:04d}-{period.month:02d}-01T00:00:00Z",
        }
        w.find = _additions_of(int(agreement["id"]), product, period)
    elif not_kept(billing[0], w.expected):
        w.method = "PATCH"
        w.path = f"{agreement_path}/{int(billing[0]['id'])}"
        w.body = [{"op": "replace", "path": "quantity", "value": float(total)}]
    return w


def _additions_of(agreement_id: int, product: str, period: Period) -> Finder:
    """Re-reads the agreement's additions of the product in effect for the period."""

    def find(client: RestClient) -> list[dict]:
        return [a for a in lookups.additions(client, agreement_id, product)
                if in_effect(a, period)]

    return find
