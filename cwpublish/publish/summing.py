"""What the rest of a partner contributes to a summed quantity (a REST agreement addition).

An addition holds one quantity: the total GB of every configured client on that agreement.
A run that publishes only some clients (--client, --retry, the rest of a partial scheduled run,
a client without usage) must still write the whole total, or it would overwrite a sum with a
part. So every plan of a summing partner carries the *context* of its other clients: the GB of
this period's usage, else what the ledger says ConnectWise last received for them, else nothing.
The target then adds, per agreement, the context of the clients on that agreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from cwpublish.config.model import Partner, state_key
from cwpublish.domain.period import Period
from cwpublish.render.output import gb as gb_text
from cwpublish.state.ledger import LEDGER_PERIODS, Ledger
from cwpublish.targets.registry import target_settings

if TYPE_CHECKING:
    from cwpublish.publish.plan import Plan

FROM_USAGE = "usage"
FROM_LEDGER = "ledger"
NOTHING = "none"


@dataclass(frozen=True)
class OtherClient:
    """A configured client not in this run, and the GB it adds to its agreement's total."""

    name: str
    key: str
    billable_gb: Decimal | None  # None: no usage row and nothing in the ledger
    source: str  # FROM_USAGE | FROM_LEDGER | NOTHING
    received_period: str | None = None  # FROM_LEDGER: the period ConnectWise received it for

    def to_dict(self) -> dict:
        """The JSON shape (history's `summed_with`, --dry-run)."""
        return {
            "name": self.name,
            "managed_id": self.key,
            "billable_gb": float(self.billable_gb) if self.billable_gb is not None else None,
            "source": self.source,
            "received_period": self.received_period,
        }


def sums_clients(partner: Partner) -> bool:
    """Whether this partner's clients share one written value (a REST agreement addition)."""
    cw = partner.connectwise
    return cw is not None and target_settings(cw.api).sums_clients(cw)


def attach_context(plans: list[Plan], state_dir: Path) -> None:
    """Fill each summing plan's `context` (again, under the lock: the ledger may have moved)."""
    ledger: Ledger | None = None
    for plan in plans:
        if not sums_clients(plan.partner) or plan.usage_rows is None:
            continue
        ledger = ledger or Ledger(state_dir)
        plan.context = context(plan, ledger)
        plan.notes = [n for n in plan.notes if not n.startswith(NOTE_PREFIX)]
        note = ledger_note(plan.context)
        if note:
            plan.notes.append(note)


def context(plan: Plan, ledger: Ledger) -> list[OtherClient]:
    """Every configured client of the plan's partner that the plan does not send; one with
    `publish: false` only if it was ever published (then the addition holds its share), so
    a client left out on purpose is never billed through another's total."""
    sending = {r.key for r in plan.to_send}
    rows = plan.usage_rows or {}
    key = state_key(plan.partner)
    found = []
    for c in plan.partner.clients:
        if c.managed_id in sending:
            continue
        received = None
        if not c.publish:  # left out on purpose: counted only once it was ever published
            received = last_received(ledger, key, plan.period, c.managed_id)
            if received is None:
                continue
        if c.name in rows:
            found.append(OtherClient(c.name, c.managed_id, rows[c.name], FROM_USAGE))
            continue
        received = received or last_received(ledger, key, plan.period, c.managed_id)
        if received is None:
            found.append(OtherClient(c.name, c.managed_id, None, NOTHING))
        else:
            found.append(OtherClient(c.name, c.managed_id, received[1], FROM_LEDGER,
                                     str(received[0])))
    return found


def last_received(
    ledger: Ledger, key: str, period: Period, managed_id: str
) -> tuple[Period, Decimal] | None:
    """(period, GB) of the newest publish the ledger holds for this client, this period or
    the newest before it (an addition holds what was last written, whatever the month)."""
    for _ in range(LEDGER_PERIODS + 1):
        last = ledger.last(key, str(period), managed_id)
        if last and last[1].get("billable_gb") is not None:
            return period, Decimal(str(last[1]["billable_gb"]))
        period = period.previous()
    return None


NOTE_PREFIX = "addition totals count the GB ConnectWise last received for"


def ledger_note(others: list[OtherClient]) -> str | None:
    """The plan's line naming the clients whose GB comes from the ledger, not from usage."""
    named = [o for o in others if o.source == FROM_LEDGER]
    if not named:
        return None
    listing = ", ".join(
        f"{o.name} ({gb_text(float(o.billable_gb or 0))} GB, {o.received_period})" for o in named
    )
    return f"{NOTE_PREFIX} {len(named)} client(s) without usage in this run: {listing}"


def summed_notes(notes: list[str], summed: list[OtherClient]) -> list[str]:
    """The entry's warnings: the plan's ledger line replaced by one naming only the clients
    whose ledger GB a written total really counted."""
    kept = [n for n in notes if not n.startswith(NOTE_PREFIX)]
    note = ledger_note(summed)
    return kept + [note] if note else kept


def context_rows(others: list[OtherClient]) -> list[dict]:
    """A dry run's `summed_with`: the other clients that would count (each agreement's share
    is known only once ConnectWise says which client is on which agreement)."""
    return [o.to_dict() for o in others if o.billable_gb is not None]
