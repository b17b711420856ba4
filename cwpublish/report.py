"""The usage report support sends partners when publishing is impossible (source document FAQ).

Per client: name, Managed ID, billable GB, period, whether it reached ConnectWise according
to the ledger, and the value ConnectWise last received (which may differ from today's usage).
As CSV or HTML, to a file or stdout, or emailed to the partner's managers.

Names come from the usage data, i.e. from outside: control characters are shown escaped in
every format, and CSV text cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from cwpublish.config import Config, Partner
from cwpublish.ledger import Ledger
from cwpublish.output import table
from cwpublish.period import Period
from cwpublish.state_keys import state_key
from cwpublish.usage import read_usage

# Scripts read the CSV by position too: new columns go at the end, never in between.
FIELDS = ["client", "managed_id", "billable_gb", "period", "in_connectwise", "in_connectwise_gb"]
NUMERIC = {"billable_gb", "in_connectwise_gb"}  # written as plain numbers, never neutralised
# C0/C1 controls, DEL, line/paragraph separators, bidi overrides and isolates
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection


def build(config: Config, partner: Partner, period: Period) -> dict:
    """The report's rows: every configured client, then usage rows with no client."""
    from cwpublish.notify import local_time
    from cwpublish.period import zone

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
    configured = {c.name for c in partner.clients}
    rows += [
        {
            "client": name,
            "managed_id": "",
            "billable_gb": f"{gb:.2f}",
            "period": str(period),
            "in_connectwise": "no (unmapped: no client in the config)",
            "in_connectwise_gb": "",
        }
        for name, gb in usage.rows.items()
        if name not in configured
    ]
    rows = [{k: visible(v) for k, v in row.items()} for row in rows]
    billable = sum(gb for name, gb in usage.rows.items() if name in configured)
    unmapped = sum(gb for name, gb in usage.rows.items() if name not in configured)
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


def visible(text: str) -> str:
    """`text` with every control or bidi character shown escaped (`\\x1b`, `\\u202e`), so
    each cell stays one line and reads as what it holds."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def csv_cell(field: str, value: str) -> str:
    """A CSV cell a spreadsheet shows as text: a text cell starting like a formula gets a
    leading single quote (OWASP); the number columns stay numbers."""
    if field not in NUMERIC and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        {f: csv_cell(f, visible(str(row.get(f, "")))) for f in FIELDS} for row in report["rows"]
    )
    return out.getvalue()


def to_html(config: Config, report: dict) -> str:
    from cwpublish.notify import render

    return render(config, "report.html", report)


def to_text(report: dict) -> str:
    rows = [[r[f] for f in FIELDS] for r in report["shown"]]
    unmapped = report.get("unmapped_total")
    return "\n".join(
        [
            report["title"],
            "",
            table(
                ["CLIENT", "MANAGED ID", "GB", "PERIOD", "IN CONNECTWISE", "CONNECTWISE GB"],
                rows,
                right=(2, 5),
            ),
            "",
            f"Total billable: {report['total']} GB",
            *([f"Unmapped (no client in the config, not billed): {unmapped} GB"] * bool(unmapped)),
        ]
    )


def _gb(value: Any) -> Decimal | None:
    """A ledger record's billable_gb as GB to 2 places (None if absent or not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):  # not a number, Infinity, or absurdly large
        return None
    return number if number.is_finite() else None


def email(config: Config, partner: Partner, report: dict) -> None:
    """Send the report to the partner's managers (text, HTML and the CSV attached)."""
    from cwpublish.errors import InputError
    from cwpublish.notify import build_message, send

    if config.smtp is None:
        raise InputError(f"--email: {config.path} has no smtp section (the mail server to use)")
    if not partner.managers:
        raise InputError(f"--email: partner {partner.name} has no managers (partners[].managers)")
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
