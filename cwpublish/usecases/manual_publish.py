"""A manual publish: plan -> guard -> confirmation (through a callback) -> send.

The guard is one step (guard()): clients already published for the period (duplicates.py),
then clients this run would leave holding an older month than ConnectWise holds now
(overwrites.py, which also covers an agreement addition's single quantity). A person is asked
about each; a script is refused (exit 2) unless --force, with the safe choice named first.

Backfills (--from/--to) start only when every month can run, go oldest first, and stop at the
first month that fails entirely. A retry (--retry ID) plans exactly the clients of one history
entry that did not reach ConnectWise, for its partner and period, and then goes the same way
as any publish. A dry run plans and previews, sends and writes nothing, and exits as the real
run would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cwpublish import log
from cwpublish.config.model import Config
from cwpublish.domain.record import Progress
from cwpublish.domain.run_result import RunResult
from cwpublish.errors import Aborted, InputError
from cwpublish.notify.sink import build_sinks
from cwpublish.publish.duplicates import Duplicate, drop_duplicates, find_duplicates
from cwpublish.publish.overwrites import (
    Overwrite,
    drop_overwrites,
    find_overwrites,
    refusal,
)
from cwpublish.publish.plan import (
    Plan,
    check_backfill,
    default_initiated_by,
    plan_manual,
    resolve_periods,
)
from cwpublish.publish.recording import require_recorded
from cwpublish.publish.run_plans import run_plans
from cwpublish.publish.summing import attach_context
from cwpublish.state.lock import PublishLock
from cwpublish.usecases.invoice_guard import guard_invoiced, read_invoices
from cwpublish.usecases.retry import plan_retry


@dataclass(frozen=True)
class ManualRequest:
    """What the user asked for (the `publish` options)."""

    partners: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    month: str | None = None
    first: str | None = None  # --from
    last: str | None = None  # --to
    initiated_by: str | None = None
    force: bool = False
    notify: bool = True
    # --retry: a history entry ID (or unique prefix) to finish; the entry alone then decides
    # partner, period and clients (the CLI refuses a selection beside it: check_retry_alone)
    retry: str | None = None


class Prompter(Protocol):
    """How the use case asks the user (the CLI implements it; a script never is asked)."""

    interactive: bool

    def confirm_duplicates(self, duplicates: list[Duplicate]) -> bool:
        """Publish these already-published clients again?"""

    def confirm_overwrites(self, overwrites: list[Overwrite]) -> bool:
        """Leave these clients holding an older month than ConnectWise holds now?"""

    def confirm_plans(self, plans: list[Plan]) -> bool:
        """Send these plans?"""

    def confirm_invoiced(self, lines: list[str]) -> bool:
        """Publish usage whose agreement invoice already went out without it?"""


def plan_request(config: Config, req: ManualRequest) -> tuple[list[Plan], bool]:
    """(plans, whether it is a backfill) for the request, every usage source read."""
    who = req.initiated_by or default_initiated_by()
    if req.retry is not None:  # the entry alone decides (cli/publish.py refused a selection)
        plans = plan_retry(config, req.retry, who)
        attach_context(plans, config.state_dir)
        read_invoices(plans)
        return plans, False
    periods = resolve_periods(req.month, req.first, req.last)
    plans = plan_manual(config, req.partners, req.clients, periods, who)
    attach_context(plans, config.state_dir)
    read_invoices(plans)
    return plans, len(periods) > 1


def publish_manual(
    config: Config,
    req: ManualRequest,
    prompter: Prompter,
    progress: Callable[[Plan], Progress | None] | None = None,
) -> RunResult:
    """Plan, guard against duplicates, confirm, send and record. Aborted if the user declines.

    The duplicate check runs before asking and again under the lock after the answer: if
    anyone published meanwhile, the user is asked again (a script is refused), so "y" never
    re-sends a stale plan over newer values.
    """

    plans, backfill = plan_request(config, req)
    if backfill:
        check_backfill(plans)
    with PublishLock(config.state_dir):  # a run that could not record finishes first
        require_recorded(config)
    accepted = Accepted()
    if not req.force:
        plans = guard(config, plans, prompter, accepted)
    plans = guard_invoiced(plans, prompter, req.force)
    if prompter.interactive and not prompter.confirm_plans(plans):
        raise Aborted("aborted; nothing was sent")
    with PublishLock(config.state_dir):
        require_recorded(config)  # a run that finished while we asked: recorded before the guard
        if not req.force:
            plans = guard(config, plans, prompter, accepted, again=True)
        return execute_locked(config, plans, progress, req.notify, stop_on_failure=backfill)


@dataclass
class Accepted:
    """What the user already accepted at the guard: not asked again under the lock."""

    duplicates: list[Duplicate] = field(default_factory=list)
    overwrites: list[Overwrite] = field(default_factory=list)


def guard(
    config: Config, plans: list[Plan], prompter: Prompter, accepted: Accepted, again: bool = False
) -> list[Plan]:
    """The one guard before sending: duplicates, then older-than-held months. A script is
    refused (InputError, exit 2, nothing sent); a person is asked about each, and what they
    decline is left out. What `accepted` holds is not asked again (`again`: under the lock,
    after the confirmation, where anything new was published by someone else meanwhile)."""
    state_dir = config.state_dir
    duplicates = [d for d in find_duplicates(state_dir, plans) if d not in accepted.duplicates]
    if duplicates:
        _changed(again)
        if not prompter.interactive:
            listing = "\n".join(f"  {d}" for d in duplicates)
            raise InputError(
                f"{len(duplicates)} client(s) were already published for the "
                f"period; nothing was sent. Add --force to publish them again:"
                f"\n{listing}"
            )
        if prompter.confirm_duplicates(duplicates):
            accepted.duplicates += duplicates
        else:
            plans = _left(drop_duplicates(plans, duplicates))
    overwrites = [o for o in find_overwrites(state_dir, plans) if o not in accepted.overwrites]
    if overwrites:
        _changed(again)
        if not prompter.interactive:
            raise InputError(refusal(overwrites))
        if prompter.confirm_overwrites(overwrites):
            accepted.overwrites += overwrites
        else:
            plans = _left(drop_overwrites(plans, overwrites))
    return plans


def _changed(again: bool) -> None:
    if again:
        log.warning("published by someone else while you were asked; asking again")


def _left(plans: list[Plan]) -> list[Plan]:
    """The plans left after a "no"; Aborted when none is."""
    if not plans:
        raise Aborted("aborted; nothing was sent")
    return plans


def execute_locked(
    config: Config,
    plans: list[Plan],
    progress: Callable[[Plan], Progress | None] | None = None,
    notify: bool = True,
    stop_on_failure: bool = False,
) -> RunResult:
    """Send every plan (the caller holds the lock), recording each entry in plan order.

    With `stop_on_failure` (a backfill), the first publish that failed entirely stops the run;
    an interrupt (SIGINT/SIGTERM) stops it too. The plans left are reported as not attempted.
    """

    return run_plans(
        config,
        plans,
        sinks=build_sinks(config, notify),
        progress=progress,
        stop_on_failure=stop_on_failure,
    )
