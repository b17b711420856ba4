"""`reconcile`: per client (and per agreement in addition mode) the usage, what cwpublish last
sent (the ledger), what ConnectWise holds now (read over REST through the target's
`holdings`; SOAP cannot be read back, so usage is compared with the ledger only), the
agreement's invoice dates, the addition's price, what the next invoice bills, and with
`cost_per_gb` the cost and margin. Each difference is marked with its cause (CAUSES); the
command exits 3 when there is one. Read-only: ConnectWise is only read (GET), nothing is
written anywhere but the output asked for.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cwpublish.config.model import Client, Config, Partner, state_key
from cwpublish.domain.period import Period, zone
from cwpublish.errors import EXIT_OK, EXIT_PARTIAL
from cwpublish.notify.email import build_message, local_time, send
from cwpublish.publish.connection import open_target
from cwpublish.publish.invoicing import scheduled_day
from cwpublish.publish.usage import read_usage
from cwpublish.render.reconcile import to_csv, to_html, to_text
from cwpublish.state.ledger import Ledger
from cwpublish.targets.registry import target_class
from cwpublish.usecases.report import _gb, check_can_email

# The causes of a difference, as `--json` and the CSV name them (a contract: extend only).
CAUSES = {
    "never_published": "never published: cwpublish has not sent this period",
    "usage_changed": "usage changed since publishing",
    "edited_in_connectwise": "edited in ConnectWise: it holds another value than was sent",
    "missed_invoice": "missed its invoice: the agreement was invoiced without this usage",
    "not_in_connectwise": "ConnectWise has no record to compare",
    "below_cost": "billed below cost",
}
SOAP_UNREADABLE = "cannot be read back over SOAP (compared with the ledger only)"
CENT = Decimal("0.01")


def build(config: Config, partner: Partner, period: Period) -> dict:
    """The reconciliation of one partner's period (JSON-ready; `exit_code` 0 or 3)."""
    tz = zone(partner.timezone)
    usage = read_usage(partner.usage, period)
    ledger, key = Ledger(config.state_dir), state_key(partner)
    clients = [c for c in partner.clients if c.publish]
    sent = {c.managed_id: ledger.last(key, str(period), c.managed_id) for c in clients}
    rows = [_client_row(c, usage.rows.get(c.name), sent[c.managed_id], partner, tz)
            for c in clients]
    by_key = {r["managed_id"]: r for r in rows}
    agreements: list[dict] = []
    reads = target_class(partner.connectwise.api).reads_back
    if not reads:
        for r in rows:
            r["connectwise"] = SOAP_UNREADABLE
    else:
        with open_target(partner) as target:
            held = target.holdings([c.managed_id for c in clients], period)
        for h in held:
            if h.invoices is None and len(h.keys) == 1 and h.unit_price is None:
                _configuration(by_key[h.keys[0]], h, period)
            else:
                agreements.append(_agreement(h, [by_key[k] for k in h.keys], partner, period))
    for r in rows + agreements:
        r["status"] = "differs" if r["causes"] else "agrees"
    differs = any(r["causes"] for r in rows + agreements)
    return {
        "title": f"rCloud reconciliation: {partner.name} {period}",
        "partner": partner.name,
        "period": str(period),
        "api": partner.connectwise.api,
        "source": usage.source,
        "read_back": reads,
        "status": "differs" if differs else "agrees",
        "exit_code": EXIT_PARTIAL if differs else EXIT_OK,
        "clients": rows,
        "agreements": agreements,
        "unmapped": sorted(set(usage.rows) - {c.name for c in partner.clients}),
        "generated": local_time(datetime.now().astimezone().isoformat(), tz),
    }


def _cause(row: dict, cause: str, detail: str) -> None:
    row["causes"].append({"cause": cause, "detail": detail})


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _client_row(client: Client, gb: Decimal | None, last: Any, partner: Partner, tz) -> dict:
    """One client: usage against the ledger (what cwpublish last sent, when and by whom)."""
    mode, record = last if last else (None, {})
    sent = _gb(record.get("billable_gb")) if last else None
    usage = None if gb is None else gb.quantize(CENT)
    cost_per_gb = client.cost_per_gb if client.cost_per_gb is not None else partner.cost_per_gb
    row = {
        "client": client.name, "managed_id": client.managed_id,
        "usage_gb": None if usage is None else str(usage),
        "sent_gb": None if sent is None else str(sent),
        "sent_at": record.get("at"), "sent_by": record.get("by"), "sent_mode": mode,
        "sent_at_local": local_time(record.get("at"), tz) if last else None,
        "connectwise_gb": None, "connectwise": None,
        "cost_per_gb": None if cost_per_gb is None else str(cost_per_gb),
        "cost": _money(usage * cost_per_gb) if usage is not None and cost_per_gb is not None
        else None,
        "causes": [],
    }
    if last is None and usage is not None:
        _cause(row, "never_published", f"{usage} GB in the usage data, nothing sent")
    elif last is not None and sent != usage:
        now = "no usage row now" if usage is None else f"the usage is {usage} GB now"
        _cause(row, "usage_changed", f"{sent} GB sent on {row['sent_at_local']}; {now}")
    return row


