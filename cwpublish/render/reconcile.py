"""The reconciliation (usecases/reconcile.py builds it) as a text table, CSV and HTML.

Names come from the usage data and ConnectWise, i.e. from outside: control characters are
shown escaped, CSV text cells a spreadsheet would run as a formula are neutralised, and HTML
is escaped.
"""

from __future__ import annotations

import csv
import html
import io

from cwpublish.render.output import table
from cwpublish.render.report import visible

# Scripts read the CSV by position too: new columns go at the end, never in between.
FIELDS = [
    "kind", "client", "managed_id", "agreement", "usage_gb", "sent_gb", "sent_at", "sent_by",
    "connectwise_gb", "unit_price", "less_included", "next_invoice_amount",
    "last_invoice_date", "next_invoice_date", "cost", "margin", "status", "causes",
]
NUMERIC = {"usage_gb", "sent_gb", "connectwise_gb", "unit_price", "less_included",
           "next_invoice_amount", "cost", "margin"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection


def lines(report: dict) -> list[dict]:
    """Every line of the report, clients then agreements, flattened to text cells."""
    out = []
    for kind, rows in (("client", report["clients"]), ("agreement", report["agreements"])):
        for r in rows:
            cells = {f: r.get(f) for f in FIELDS}
            cells["kind"] = kind
            if kind == "agreement":
                cells["managed_id"] = " ".join(r["managed_ids"])
            cells["causes"] = "; ".join(f"{c['cause']}: {c['detail']}" for c in r["causes"])
            out.append({f: visible("" if v is None else str(v)) for f, v in cells.items()})
    return out


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in lines(report):
        writer.writerow({
            f: "'" + v if f not in NUMERIC and v.startswith(_FORMULA_START) else v
            for f, v in row.items()
        })
    return out.getvalue()


def to_text(report: dict) -> str:
    clients = [
        [r["client"], r["managed_id"], r["usage_gb"], r["sent_gb"], r["sent_by"],
         r["connectwise_gb"] or visible(str(report_cw(r))), r["cost"], r["status"]]
        for r in report["clients"]
    ]
    parts = [
        report["title"], "",
        table(["CLIENT", "MANAGED ID", "USAGE GB", "SENT GB", "SENT BY", "CONNECTWISE",
               "COST", "STATUS"], clients, right=(2, 3, 6)),
    ]
    if report["agreements"]:
        parts += ["", table(
            ["AGREEMENT", "QUANTITY", "SENT GB", "UNIT PRICE", "LESS INCL.", "NEXT INVOICE",
             "AMOUNT", "LAST INVOICE", "COST", "MARGIN", "STATUS"],
            [[visible(str(a["agreement"] or a["problem"] or "")), a["connectwise_gb"],
              a["sent_gb"], a["unit_price"], a["less_included"], a["next_invoice_date"],
              a["next_invoice_amount"], a["last_invoice_date"], a["cost"], a["margin"],
              a["status"]] for a in report["agreements"]],
            right=(1, 2, 3, 4, 6, 8, 9),
        )]
    causes = [
        f"  {r.get('client') or r.get('agreement')}: {c['cause']}: {c['detail']}"
        for r in report["clients"] + report["agreements"] for c in r["causes"]
    ]
    parts += ["", "Differences:" if causes else "Everything agrees.", *map(visible, causes)]
    if report["unmapped"]:
        parts.append(f"Unmapped usage rows (not billed): {visible(', '.join(report['unmapped']))}")
    return "\n".join(parts) + "\n"


def report_cw(row: dict) -> str:
    """What the CONNECTWISE cell says when there is no value to show."""
    return row.get("connectwise") or "-"


def to_html(report: dict) -> str:
    rows = lines(report)
    head = "".join(f"<th>{html.escape(f)}</th>" for f in FIELDS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(r[f])}</td>" for f in FIELDS) + "</tr>"
        for r in rows
    )
    title = html.escape(visible(report["title"]))
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>Status: {html.escape(report['status'])}</p>"
        f"<table border=\"1\"><tr>{head}</tr>{body}</table></body></html>\n"
    )
