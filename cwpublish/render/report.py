"""The usage report as CSV and as text (usecases/report.py builds it, notify renders its HTML).

Names come from the usage data, i.e. from outside: control characters are shown escaped in
every format, and CSV text cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io

from cwpublish.render.output import table
from cwpublish.text.sanitize import shown

# Scripts read the CSV by position too: new columns go at the end, never in between.
FIELDS = ["client", "managed_id", "billable_gb", "period", "in_connectwise", "in_connectwise_gb"]
NUMERIC = {"billable_gb", "in_connectwise_gb"}  # written as plain numbers, never neutralised
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection


def visible(text: str) -> str:
    """`text` with every control or bidi character shown escaped (`\\x1b`, `\\u202e`), so
    each cell stays one line and reads as what it holds (text/sanitize.shown)."""
    return shown(text)


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