def _configuration(row: dict, held: Any, period: Period) -> None:
    """Configuration mode: the client's record against what was sent."""
    if held.problem:
        row["connectwise"] = held.problem
        if row["sent_gb"] is not None:
            _cause(row, "not_in_connectwise", held.problem)
        return
    row["connectwise_gb"] = None if held.gb is None else str(held.gb)
    if held.period != str(period):
        row["connectwise"] = f"holds {held.period or 'no month'}"
        if row["sent_gb"] is not None and (held.period is None or held.period < str(period)):
            _cause(row, "edited_in_connectwise",
                   f"sent {row['sent_gb']} GB for {period}; ConnectWise holds "
                   f"{held.gb} GB for {held.period or 'no month'}")
        return
    row["connectwise"] = f"{held.gb} GB for {period}"
    if row["sent_gb"] is not None and str(held.gb) != row["sent_gb"]:
        _cause(row, "edited_in_connectwise",
               f"sent {row['sent_gb']} GB; ConnectWise holds {held.gb} GB")


def _agreement(held: Any, rows: list[dict], partner: Partner, period: Period) -> dict:
    """Addition mode: one agreement's addition against the sum of what was sent for its
    clients, its invoice dates, what the next invoice bills, the cost and the margin."""
    inv = held.invoices
    sent = [r["sent_gb"] for r in rows]
    usage = [r["usage_gb"] for r in rows]
    costs = [r["cost"] for r in rows]
    amount = held.amount()
    cost = sum(Decimal(c) for c in costs) if costs and None not in costs else None
    for r in rows:
        r["agreement"] = inv.agreement if inv else None
        r["connectwise"] = "see its agreement" if not held.problem else held.problem
    out = {
        "agreement": inv.agreement if inv else None,
        "agreement_id": inv.agreement_id if inv else None,
        "managed_ids": list(held.keys),
        "usage_gb": str(sum(Decimal(u) for u in usage if u is not None)),
        "sent_gb": None if None in sent else str(sum(Decimal(s) for s in sent)),
        "connectwise_gb": None if held.gb is None else str(held.gb),
        "unit_price": None if held.unit_price is None else str(held.unit_price),
        "less_included": None if held.less_included is None else str(held.less_included),
        "next_invoice_amount": _money(amount),
        "last_invoice_date": inv.last.isoformat() if inv and inv.last else None,
        "next_invoice_date": inv.next.isoformat() if inv and inv.next else None,
        "cost": _money(cost),
        "margin": _money(amount - cost) if amount is not None and cost is not None else None,
        "problem": held.problem,
        "causes": [],
    }
    if held.problem:
        if any(s is not None for s in sent):
            _cause(out, "not_in_connectwise", held.problem)
        return out
    if out["sent_gb"] is not None and Decimal(out["sent_gb"]) != held.gb:
        _cause(out, "edited_in_connectwise",
               f"sent {out['sent_gb']} GB in all; the addition's quantity is {held.gb}")
    if inv is not None and (why := _missed(inv, rows, partner, period)):
        _cause(out, "missed_invoice", why)
    if amount is not None and cost is not None and amount < cost:
        _cause(out, "below_cost", f"the next invoice bills {out['next_invoice_amount']}, "
               f"the usage costs {out['cost']}")
    return out


def _missed(inv: Any, rows: list[dict], partner: Partner, period: Period) -> str | None:
    """Why the agreement's last invoice went out without this period's usage, if it did: it
    is dated on or after the day the period is published (the schedule's, else the 1st of
    the next month) and a client's usage was sent after it, or never."""
    due = scheduled_day(partner, period) or date(period.next().year, period.next().month, 1)
    if inv.last is None or inv.last < due:
        return None
    tz = zone(partner.timezone)
    late = []
    for r in rows:
        if r["usage_gb"] is None:
            continue
        at = _day(r["sent_at"], tz)
        if at is None or at > inv.last:
            late.append(r["managed_id"])
    if not late:
        return None
    return (f"invoice of {inv.last.isoformat()} (on or after {due.isoformat()}, the day "
            f"{period} is published) went out before the usage of {', '.join(late)} was sent")


def _day(iso: Any, tz: Any) -> date | None:
    try:
        return datetime.fromisoformat(str(iso)).astimezone(tz).date() if iso else None
    except ValueError:
        return None


def render(report: dict, fmt: str) -> str:
    """The report as table, csv or html (json is dumped by the CLI)."""
    return {"csv": to_csv, "html": to_html}.get(fmt, to_text)(report)


def email(config: Config, partner: Partner, report: dict) -> None:
    """Send the reconciliation to the partner's managers (text, HTML, the CSV attached)."""
    check_can_email(config, partner)
    subject = f"[cwpublish] {report['title']}: {report['status']}"
    message = build_message(config, partner, subject, to_text(report), to_html(report))
    message.add_attachment(to_csv(report).encode("utf-8"), maintype="text", subtype="csv",
                           filename=f"{partner.name}-{report['period']}-reconcile.csv")
    send(config.smtp, message)
