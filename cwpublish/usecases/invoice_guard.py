"""The invoice guard of a manual publish: read each summing plan's agreements' invoice dates
(shown with the plan and the dry run), and for the clients whose agreement an invoice already
billed after the period's scheduled day, ask a person or refuse a script unless --force.

Like the duplicate guard (manual_publish._guard): a person answers separately from the
normal confirmation; a "no" leaves those clients out.
"""

from __future__ import annotations

from cwpublish import log
from cwpublish.errors import Aborted, CwpublishError, InputError
from cwpublish.publish.connection import open_target
from cwpublish.publish.invoicing import Missed, missed, scheduled_day, today_for
from cwpublish.publish.online_checks import Check
from cwpublish.publish.plan import Plan, partner_period
from cwpublish.publish.summing import sums_clients


def read_invoices(plans: list[Plan]) -> None:
    """Fill `invoices` and a note per agreement of every summing plan that sends something;
    a site that cannot be asked is a warning (the publish itself will say more)."""
    for plan in plans:
        if plan.error or not plan.to_send or not sums_clients(plan.partner):
            continue
        try:
            with open_target(plan.partner) as target:
                target.preflight()
                target.known_keys()
                plan.invoices = target.invoicing([r.key for r in plan.to_send])
        except CwpublishError as e:
            log.warning("%s: could not read the agreements' invoice dates (%s)",
                        plan.partner.name, e)
            continue
        plan.notes += [f"invoices: {s.text()}" for s in plan.invoices]


def missed_by(plan: Plan) -> list[Missed]:
    """The agreements of this plan an invoice billed after the period's scheduled day."""
    return missed(plan.partner, plan.period, plan.invoices, today_for(plan.partner))


def listing(plans: list[Plan]) -> list[str]:
    """One line per missed agreement: partner, period, clients, invoice date."""
    lines = []
    for plan in plans:
        for m in missed_by(plan):
            day = scheduled_day(plan.partner, plan.period)
            lines.append(
                f"{plan.partner.name} {plan.period}: {', '.join(m.state.keys)} on agreement "
                f"{m.state.agreement!r}, invoiced {m.state.last} (on or after {day}, the day "
                f"{plan.period} was to be published)"
            )
    return lines


def guard_invoiced(plans: list[Plan], prompter, force: bool) -> list[Plan]:
    """Plans to send: every one with --force or a "yes"; a script is refused (exit 2);
    a "no" drops the clients whose invoice already went out."""
    if force or not any(missed_by(p) for p in plans):
        for p in plans:
            p.allow_invoiced = True
        return plans
    lines = listing(plans)
    if not prompter.interactive:
        shown = "\n".join(f"  {line}" for line in lines)
        raise InputError(
            f"{len(lines)} agreement(s) were invoiced after the day this period was to be "
            "published, without this usage; publishing now would put it on the next "
            f"invoice, which next month's publish overwrites. Nothing was sent. Add --force "
            f"to publish anyway, or bill it by hand:\n{shown}"
        )
    if prompter.confirm_invoiced(lines):
        for p in plans:
            p.allow_invoiced = True
        return plans
    for p in plans:
        held = {k for m in missed_by(p) for k in m.state.keys}
        p.to_send = [r for r in p.to_send if r.key not in held]
        p.allow_invoiced = True
    kept = [p for p in plans if p.to_send]
    if not kept:
        raise Aborted("aborted; nothing was sent")
    return kept


def invoice_checks(partner) -> list:
    """check-config --online: per agreement its last and next invoice dates, and a warning
    for one invoiced after the current period's scheduled day (a publish now missed it)."""
    if not sums_clients(partner):
        return []
    period = partner_period(partner)
    keys = [c.managed_id for c in partner.clients if c.publish]
    try:
        with open_target(partner) as target:
            target.preflight()
            target.known_keys()
            states = target.invoicing(keys)
    except CwpublishError as e:
        return [Check("warn", partner.name, f"could not read the agreements' invoice dates ({e})")]
    checks = [Check("warn" if s.problem else "ok", partner.name, f"invoices: {s.text()}")
              for s in states]
    for m in missed(partner, period, states, today_for(partner)):
        checks.append(Check(
            "warn", partner.name,
            f"agreement {m.state.agreement!r} was invoiced {m.state.last} without {period}'s "
            f"usage (its day was {m.scheduled}): a publish now is refused unless --force",
        ))
    return checks
