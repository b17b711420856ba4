"""The REST side's records as text (`show`) and HTML (GET /): configurations, additions,
invoices."""

from __future__ import annotations

import html
from typing import Any


def _rows(state: dict) -> tuple[list[tuple], list[tuple], list[tuple]]:
    configs, additions, invoices = [], [], []
    for tenant, companies in sorted((state.get("rest") or {}).items()):
        for ident, held in sorted(companies.items()):
            configs += [(tenant, ident, c) for c in held["configurations"]]
            additions += [(tenant, ident, a) for a in held["additions"]]
            invoices += [(tenant, ident, v) for v in held.get("invoices", [])]
    return configs, additions, invoices


def _num(value: Any, width: int) -> str:
    return f"{value:>{width}.2f}" if isinstance(value, int | float) else f"{'-':>{width}}"


def format_rest_tab(state: dict) -> str:
    """The REST side as text for `show`: configurations, agreement additions (quantity, and
    what the last invoice billed), then invoices if any; "" if no tenant answers REST."""
    if not state.get("rest"):
        return ""
    configs, additions, invoices = _rows(state)
    lines = ["REST API v3.0 configurations",
             f"{'COMPANY ID':<12} {'IDENTIFIER':<14} {'ID':>6} {'BILLABLE GB':>12} {'YEAR':>5} "
             f"{'MONTH':>5}  TYPE / DEVICE IDENTIFIER"]
    lines += [f"{t:<12} {i:<14} {c['id']:>6} {_num(c['backupBillableSpaceGb'], 12)} "
              f"{c['backupYear'] or '-':>5} {c['backupMonth'] or '-':>5}  "
              f"{c['type']} / {c['deviceIdentifier'] or '-'}" for t, i, c in configs]
    lines += ["(none)"] if not configs else []
    lines += ["", "REST API v3.0 agreement additions",
              f"{'COMPANY ID':<12} {'IDENTIFIER':<14} {'ID':>6} {'QUANTITY':>12} {'BILLED':>10}"
              "  PRODUCT / AGREEMENT"]
    lines += [f"{t:<12} {i:<14} {a['id']:>6} {_num(a['quantity'], 12)} "
              f"{_num(a.get('billedQuantity'), 10)}  {a['product']} / "
              f"{a['agreement']} (#{a['agreement_id']})" for t, i, a in additions]
    lines += ["(none)"] if not additions else []
    if invoices:
        lines += ["", "REST API v3.0 invoices",
                  f"{'COMPANY ID':<12} {'IDENTIFIER':<14} {'NUMBER':<15} {'DATE':<10} "
                  f"{'TOTAL':>10}  AGREEMENT"]
        lines += [f"{t:<12} {i:<14} {v['number']:<15} {(v['date'] or '-')[:10]:<10} "
                  f"{_num(v['total'], 10)}  #{v['agreement_id']}" for t, i, v in invoices]
    return "\n".join(lines)


def render_rest_tab(state: dict) -> str:
    """The REST side for GET /, after the SOAP table; "" if no tenant answers REST."""
    text = format_rest_tab(state)
    return f"<h1>REST API v3.0</h1><pre>{html.escape(text)}</pre>" if text else ""
