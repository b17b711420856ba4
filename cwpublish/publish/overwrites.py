"""The newer-month guard: a publish never silently leaves ConnectWise holding an older month
for a client than it holds now.

Every target holds ONE value per client (a SOAP device, a REST configuration, an agreement
addition's quantity), so publishing 2026-10 after 2026-12 replaces December's value. What
ConnectWise holds is taken from the ledger BEFORE the run (each client's newest published
period); for an agreement addition the partner's current period counts as held too (the
addition is what the current invoice bills). A run's months go oldest first, so only the
client's LAST month in the run is what ConnectWise keeps: a client is flagged when that is
older than what it holds. Found before asking (and again under the lock), like duplicates: a
person is asked, a script is refused unless --force, and the advice names the safe choice first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cwpublish.config.model import state_key
from cwpublish.domain.record import NEWER_HELD, ClientResult
from cwpublish.publish.plan import Plan, partner_period
from cwpublish.state.ledger import Ledger
from cwpublish.targets.registry import target_settings

NAMED = 5  # at most this many clients named as --client in the advice


@dataclass(frozen=True)
class Overwrite:
    """A client this run would leave holding an older month than ConnectWise holds now."""

    partner: str
    client: str
    managed_id: str
    older: tuple[str, ...]  # this run's months for the client older than `held`
    held: str  # the newest month ConnectWise holds (or bills, for an addition)
    since: str  # how ConnectWise came to hold it: "published AT by BY (mode)" or the rule
    ends_with: str  # what ConnectWise holds for the client when this run ends
    published: bool = True  # `held` was published (False: an addition's unpublished period)

    def __str__(self) -> str:
        return (
            f"{self.partner}: {self.client} ({self.managed_id}) holds {self.held} in "
            f"ConnectWise ({self.since}); this run sends {', '.join(self.older)} and leaves "
            f"{self.ends_with} there"
        )


def find_overwrites(
    state_dir: Path, plans: list[Plan], single_period: bool = True
) -> list[Overwrite]:
    """The clients of `plans` whose last month in this run is older than what ConnectWise
    holds for them now (ledger; for an agreement addition, with `single_period`, at least the
    current period)."""
    ledger = Ledger(state_dir)
    by_partner: dict[str, list[Plan]] = {}
    for plan in plans:
        by_partner.setdefault(plan.partner.name, []).append(plan)
    found = []
    for partner_plans in by_partner.values():
        partner = partner_plans[0].partner
        months: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for plan in partner_plans:
            for r in plan.to_send:
                months.setdefault(r.key, []).append(str(plan.period))
                names[r.key] = r.client
        if not months:
            continue
        earliest = min(plan.period for plan in partner_plans)
        held = {
            key: (period, f"published {rec.get('at') or '?'} by {rec.get('by') or '?'} "
                  f"({rec['mode']})")
            for key, (period, rec) in ledger.newest(state_key(partner), set(months), earliest)
            .items()
        }
        rule = target_settings(partner.connectwise.api).single_period
        reason = rule(partner.connectwise) if single_period else None
        current = str(partner_period(partner))
        for key, sent in months.items():
            have, since = held.get(key, ("", ""))
            published = bool(have)
            if reason and current > have:
                have, since, published = current, f"the current period: {reason}", False
            ends_with = max(sent)
            if have and ends_with < have:
                older = tuple(sorted(m for m in sent if m < have))
                found.append(Overwrite(
                    partner.name, names[key], key, older, have, since, ends_with, published
                ))
    return found


def drop_overwrites(plans: list[Plan], overwrites: list[Overwrite]) -> list[Plan]:
    """The plans without the flagged clients' older months (plans left empty are dropped)."""
    older = {(o.partner, m, o.managed_id) for o in overwrites for m in o.older}
    kept = []
    for plan in plans:
        plan.to_send = [
            r for r in plan.to_send if (plan.partner.name, str(plan.period), r.key) not in older
        ]
        if plan.to_send or plan.failed or plan.error:
            kept.append(plan)
    return kept


def fail_overwrites(plans: list[Plan], overwrites: list[Overwrite]) -> None:
    """The flagged clients' older months moved from sending to failed (kind newer-held): a
    scheduled run cannot ask a person, and leaving the newer month protects its invoice."""
    for plan in plans:
        flagged = overwrite_keys(overwrites, plan)
        month = str(plan.period)
        for r in [r for r in plan.to_send if r.key in flagged]:
            o = flagged[r.key]
            plan.to_send.remove(r)
            plan.failed.append(ClientResult(
                r.client, r.key, float(r.billable_gb), "failed",
                f"not sent: ConnectWise holds {o.held} for this client ({o.since}); sending "
                f"{month} would replace it. Only if that is meant: cwpublish publish --partner "
                f"{o.partner} --client {r.key} --month {month} --force",
                NEWER_HELD,
            ))


def overwrite_keys(overwrites: list[Overwrite], plan: Plan) -> dict[str, Overwrite]:
    """Managed ID -> its Overwrite, for the flagged clients of `plan` (a dry run shows it)."""
    month = str(plan.period)
    return {
        o.managed_id: o
        for o in overwrites
        if o.partner == plan.partner.name and month in o.older
    }


def refusal(overwrites: list[Overwrite]) -> str:
    """The refusal (a script, or --yes): the clients, then the safe choice before --force."""
    listing = "\n".join(f"  {o}" for o in overwrites)
    return (
        f"{len(overwrites)} client(s) hold a newer month in ConnectWise than this run would "
        f"leave there; nothing was sent:\n{listing}\n" + "\n".join(safe_advice(overwrites))
    )


def safe_advice(overwrites: list[Overwrite]) -> list[str]:
    """Per partner, the safe choices first (keep the newer month: leave the clients out, end
    the backfill at it, or publish it again right after), then --force alone, last."""
    newest: dict[str, str] = {}
    keys: dict[str, list[str]] = {}
    again: dict[str, bool] = {}  # the newest month was published: sending it again needs --force
    for o in overwrites:
        newest[o.partner] = max(newest.get(o.partner, o.held), o.held)
        keys.setdefault(o.partner, []).append(o.managed_id)
        again[o.partner] = again.get(o.partner, False) or o.published
    steps = []
    for partner, held in newest.items():
        named = keys[partner]
        clients = "".join(f" --client {k}" for k in named) if len(named) <= NAMED else ""
        steps.append(
            f"Safe: keep ConnectWise at {held}: leave these clients out (answer no, or "
            f"--client the others), end the backfill at it (--to {held} --force: sent last, "
            f"so ConnectWise ends at it), or publish it again right after "
            f"(cwpublish publish --partner {partner}{clients} --month {held}"
            f"{' --force' if again[partner] else ''}). "
            "Only to leave an older month in ConnectWise on purpose: add --force alone."
        )
    return steps
