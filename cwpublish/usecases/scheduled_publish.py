"""The nightly run (`publish --scheduled`): publish each partner whose day it is, once per period.

The decision per partner is schedule.decide(), a pure function; its reason is logged (-v) when
nothing is due. With nothing due the run imports no transport, history or output code and builds
no client (config_clients.py), so cron's nightly no-op stays fast however many clients there
are. The night before a partner's day, its pre-flight runs and the managers are warned once if
tomorrow's publish would fail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cwpublish import log
from cwpublish.config import Config, Partner
from cwpublish.errors import ConfigError
from cwpublish.outcome import RunResult
from cwpublish.period import Period, zone
from cwpublish.ping import ping
from cwpublish.schedule import Decision, decide, observe
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
    """Publish each partner whose day it is and whose period is not done.

    Every decision is taken first; then the clients of each partner that acts tonight (due,
    or its night-before check) are built -- validated, when they come from the parse cache --
    before anything is pinged or sent, so a problem stops the run (exit 2) listing them all.
    A partner that is not due has no client built.
    """
    now = now or datetime.now(UTC)
    partners = list(config.partners)
    if partner_names:  # plan.py is heavy, and the nightly no-op names no partner
        from cwpublish.plan import pick_partners

        partners = pick_partners(config, partner_names)
    partners = [p for p in partners if p.schedule]
    keys = [state_key(p) for p in partners]
    state = ScheduleState(config.state_dir)
    if not partner_names:
        state.forget_except(set(keys))
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

    tonight: list[tuple[Partner, str, Decision, Decision | None]] = []
    for partner, key in zip(partners, keys, strict=True):
        assert partner.schedule is not None
        today = now.astimezone(zone(partner.timezone)).date()
        day_state = observe(state.get(key), partner.schedule, today)
        state.set(key, day_state)
        decision = decide(today, partner.schedule, day_state, done(partner))
        check = None  # tomorrow's decision, when its night-before check is to run tonight
        next_day = today + timedelta(days=1)
        if not (decision.due and decision.period) and next_day.day == partner.schedule.day:
            tomorrow = decide(next_day, partner.schedule, day_state, done(partner))
            if (
                tomorrow.due
                and tomorrow.run_date == next_day
                and state.preflight_date(key) != tomorrow.run_date
            ):
                check = tomorrow
        tonight.append((partner, key, decision, check))
    _build_clients(config, [p for p, _, d, c in tonight if (d.due and d.period) or c])
    due: list[tuple[Partner, Period]] = []
    for partner, key, decision, check in tonight:
        assert partner.schedule is not None
        log.info("%s: %s", partner.name, decision.reason)
        if decision.due and decision.period:
            due.append((partner, decision.period))
            continue
        ping(partner.schedule.ping_url)  # the nightly "still alive" ping
        if check is not None and check.run_date is not None:
            from cwpublish.usecases.night_before import warn_if_tomorrow_fails

            state.set_preflight(key, check.run_date)
            warn_if_tomorrow_fails(config, partner, check, notify)
    state.save()
    if not due:
        return RunResult()
    from cwpublish.plan import default_initiated_by

    return _publish_due(config, due, initiated_by or default_initiated_by(), force, notify)


def _build_clients(config: Config, partners: list[Partner]) -> None:
    """Read each partner's clients, so that those given lazily (config_clients.py) are built
    and validated now; one ConfigError listing every problem of them all."""
    problems: list[str] = []
    for partner in partners:
        try:
            partner.clients  # noqa: B018 - built on first read
        except ConfigError as e:
            problems += e.problems
    if problems:
        raise ConfigError(str(config.path), problems)


def _publish_due(
    config: Config, due: list[tuple[Partner, Period]], initiated_by: str, force: bool, notify: bool
) -> RunResult:
    """Plan the clients still pending of each due partner, then send them (run_plans)."""
    from cwpublish.history import ClientResult
    from cwpublish.ledger import Ledger
    from cwpublish.lock import PublishLock
    from cwpublish.plan import plan_partner
    from cwpublish.run_plans import run_plans

    with PublishLock(config.state_dir):
        ledger = Ledger(config.state_dir)  # read under the lock: another run may have finished
        plans = []
        for partner, period in due:
            assert partner.schedule is not None
            selected = [c for c in partner.clients if c.publish]
            pending = selected if force else pending_clients(ledger, partner, period)
            if not pending:  # another run finished it while we were deciding
                ping(partner.schedule.ping_url)
                continue
            plan = plan_partner(partner, period, list(pending), "automatic", initiated_by)
            plan.allow_invoiced = force  # --force: even after an invoice missed it
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
            plans.append(plan)
        return run_plans(
            config,
            plans,
            notify=notify,
            before=lambda plan: ping(plan.partner.schedule.ping_url, "start"),
            after=lambda plan, entry: ping(
                plan.partner.schedule.ping_url, "" if entry.status == "success" else "fail"
            ),
        )


def pending_clients(ledger: Ledger, partner: Partner, period: Period) -> list:
    """Selected clients not yet published automatically for `period`."""
    key = state_key(partner)
    return [
        c
        for c in partner.clients
        if c.publish and "automatic" not in ledger.published(key, str(period), c.managed_id)
    ]
