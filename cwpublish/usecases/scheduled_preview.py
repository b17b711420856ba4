"""`publish --scheduled --dry-run`: which partners and periods tonight's run would publish,
decided as run_scheduled decides (schedule.decide), without recording, pinging or sending; of
each, the clients it would send (pending_clients: on a retry night only those left)."""

from __future__ import annotations

from datetime import UTC, datetime

from cwpublish.config.model import Client, Config, Partner, state_key
from cwpublish.domain.period import Period, zone
from cwpublish.domain.schedule import decide, observe
from cwpublish.publish.plan import pick_partners
from cwpublish.state.ledger import Ledger
from cwpublish.state.schedule_state import ScheduleState
from cwpublish.usecases.scheduled_publish import pending_clients, retry_since


def due_tonight(
    config: Config,
    partner_names: tuple[str, ...],
    force: bool = False,
    now: datetime | None = None,
) -> list[tuple[Partner, Period, list[Client]]]:
    """(partner, period, clients to send) of each publish tonight's run would make, as
    _publish_due plans it; nothing is written."""
    now = now or datetime.now(UTC)
    partners = pick_partners(config, partner_names) if partner_names else config.partners
    state = ScheduleState(config.state_dir)  # read only: never saved here
    ledger = Ledger(config.state_dir)
    due: list[tuple[Partner, Period, list[Client]]] = []
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
        if decision.due and decision.period:
            since = retry_since(attempt, decision.period, today)
            pending = pending_clients(ledger, partner, decision.period, since)
            if force:
                pending = [c for c in partner.clients if c.publish]
            if pending:  # none left: the real run only pings
                due.append((partner, decision.period, pending))
    return due
