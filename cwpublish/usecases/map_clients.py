"""`map`: for each usage row no client takes, the ConnectWise companies that most likely are
it, ranked by a similarity of normalised names; a company is chosen only when one clearly
wins (never between equal candidates, never a weak match): guessing wrong bills the wrong
customer. Over SOAP, the Managed IDs ConnectWise knows that no client uses. Read-only."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher

from cwpublish.config.model import Partner
from cwpublish.domain.period import Period
from cwpublish.publish.connection import open_target
from cwpublish.publish.usage import read_usage

# Legal-form words dropped before comparing ("Contoso Dental, Inc." is "contoso dental").
LEGAL = frozenset((
    "inc", "incorporated", "llc", "llp", "ltd", "limited", "gmbh", "pty", "plc", "corp",
    "corporation", "co", "company", "ag", "sa", "sas", "sarl", "bv", "nv", "srl", "spa", "kg",
    "ohg", "ug", "oy", "ab", "as", "aps", "pte", "pvt",
))
STRONG = 0.85  # at or above: a match, if no other candidate comes close
MARGIN = 0.05  # the winner must lead the next candidate by at least this much
SHOWN = 3  # candidates listed per row
FLOOR = 0.5  # below this a company is not a candidate at all


@dataclass(frozen=True)
class Candidate:
    identifier: str
    name: str
    score: float


@dataclass(frozen=True)
class RowMatch:
    """One unmapped usage row, its candidates best first, and the verdict: match (`chosen`
    set), tie (two or more within MARGIN at the top), weak (best below STRONG) or none."""

    name: str
    billable_gb: str
    status: str
    chosen: str | None
    candidates: tuple[Candidate, ...]


def normalise(name: str) -> str:
    """Case, accents, punctuation and legal suffixes removed, words sorted (word order)."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    words = [w for w in re.split(r"[\W_]+", text) if w and w not in LEGAL]
    return " ".join(sorted(words))


def similarity(a: str, b: str) -> float:
    """0..1: difflib's ratio of the normalised names (1.0 when they are equal)."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 0.0
    return round(SequenceMatcher(None, na, nb).ratio(), 3)


def rank(name: str, companies: list[dict]) -> tuple[str, str | None, tuple[Candidate, ...]]:
    """(status, chosen identifier or None, candidates best first) for one usage name."""
    scored = sorted(
        (Candidate(c["identifier"], c["name"], similarity(name, c["name"])) for c in companies),
        key=lambda c: (-c.score, c.name.casefold(), c.identifier),
    )
    found = tuple(c for c in scored if c.score >= FLOOR)[:SHOWN]
    if not found:
        return "none", None, ()
    best = found[0]
    if len(found) > 1 and best.score - found[1].score < MARGIN:
        return "tie", None, found
    if best.score < STRONG:
        return "weak", None, found
    return "match", best.identifier, found


def unmapped_rows(partner: Partner, period: Period) -> dict[str, str]:
    """Usage rows (name -> GB as text) that no configured client takes."""
    usage = read_usage(partner.usage, period)
    taken = {c.name for c in partner.clients}
    return {name: f"{gb:.2f}" for name, gb in usage.rows.items() if name not in taken}


def build(partner: Partner, period: Period) -> dict:
    """The map document (--json shape): REST rows with candidates, or SOAP unused IDs."""
    rows = unmapped_rows(partner, period)
    with open_target(partner) as target:
        target.preflight()
        companies = target.active_companies()
        known = target.known_keys() if companies is None else None
    doc: dict = {"partner": partner.name, "api": partner.connectwise.api, "period": str(period)}
    if companies is None:
        used = {c.managed_id for c in partner.clients}
        doc["unmapped"] = [{"name": n, "billable_gb": gb} for n, gb in rows.items()]
        doc["unused_managed_ids"] = sorted((known or set()) - used)
        return doc
    taken = {(c.company or c.managed_id).casefold() for c in partner.clients}
    free = [c for c in companies if c["identifier"].casefold() not in taken]
    matches = [RowMatch(n, gb, *rank(n, free)) for n, gb in rows.items()]
    doc["rows"] = [asdict(m) for m in matches]
    doc["clients"] = [{"name": m.name, "company": m.chosen} for m in matches if m.chosen]
    return doc
