"""The duplicate guard: clients a manual publish would send again for a period already
published (any mode), from the ledger; found before asking, dropped if the user says no."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cwpublish.config.model import state_key
from cwpublish.publish.plan import Plan
from cwpublish.state.ledger import Ledger


@dataclass(frozen=True)
class Duplicate:
    """A client a manual publish would send again for a period it was already published for."""

    partner: str
    period: str
    client: str
    managed_id: str
    at: str
    by: str
    mode: str

    def __str__(self) -> str:
        return (
            f"{self.partner} {self.period}: {self.client} ({self.managed_id}) was published "
            f"{self.at} by {self.by} ({self.mode})"
        )


def find_duplicates(state_dir: Path, plans: list[Plan]) -> list[Duplicate]:
    """Clients of the plans already published for the same period (ledger, any mode)."""
    ledger = Ledger(state_dir)
    found = []
    for plan in plans:
        key = state_key(plan.partner)
        for r in plan.to_send:
            newest = ledger.last(key, str(plan.period), r.key)
            if newest:
                mode, last = newest
                found.append(
                    Duplicate(
                        plan.partner.name,
                        str(plan.period),
                        r.client,
                        r.key,
                        last.get("at") or "?",
                        last.get("by") or "?",
                        mode,
                    )
                )
    return found


def drop_clients(plans: list[Plan], dropped: set[tuple[str, str, str]]) -> list[Plan]:
    """The plans without the (partner, period, key) clients given; plans left empty are dropped.

    The one filter behind both guards: duplicates here, older months in overwrites.py.
    """
    kept = []
    for plan in plans:
        plan.to_send = [
            r for r in plan.to_send
            if (plan.partner.name, str(plan.period), r.key) not in dropped
        ]
        if plan.to_send or plan.failed or plan.error:
            kept.append(plan)
    return kept


def drop_duplicates(plans: list[Plan], duplicates: list[Duplicate]) -> list[Plan]:
    """The plans without the duplicate clients (plans left with nothing are dropped)."""
    return drop_clients(plans, {(d.partner, d.period, d.managed_id) for d in duplicates})


def duplicate_keys(duplicates: list[Duplicate], plan: Plan) -> set[str]:
    """The keys of `plan` that are duplicates (a dry run marks them)."""
    return {
        d.managed_id
        for d in duplicates
        if (d.partner, d.period) == (plan.partner.name, str(plan.period))
    }
