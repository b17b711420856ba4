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
from cwpublish.config import Config
from cwpublish.duplicates import Duplicate, drop_duplicates, duplicate_keys, find_duplicates
from cwpublish.errors import EXIT_OK, Aborted, CwpublishError, InputError, StateError
from cwpublish.outcome import RunResult, dry_run_exit_code, preview_outcome
from cwpublish.overwrites import (
    Overwrite,
    drop_overwrites,
    find_overwrites,
    overwrite_keys,
    refusal,
)
from cwpublish.period import Period
from cwpublish.plan import (
    Plan,
    check_backfill,
    default_initiated_by,
    plan_manual,
    plan_partner,
    resolve_periods,
)
from cwpublish.recording import catch_up
from cwpublish.summing import attach_context, context_rows
from cwpublish.targets.base import INVOICED, Progress
from cwpublish.usecases.invoice_guard import guard_invoiced, missed_by, read_invoices


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
    retry: str | None = None  # --retry: a history entry ID (or unique prefix) to finish


# A history client status that did not reach ConnectWise: failed (any kind), or unknown (sent
# by a run that was killed before its answer was recorded). Everything else did reach it.
NOT_REACHED = ("failed", "unknown")


class NothingToRetry(CwpublishError):
    """--retry of an entry every client of which reached ConnectWise: nothing to do. Exit 0,
    since nothing failed; the CLI prints the message as the outcome, not as an error."""

    exit_code = EXIT_OK


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


@dataclass
class DryRun:
    """A dry run's previews (history-entry shaped), exit code, and masked request bodies."""

    previews: list[dict]
    exit_code: int
    bodies: list[str] = field(default_factory=list)


def _plans(config: Config, req: ManualRequest) -> tuple[list[Plan], bool]:
    """(plans, whether it is a backfill) for the request, every usage source read."""
    who = req.initiated_by or default_initiated_by()
    if req.retry is not None:
        check_retry_alone(
            {
                "--partner": req.partners,
                "--client": req.clients,
                "--month": req.month,
                "--from": req.first,
                "--to": req.last,
            }
        )
        plans = plan_retry(config, req.retry, who)
        attach_context(plans, config.state_dir)
        read_invoices(plans)
        return plans, False
    periods = resolve_periods(req.month, req.first, req.last)
    plans = plan_manual(config, req.partners, req.clients, periods, who)
    attach_context(plans, config.state_dir)
    read_invoices(plans)
    return plans, len(periods) > 1


def check_retry_alone(options: dict[str, object]) -> None:
    """InputError (one line) naming the options given with --retry: the entry alone decides
    the partner, period and clients, so a selection beside it would be ambiguous."""
    given = [name for name, value in options.items() if value]
    if given:
        raise InputError(
            f"--retry cannot be combined with {', '.join(given)}: it publishes exactly the "
            "clients of that history entry that did not reach ConnectWise, for the entry's "
            "partner and period"
        )


