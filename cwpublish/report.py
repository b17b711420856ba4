"""The usage report support sends partners when publishing is impossible (source document FAQ).

Per client: name, Managed ID, billable GB, period, and whether it reached ConnectWise according
to the ledger. As CSV or HTML, to a file or stdout, or emailed to the partner's managers.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from cwpublish.config import Config, Partner
from cwpublish.ledger import Ledger
from cwpublish.output import table
from cwpublish.period import Period
from cwpublish.usage import read_usage

FIELDS = ["client", "managed_id", "billable_gb", "period", "in_connectwise"]


def build(config: Config, partner: Partner, period: Period) -> dict:
    """The report's rows: every configured client, then usage rows with no client."""
    usage = read_usage(partner.usage, period)
    ledger = Ledger(config.state_dir)
    rows = []
    for c in partner.clients:
        found = ledger.last(partner.name, str(period), c.managed_id)
        if found:
            mode, last = found
            reached = f"yes, {last.get('at')} ({mode}, by {last.get('by')})"
        else:
            reached = "no"
        gb = usage.rows.get(c.name)
        rows.append(
            {
                "client": c.name,
                "managed_id": c.managed_id,
                "billable_gb": "" if gb is None else f"{gb:.2f}",
                "period": str(period),
                "in_connectwise": reached if gb is not None else f"{reached} (no usage row)",
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
        }
        for name, gb in usage.rows.items()
        if name not in configured
    ]
    total = sum(usage.rows.values())
    return {
        "title": f"rCloud usage report: {partner.name} {period}",
        "partner": partner.name,
        "period": str(period),
        "source": usage.source,
        "rows": rows,
        "total": f"{total:.2f}",
        "generated": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report["rows"])
    return out.getvalue()


def to_html(config: Config, report: dict) -> str:
    from cwpublish.notify import render

    return render(config, "report.html", report)


def to_text(report: dict) -> str:
    rows = [[r[f] for f in FIELDS] for r in report["rows"]]
    return "\n".join(
        [
            report["title"],
            "",
            table(["CLIENT", "MANAGED ID", "GB", "PERIOD", "IN CONNECTWISE"], rows, right=(2,)),
            "",
            f"Total: {report['total']} GB",
        ]
    )


def email(config: Config, partner: Partner, report: dict) -> None:
    """Send the report to the partner's managers (text, HTML and the CSV attached)."""
    from cwpublish.errors import InputError
    from cwpublish.notify import build_message, send

    if config.smtp is None or not partner.managers:
        raise InputError(f"--email: {partner.name} has no managers or the config no smtp")
    message = build_message(
        config, partner, report["title"], to_text(report), to_html(config, report)
    )
    message.add_attachment(
        to_csv(report).encode("utf-8"),
        maintype="text",
        subtype="csv",
        filename=f"{partner.name}-{report['period']}-usage.csv",
    )
    send(config.smtp, message)
