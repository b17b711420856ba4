"""`publish --scheduled --dry-run`: what tonight's run would publish, decided as run_scheduled
decides (schedule.decide) and planned as it plans (scheduled_publish.plan_due: the clients still
pending, those held as `invoiced` or `newer-held`), without recording, pinging or sending."""

from __future__ import annotations

from datetime import UTC, datetime

from cwpublish import log
from cwpublish.config.model import Config, state_key
from cwpublish.domain.period import Period, zone
from cwpublish.domain.schedule import decide, observe
from cwpublish.errors import worst_exit_code
from cwpublish.publish.plan import default_initiated_by, pick_partners
from cwpublish.publish.summing import attach_context
from cwpublish.state.ledger import Ledger
from cwpublish.state.schedule_state import ScheduleState
from cwpublish.usecases.dry_run import DryRun, preview, request_bodies
from cwpublish.usecases.invoice_guard import read_invoices
from cwpublish.usecases.scheduled_publish import (
    Due,
    hold_newer,
    pending_clients,
    plan_due,
    retry_since,
)


def due_tonight(
    config: Config,
    partner_names: tuple[str, ...],
    force: bool = False,
    now: datetime | None = None,
) -> list[Due]:
    """Each publish tonight's run would make (partner, period, attempt); nothing is written."""
    now = now or datetime.now(UTC)
    partners = pick_partners(config, partner_names) if partner_names else config.partners
    state = ScheduleState(config.state_dir)  # read only: never saved here
    ledger = Ledger(config.state_dir)
    due: list[Due] = []
    for partner in partners:
        if partner.schedule is None:
            continue
        key = state_key(partner)
        today = now.astimezone(zone(partner.timezone)).date()
        day_state = observe(state.get(key), partner.schedule, today)
        attempt = state.attempt(key)

        def is_done(period: Period, partner=partner, today=today, attempt=attempt) -> bool:
            since = retry_since(attempt, period, today)
            return not pending_clients(ledger, partner, period, since)

        decision = decide(today, partner.schedule, day_state, is_done, attempt, force)
        if decision.due and decision.period and decision.attempt:
            due.append(Due(partner, key, decision.period, today, day_state, decision.attempt))
    return due


def preview_tonight(
    config: Config,
    partner_names: tuple[str, ...],
    initiated_by: str | None,
    force: bool = False,
    bodies: bool = False,
) -> DryRun:
    """The previews of tonight's publishes, exiting as the night would (it asks nobody, so
    no duplicate refusal: held clients fail, as they would)."""
    ledger = Ledger(config.state_dir)
    who = initiated_by or default_initiated_by()
    plans = []
    for due in due_tonight(config, partner_names, force):
        plan, _ = plan_due(due, ledger, who, force)
        if plan is not None:
            plans.append(plan)
    hold_newer(config, plans, force)
    attach_context(plans, config.state_dir)
    read_invoices(plans)
    previews = [preview(p, set(), None, p.allow_invoiced) for p in plans]
    if not previews:
        log.notice("Dry run: nothing is due tonight.")
    result = DryRun(previews, worst_exit_code([0] + [p["exit_code"] for p in previews]))
    if bodies:
        result.bodies = request_bodies(plans)
    return result
