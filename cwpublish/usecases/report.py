"""The usage report support sends partners when publishing is impossible (source document FAQ).

Per client: name, Managed ID, billable GB, period, whether it reached ConnectWise according
to the ledger, and the value ConnectWise last received (which may differ from today's usage).
As CSV or HTML, to a file or stdout, or emailed to the partner's managers.

Names come from the usage data, i.e. from outside: control characters are shown escaped in
every format, and CSV text cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from cwpublish.config.model import Config, Partner, state_key
from cwpublish.domain.period import Period, zone
from cwpublish.domain.record import unmapped_names
from cwpublish.errors import InputError
from cwpublish.notify.email import build_message, local_time, render, send
from cwpublish.publish.usage import read_usage
from cwpublish.render.report import NUMERIC, to_csv, to_text, visible
from cwpublish.state.ledger import Ledger


def build(config: Config, partner: Partner, period: Period) -> dict:
    """The report's rows: every configured client, then usage rows with no client."""

    tz = zone(partner.timezone)  # times as the partner reads them, as in its emails
    usage = read_usage(partner.usage, period)
    ledger, key = Ledger(config.state_dir), state_key(partner)
    rows = []
    for c in partner.clients:
        found = ledger.last(key, str(period), c.managed_id)
        gb = usage.rows.get(c.name)
        sent = _gb(found[1].get("billable_gb")) if found else None
        if found:
            mode, last = found
            reached = f"yes, {_when(last.get('at'), tz, local_time)} ({mode}, by {last.get('by')})"
            if gb is not None and sent is not None and sent != gb:
                reached += f" (different: ConnectWise has {sent:.2f} GB)"
        else:
            reached = "no"
        rows.append(
            {
                "client": c.name,
                "managed_id": c.managed_id,
                "billable_gb": "" if gb is None else f"{gb:.2f}",
                "period": str(period),
                "in_connectwise": reached if gb is not None else f"{reached} (no usage row)",
                "in_connectwise_gb": "" if sent is None else f"{sent:.2f}",
            }
        )
    unmapped_rows = unmapped_names(usage.rows, (c.name for c in partner.clients))
    rows += [
        {
            "client": name,
            "managed_id": "",
            "billable_gb": f"{usage.rows[name]:.2f}",
            "period": str(period),
            "in_connectwise": "no (unmapped: no client in the config)",
            "in_connectwise_gb": "",
        }
        for name in unmapped_rows
    ]
    rows = [{k: visible(v) for k, v in row.items()} for row in rows]
    unmapped = sum(usage.rows[name] for name in unmapped_rows)
    mapped = set(usage.rows) - set(unmapped_rows)
    billable = sum(gb for name, gb in usage.rows.items() if name in mapped)
    return {
        "title": f"rCloud usage report: {partner.name} {period}",
        "partner": partner.name,
        "period": str(period),
        "source": visible(usage.source),
        "rows": rows,
        # for people (text, HTML): thousands separators as in the emails; the CSV stays plain
        "shown": [{**r, **{f: _grouped(r[f]) for f in NUMERIC}} for r in rows],
        "total": f"{billable:,.2f}",  # the billable total: configured clients only
        "unmapped_total": f"{unmapped:,.2f}" if unmapped else "",
        "generated": local_time(datetime.now().astimezone().isoformat(), tz),
    }


def _when(iso: Any, tz: Any, local_time: Any) -> str:
    """A ledger time in the partner's zone (as recorded if it cannot be read)."""
    try:
        return local_time(str(iso), tz)
    except (TypeError, ValueError):
        return str(iso)


def _grouped(value: str) -> str:
    """`1250.46` as `1,250.46` (empty stays empty)."""
    try:
        return f"{Decimal(value):,.2f}" if value else value
    except (InvalidOperation, ValueError):
        return value


def to_html(config: Config, report: dict) -> str:
    return render(config, "report.html", report)


def _gb(value: Any) -> Decimal | None:
    """A ledger record's billable_gb as GB to 2 places (None if absent or not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):  # not a number, Infinity, or absurdly large
        return None
    return number if number.is_finite() else None


def check_can_email(config: Config, partner: Partner) -> None:
    """--email needs the smtp section and the partner's managers (report and reconcile)."""
    if config.smtp is None:
        raise InputError(f"--email: {config.path} has no smtp section (the mail server to use)")
    if not partner.managers:
        raise InputError(f"--email: partner {partner.name} has no managers (partners[].managers)")


def email(config: Config, partner: Partner, report: dict) -> None:
    """Send the report to the partner's managers (text, HTML and the CSV attached)."""
    check_can_email(config, partner)
    subject = f"[cwpublish] {report['title']}"
    message = build_message(
        config, partner, subject, to_text(report), to_html(config, report)
    )
    message.add_attachment(
        to_csv(report).encode("utf-8"),
        maintype="text",
        subtype="csv",
        filename=f"{partner.name}-{report['period']}-usage.csv",
    )
    send(config.smtp, message)
