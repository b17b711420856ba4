"""The nightly run (`publish --scheduled`): publish each partner whose day it is, once per period.

The decision per partner is schedule.decide(), a pure function; its reason is logged (-v) when
nothing is due. With nothing due the run imports no transport, history or output code, so cron's
nightly no-op stays fast. The night before a partner's day, its pre-flight runs and the managers
are warned once if tomorrow's publish would fail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cwpublish import log
from cwpublish.config import Config, Partner
from cwpublish.outcome import RunResult
from cwpublish.period import Period, zone
from cwpublish.ping import ping
from cwpublish.schedule import decide, observe
from cwpublish.schedule_state import ScheduleState
from cwpublish.state_keys import state_key

if TYPE_CHECKING:  # imported where used, so the nightly no-op stays light
    from cwpublish.ledger import Ledger


def run_scheduled(
    config: Config,
    partner_names: tuple[str, ...],
    initiated_by: str | None,
    force: bool = False,
    now: datetime | None = None,
    notify: bool = True,
) -> RunResult:
    """Publish each partner whose day it is and whose period is not done."""
    from cwpublish.plan import pick_partners

    now = now or datetime.now(UTC)
    partners = [p for p in pick_partners(config, partner_names) if p.schedule]
    state = ScheduleState(config.state_dir)
    if not partner_names:
        state.forget_except({state_key(p) for p in partners})
    ledger: Ledger | None = None

    def done(partner: Partner) -> Callable[[Period], bool]:
        def is_done(period: Period) -> bool:
            nonlocal ledger
            if force:
                return False
            if ledger is None:
                from cwpublish.ledger import Ledger

                ledger = Ledger(config.state_dir)
            return not pending_clients(ledger, partner, period)

        return is_done

    due: list[tuple[Partner, Period]] = []
    for partner in partners:
        assert partner.schedule is not None
        today = now.astimezone(zone(partner.timezone)).date()
        key = state_key(partner)
        day_state = observe(state.get(key), partner.schedule, today)
        state.set(key, day_state)
        decision = decide(today, partner.schedule, day_state, done(partner))
        log.info("%s: %s", partner.name, decision.reason)
        if decision.due and decision.period:
            due.append((partner, decision.period))
            continue
        ping(partner.schedule.ping_url)  # the nightly "still alive" ping
        tomorrow = decide(today + timedelta(days=1), partner.schedule, day_state, done(partner))
        if (
            tomorrow.due
            and tomorrow.run_date == today + timedelta(days=1)
            and state.preflight_date(key) != tomorrow.run_date
        ):
            from cwpublish.usecases.night_before import warn_if_tomorrow_fails

            state.set_preflight(key, tomorrow.run_date)
            warn_if_tomorrow_fails(config, partner, tomorrow, notify)
    state.save()
    if not due:
        return RunResult()
    from cwpublish.plan import default_initiated_by

    return _publish_due(config, due, initiated_by or default_initiated_by(), force, notify)


def _publish_due(
    config: Config, due: list[tuple[Partner, Period]], initiated_by: str, force: bool, notify: bool
) -> RunResult:
    from cwpublish import interrupt
    from cwpublish.history import ClientResult
    from cwpublish.lock import PublishLock
    from cwpublish.plan import plan_partner
    from cwpublish.recording import Recorder
    from cwpublish.send import execute

    with PublishLock(config.state_dir), interrupt.catching():
        recorder = Recorder(config, notify)
        for i, (partner, period) in enumerate(due):
            if interrupt.requested():
                recorder.result.not_attempted = [(p.name, str(m)) for p, m in due[i:]]
                break
            assert partner.schedule is not None
            selected = [c for c in partner.clients if c.publish]
            pending = selected if force else pending_clients(recorder.ledger, partner, period)
            if not pending:  # another run finished it while we were deciding
                ping(partner.schedule.ping_url)
                continue
            ping(partner.schedule.ping_url, "start")
            plan = plan_partner(partner, period, list(pending), "automatic", initiated_by)
            plan.skipped = [
                ClientResult(
                    c.name,
                    c.managed_id,
                    None,
                    "skipped",
                    "already published automatically for this period",
                )
                for c in selected
                if c not in pending
            ]
            entry = execute(plan, state_dir=config.state_dir)
            recorder.record(partner, entry)
            ping(partner.schedule.ping_url, "" if entry.status == "success" else "fail")
        recorder.result.interrupted = interrupt.exit_code()
    return recorder.result


def pending_clients(ledger: Ledger, partner: Partner, period: Period) -> list:
    """Selected clients not yet published automatically for `period`."""
    key = state_key(partner)
    return [
        c
        for c in partner.clients
        if c.publish and "automatic" not in ledger.published(key, str(period), c.managed_id)
    ]
