"""Human-readable text: aligned tables and one-line summaries (JSON output is the entry dicts).

Colour is applied only when the caller says the stream is a terminal and NO_COLOR is unset.
"""

from __future__ import annotations

import os
from typing import Any

from cwpublish.domain.advice import has_steps, next_steps
from cwpublish.domain.period import zone
from cwpublish.domain.record import Entry, EntrySummary, PublishStatus, Status
from cwpublish.text.redaction import clean_line, may_hold_secret
from cwpublish.text.sanitize import all_one_line, one_line

_COLOURS = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2"}
_STATUS_COLOUR = {
    Status.PUBLISHED: "green",
    PublishStatus.SUCCESS: "green",
    Status.FAILED: "red",
    PublishStatus.PARTIAL: "yellow",
    Status.SKIPPED: "dim",
    "unmapped": "yellow",
    "sent": "green",
}


def colour_enabled(isatty: bool) -> bool:
    return isatty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str | None, enabled: bool) -> str:
    if not enabled or not colour:
        return text
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"


def table(
    headers: list[str],
    rows: list[list[Any]],
    colour: bool = False,
    status_col: int | None = None,
    right: tuple[int, ...] = (),
) -> str:
    """Rows aligned under headers; `status_col` is coloured by its value."""

    # Cells hold text from outside (usage names, fault texts): one line, no control characters,
    # no secret. Checked once for the whole table, cell by cell only when that finds something.
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    flat = [v for row in cells for v in row]
    if not all_one_line(flat) or may_hold_secret("\n".join(flat)):
        cells = [[clean_line(v) for v in row] for row in cells]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: list[str], is_header: bool = False) -> str:
        out = []
        for i, v in enumerate(values):
            padded = v.rjust(widths[i]) if i in right else v.ljust(widths[i])
            if is_header:
                padded = paint(padded, "bold", colour)
            elif i == status_col:
                padded = paint(padded, _STATUS_COLOUR.get(v), colour)
            out.append(padded)
        return "  ".join(out).rstrip()

    if colour:
        return "\n".join([line(headers, True), *(line(r) for r in cells)])
    # Without colour, one format string aligns a row (a 10,000-row table in a few ms).
    fmt = "  ".join(f"{{:{'>' if i in right else '<'}{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*headers).rstrip(), *(fmt.format(*r).rstrip() for r in cells)])


def gb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def summary(entry: Entry | EntrySummary, dry_run: bool = False) -> str:
    """`published 12 of 12 clients`, or `FAILED: reason` (output; notify/email.py subjects);
    `dry_run`: what a preview would do."""
    by_status = entry.by_status()
    published = by_status.get(Status.PUBLISHED, 0)
    failed = by_status.get(Status.FAILED, 0)
    total = sum(n for status, n in by_status.items() if status != Status.SKIPPED)
    if dry_run:  # nothing was sent: say what would happen
        if entry.error:
            return f"would publish nothing: {entry.error}"
        would = by_status.get(Status.WOULD_PUBLISH, 0)
        refused = total - would
        text = f"would publish {would} of {total} client{'s' if total != 1 else ''}"
        return text + (f" ({refused} would not)" if refused else "")
    if entry.status == PublishStatus.FAILED:
        reason = entry.error or (
            f"{failed} of {total} clients failed" if total else "nothing published"
        )
        return f"FAILED: {reason}"
    text = f"published {published} of {total} client{'s' if total != 1 else ''}"
    not_sent = entry.not_sent()  # stopped before sending (an interrupt, a failed login)
    parts = [f"{failed - not_sent} failed"] if failed > not_sent else []
    parts += [f"{not_sent} not sent"] if not_sent else []
    return text + (f" ({', '.join(parts)})" if parts else "")


def entry_text(
    entry: Entry,
    colour: bool = False,
    api: str | None = None,
    attention_only: bool = False,
    preview: dict | None = None,
) -> str:
    """The per-client result table of one publish, with unmapped rows and a summary line
    (`attention_only`: beyond a screenful, the published rows are left out and counted;
    `preview`: a dry run's preview, which `entry` shows, and whose JSON the advice reads)."""
    shown = [c for c in entry.clients if not attention_only or c.status != Status.PUBLISHED]
    if entry.usage_unreadable:  # one error says what to fix; no row was sent
        shown = []
    rows = [[c.name, c.managed_id, gb(c.billable_gb), c.status, c.error or ""] for c in shown]
    rows += [
        [u["client"], "-", gb(u["billable_gb"]), "unmapped", "no client in the config"]
        for u in entry.unmapped
    ]
    head = (
        f"{entry.partner} {entry.period} ({entry.mode}, by {entry.initiated_by})"
        f" -> {entry.site}"
    )
    body = table(["CLIENT", "MANAGED ID", "GB", "RESULT", "REASON"], rows, colour, 3, (2,))
    if not rows and entry.usage_unreadable:
        body = f"  usage not read: {entry.usage_source or 'the usage data'}"
    status_colour = _STATUS_COLOUR.get(entry.status)

    invoices = entry.invoices
    lines = [
        f"  invoices: {invoice_line(i)}"
        for i in (invoices if isinstance(invoices, list) else [])
        if isinstance(i, dict)
    ]
    lines = [f"  set: {a}" for a in entry.actions] + lines
    # the advice reads the entry's JSON shape (domain/advice.py; a preview's rows hold `held`)
    if preview is not None:
        lines += [f"  next: {step}" for step in next_steps(preview, api)]
    elif has_steps(entry.status):  # a success's 5,000 rows are not turned into JSON for nothing
        lines += [f"  next: {step}" for step in next_steps(entry.to_dict(), api)]
    if len(shown) < len(entry.clients) and not entry.usage_unreadable:
        hidden = len(entry.clients) - len(shown)
        lines.insert(0, f"  ({hidden} published row(s) not shown; -v or --json shows every row)")
    note = entry.notification
    if note and note.get("status") != "disabled":
        lines.append(f"email: {_notification_text(note)}")
    outcome = f"{entry.partner} {entry.period}: {summary(entry, preview is not None)}"
    return "\n".join(
        [
            paint(_line(head), "bold", colour),
            body,
            paint(_line(outcome), status_colour, colour),
            *map(_line, lines),
        ]
    )


def invoice_line(invoice: dict) -> str:
    """An agreement's invoice dates, from an entry's `invoices` row."""
    return (
        f"agreement {invoice.get('agreement')!r}: last invoice "
        f"{invoice.get('last_invoice_date') or 'none yet'}, next invoice "
        f"{invoice.get('next_invoice_date') or 'not scheduled'}"
    )


def _line(text: str) -> str:
    """A line of output built from recorded texts: one line, no control character, no secret."""

    return clean_line(text)


def plan_text(partner: str, period: str, site: str, rows: list[list[Any]]) -> str:
    return "\n".join(
        [
            f"{partner} {period} -> {site}",
            table(["CLIENT", "MANAGED ID", "GB", "ACTION"], rows, right=(2,)),
        ]
    )


RESULT_WIDTH = 48  # history's RESULT column; `history show ID` has the whole text


def history_text(
    entries: list[EntrySummary],
    colour: bool = False,
    zones: dict[str, str | None] | None = None,
) -> str:
    """The history table: every time in one zone, named under the table (view_zone), one line
    per entry whatever the length of an error."""
    if not entries:
        return "No publish operations recorded yet."
    name = view_zone(entries, zones)

    rows = [
        [
            e.id,
            local_moment(e.started_at, name),
            e.partner,
            e.mode,
            e.initiated_by,
            e.period,
            e.status,
            one_line(summary(e), RESULT_WIDTH),
            (e.notification or {}).get("status", "-"),
        ]
        for e in entries
    ]
    return table(
        ["ID", "STARTED", "PARTNER", "MODE", "BY", "PERIOD", "STATUS", "RESULT", "EMAIL"],
        rows,
        colour,
        6,
    ) + "\n(times in " + (name or "the machine's time zone") + ")"


def view_zone(
    entries: list[EntrySummary], zones: dict[str, str | None] | None
) -> str | None:
    """One zone for a view of several entries: the partners' zone when they all share one,
    else the machine's (None), so no column mixes zones."""
    names = {(zones or {}).get(e.partner) for e in entries}
    return names.pop() if len(names) == 1 else None


def local_moment(iso: object, name: str | None) -> str:
    """An ISO-8601 time in the zone `name` (None: the machine's), with the zone's abbreviation;
    the text as it is when it is not a time."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(str(iso)).astimezone(zone(name))
    except (TypeError, ValueError):
        return str(iso)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def entry_detail(entry: Entry, colour: bool = False, zone_name: str | None = None) -> str:
    """Everything about one history entry (`history show ID`); its times in `zone_name` (the
    partner's, as its emails use; None: the machine's), labelled."""
    note = entry.notification or {}
    finished = entry.finished_at
    fields = [
        ("ID", entry.id),
        ("Partner", entry.partner),
        ("Period", entry.period),
        ("Mode", entry.mode),
        ("Initiated by", entry.initiated_by),
        ("Started", local_moment(entry.started_at, zone_name)),
        ("Finished", finished and local_moment(finished, zone_name)),
        ("Site", entry.site),
        ("Usage", entry.usage_source),
        ("Status", f"{entry.status} (exit {entry.exit_code})"),
        ("Error", entry.error),
        ("Email", _notification_text(note) if note else None),
    ]
    lines = [f"{k + ':':<14}{v}" for k, v in fields if v]
    lines += [f"{'Warning:':<14}{w}" for w in entry.warnings]
    return "\n".join(lines) + "\n\n" + entry_text(entry, colour)


def _notification_text(note: dict) -> str:
    text = note.get("status", "-")
    if note.get("recipients"):
        text += " to " + ", ".join(note["recipients"])
    if note.get("error"):
        text += f" ({note['error']})"
    return text
