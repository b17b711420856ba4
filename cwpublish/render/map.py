"""`map` for people: the `clients:` YAML to paste (only clear matches as entries; ties and
weak matches as comments naming the candidates, for a person to choose) and SOAP's unused
Managed IDs."""

from __future__ import annotations

import json

from cwpublish.text.sanitize import shown


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's), any character safe."""
    return json.dumps(text, ensure_ascii=True)


def client_line(name: str, company: str, managed_id: str | None = None) -> str:
    """One `clients:` entry in flow style, names exactly as in the usage data; `managed_id`
    kept when it differs from the company (a migrated client's record is rcloud-<managed_id>)."""
    kept = f", managed_id: {quoted(managed_id)}" if managed_id and managed_id != company else ""
    return f"- {{name: {quoted(name)}, company: {quoted(company)}{kept}}}"


def to_text(doc: dict) -> str:
    """The map document as the lines a user reads and pastes."""
    if "unused_managed_ids" in doc:
        lines = [f"# {doc['partner']} (SOAP): Managed IDs ConnectWise knows that no client uses:"]
        lines += [f"#   {shown(i)}" for i in doc["unused_managed_ids"]] or ["#   (none)"]
        lines.append(f"# usage rows of {doc['period']} with no client:")
        lines += [f"#   {shown(r['name'])} ({r['billable_gb']} GB)" for r in doc["unmapped"]]
        lines += [] if doc["unmapped"] else ["#   (none)"]
        return "\n".join(lines) + "\n"
    if not doc["rows"]:
        return f"# {doc['partner']}: every usage row of {doc['period']} has a client\n"
    lines = ["clients:"]
    for row in doc["rows"]:
        if row["chosen"]:
            best = row["candidates"][0]
            lines.append(f"  {client_line(row['name'], row['chosen'])}"
                         f"  # {shown(best['name'])} ({best['score']:.2f})")
            continue
        why = {"tie": "TIE, not chosen: check which", "weak": "WEAK match, not chosen",
               "none": "no active company resembles it"}[row["status"]]
        lines.append(f"  # {shown(row['name'])} ({row['billable_gb']} GB): {why}")
        lines += [f"  #   {client_line(row['name'], c['identifier'])}  "
                  f"# {shown(c['name'])} ({c['score']:.2f})" for c in row["candidates"]]
    return "\n".join(lines) + "\n"