def plan_retry(config: Config, entry_id: str, initiated_by: str) -> list[Plan]:
    """The plan that publishes again the clients of history entry `entry_id` (any unique
    prefix) that did not reach ConnectWise, for that entry's partner and period.

    InputError for an unknown or ambiguous ID, a partner no longer configured, or no such
    client still in the config; NothingToRetry when every client reached ConnectWise. A client
    is found by its Managed ID, else by its name (its Managed ID was corrected in the config);
    one no longer configured is named in a warning and skipped.
    """
    from cwpublish.history import History

    history = History(config.state_dir)
    matches = history.matching(entry_id) if entry_id.strip() else []
    if not matches:
        raise InputError(
            f"--retry: no history entry with ID {entry_id!r} (`cwpublish history` lists them)"
        )
    if len(matches) > 1:
        ids = ", ".join(m["id"] for m in matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise InputError(
            f"--retry: ID {entry_id!r} is ambiguous: it starts {len(matches)} history entries "
            f"({ids}); give more of it"
        )
    entry = history.find(matches[0]["id"]) or {**matches[0], "clients": []}
    label = f"{entry['id']} ({entry['partner']} {entry['period']})"
    left = [c for c in entry["clients"] if c["status"] in NOT_REACHED]
    if not left:
        counted = sum(n for s, n in matches[0].get("counts", {}).items() if s in NOT_REACHED)
        if counted:  # the entry file was lost: its summary still counts failures
            raise InputError(
                f"--retry: the per-client rows of entry {label} are missing; publish its "
                "clients with --partner, --client and --month"
            )
        raise NothingToRetry(f"nothing to retry: every client of {label} reached ConnectWise")
    partner = next((p for p in config.partners if p.name == entry["partner"]), None)
    if partner is None:
        raise InputError(
            f"--retry: partner {entry['partner']!r} of entry {label} is not in the config"
        )
    if entry.get("site") and entry["site"] != partner.connectwise.site:
        log.warning(
            "--retry: entry %s was published to %s; the config now publishes to %s",
            entry["id"],
            entry["site"],
            partner.connectwise.site,
        )
    try:
        period = Period.parse(entry["period"])
    except ValueError as e:
        raise InputError(f"--retry: entry {label}: {e}") from None
    by_key = {c.managed_id: c for c in partner.clients}
    by_name = {c.name: c for c in partner.clients}
    picked, gone = set(), []
    for row in left:
        client = by_key.get(row["managed_id"]) or by_name.get(row["name"])
        if client is None:
            gone.append(f"{row['name']} ({row['managed_id']})")
        else:
            picked.add(client.managed_id)
    if gone:
        log.warning(
            "--retry: %d client(s) of entry %s are no longer in the config; skipped: %s",
            len(gone),
            entry["id"],
            ", ".join(gone),
        )
    clients = [c for c in partner.clients if c.managed_id in picked]
    if not clients:
        raise InputError(
            f"--retry: none of the {len(left)} client(s) of entry {label} that did not reach "
            "ConnectWise is still in the config; nothing was sent"
        )
    return [plan_partner(partner, period, clients, "manual", initiated_by)]


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
    from cwpublish.lock import PublishLock

    plans, backfill = _plans(config, req)
    if backfill:
        check_backfill(plans)
    with PublishLock(config.state_dir):  # a run that could not record finishes first
        unrecorded = catch_up(config)
    if unrecorded:  # the guards would not see it: sending now could send it again blindly
        raise StateError(
            f"not published: an earlier publish is still not recorded: {'; '.join(unrecorded)}"
            "; make the state directory writable and run again"
        )
    accepted = Accepted()
    if not req.force:
        plans = guard(config, plans, prompter, accepted)
    plans = guard_invoiced(plans, prompter, req.force)
    if prompter.interactive and not prompter.confirm_plans(plans):
        raise Aborted("aborted; nothing was sent")
    with PublishLock(config.state_dir):
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
    from cwpublish.run_plans import run_plans

    return run_plans(
        config, plans, notify=notify, progress=progress, stop_on_failure=stop_on_failure
    )


def dry_run(config: Config, req: ManualRequest, bodies: bool = False) -> DryRun:
    """What publish_manual would do, sending and writing nothing (`bodies`: the masked
    request of each plan's first call, for -v)."""
    plans, _ = _plans(config, req)
    duplicates = [] if req.force else find_duplicates(config.state_dir, plans)
    overwrites = [] if req.force else find_overwrites(config.state_dir, plans)
    previews = [
        preview(plan, duplicate_keys(duplicates, plan), overwrite_keys(overwrites, plan),
                req.force)
        for plan in plans
    ]
    invoiced = not req.force and any(missed_by(p) for p in plans)
    refused = bool(duplicates or overwrites) or invoiced
    result = DryRun(previews, dry_run_exit_code(previews, refused))
    if bodies:
        from cwpublish.targets import target_class

        result.bodies = [
            target_class(p.partner.connectwise.api).preview(p.partner, p.to_send)
            for p in plans
            if p.to_send
        ]
    return result


def preview(
    plan: Plan,
    duplicates: set[str],
    newer: dict[str, Overwrite] | None = None,
    force: bool = False,
) -> dict:
    """What a plan would do, shaped like a history entry (for --dry-run and its --json).

    A client is `duplicate` (already published for the period), `newer-held` (ConnectWise
    holds a newer month, its `held`, that this run would replace for good), `invoiced` (its
    agreement was invoiced after the day this period was due; --force) or `would-publish`.
    """
    newer = newer or {}
    missed = {} if force else {k: m for m in missed_by(plan) for k in m.state.keys}

    def row(r) -> dict:
        found = {"name": r.client, "managed_id": r.key, "billable_gb": float(r.billable_gb),
                 "status": "would-publish", "error": None, "kind": None}
        if r.key in duplicates:
            found.update(status="duplicate",
                         error="already published for this period; needs --force")
        elif r.key in newer:
            held = newer[r.key]
            found.update(status="newer-held", held=held.held, error=(
                f"ConnectWise holds {held.held} ({held.since}), newer than {plan.period}: it "
                "would be replaced; needs --force"
            ))
        elif r.key in missed:
            reason = missed[r.key].reason(plan.period)
            found.update(status="invoiced", error=f"{reason}; needs --force", kind=INVOICED)
        return found

    clients = [row(r) for r in plan.to_send]
    clients += [
        {
            "name": c.name,
            "managed_id": c.managed_id,
            "billable_gb": c.billable_gb,
            "status": "failed",
            "error": c.error,
            "kind": c.kind,
        }
        for c in plan.failed
    ]
    sending = sum(1 for c in clients if c["status"] == "would-publish")
    status, code = preview_outcome(
        sending, len(clients) - sending, plan.error_exit if plan.error else None
    )
    return {
        "partner": plan.partner.name,
        "mode": plan.mode,
        "initiated_by": plan.initiated_by,
        "period": str(plan.period),
        "site": plan.partner.connectwise.site,
        "dry_run": True,
        "status": status,
        "exit_code": code,
        "error": plan.error,
        "usage_source": plan.usage_source,
        "clients": clients,
        "unmapped": plan.unmapped,
        "warnings": list(plan.notes),
        "summed_with": context_rows(plan.context),
        "invoices": [s.to_dict() for s in plan.invoices],
    }
