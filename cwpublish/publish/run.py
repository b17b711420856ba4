"""Sending one plan through the partner's target and turning the outcome into a history entry.

The pre-flight runs first; clients whose key ConnectWise does not know are failed without being
sent; the rest go to the target, which returns one result per record. Nothing is raised: every
failure ends in the entry, with its kind (for advice) and the exit code outcome.py derives --
anything a target raises too (an answer its reader chokes on, an odd id), whatever the phase:
opening, pre-flight, listing keys, sending (a failure closing it is a warning)."""

from __future__ import annotations

from pathlib import Path

from cwpublish import interrupt, log
from cwpublish.config.model import state_key
from cwpublish.domain.outcome import finish, nothing_sent
from cwpublish.domain.record import (
    NOT_SENT,
    NOT_SENT_TEXT,
    UNKNOWN_KEY,
    ClientResult,
    Entry,
    Progress,
    PublishStatus,
    RecordResult,
    Status,
    UsageRecord,
)
from cwpublish.errors import (
    EXIT_FAILED,
    EXIT_OK,
    CwpublishError,
    LoginRejected,
    StateError,
    unexpected,
)
from cwpublish.publish.connection import (
    CLOSING,
    OPENING,
    PREFLIGHT,
    SENDING,
    open_target,
    preflight,
)
from cwpublish.publish.invoicing import hold_invoiced
from cwpublish.publish.plan import Plan
from cwpublish.publish.summing import attach_context, summed_notes
from cwpublish.state import journal
from cwpublish.targets.base import Target


def execute(plan: Plan, progress: Progress | None = None, state_dir: Path | None = None) -> Entry:
    """Send a plan and return the finished history entry (nothing raised).

    With `state_dir`, a journal of the publish is written before anything is sent, so a run
    killed mid-way is closed as interrupted by the next one (journal.py).
    """
    p = plan.partner
    if state_dir is not None:
        attach_context([plan], state_dir)  # under the lock: what the ledger holds now
    entry = Entry(
        partner=p.name,
        mode=plan.mode,
        initiated_by=plan.initiated_by,
        period=str(plan.period),
        started_at=plan.started_at,
        site=p.connectwise.site,
        state_key=state_key(p),
        usage_source=plan.usage_source,
        unmapped=plan.unmapped,
        clients=list(plan.skipped),
        warnings=list(plan.notes),
    )
    if plan.error:
        entry.clients += plan.failed + plan.unread
        entry.usage_unreadable = bool(plan.unread)
        return finish(entry, plan.error, plan.error_exit)
    if not plan.to_send:
        entry.clients += plan.failed
        if not plan.failed:
            return finish(entry, None, EXIT_OK)
        return finish(entry, *nothing_sent([c.kind for c in plan.failed]))
    try:
        results, error, code = _send(plan, entry, progress, state_dir)
    except Exception as e:  # a bug of ours while publishing: this partner fails, others go on
        error, code = unexpected(SENDING, e), EXIT_FAILED
        results = [_row(RecordResult(r, NOT_SENT_TEXT, NOT_SENT)) for r in plan.to_send]
    entry.clients += results + plan.failed
    finish(entry, error, code)
    if interrupt.requested() and any(r.kind == NOT_SENT for r in entry.clients):
        entry.status = PublishStatus.INTERRUPTED  # the truth: some accepted, the rest never sent
        entry.exit_code = interrupt.exit_code() or entry.exit_code
        entry.error = f"{interrupt.reason()}; the clients not sent are listed"
    return entry


Rows = list[ClientResult]


def _send(
    plan: Plan, entry: Entry, progress: Progress | None, state_dir: Path | None
) -> tuple[Rows, str | None, int | None]:
    """Pre-flight, drop unknown keys, send; (client rows, partner-level error, its exit code)."""

    def fail_all(reason: str) -> list[ClientResult]:
        # stated once, as the entry's error; each row only says it was not sent
        return [_row(RecordResult(r, NOT_SENT_TEXT, NOT_SENT)) for r in plan.to_send]

    try:
        target = open_target(plan.partner)
    except CwpublishError as e:
        return fail_all(str(e)), str(e), e.exit_code if e.exit_code != EXIT_OK else EXIT_FAILED
    except Exception as e:  # whatever a transport raises is this partner's failure
        reason = unexpected(OPENING, e)
        return fail_all(reason), reason, EXIT_FAILED
    try:
        try:
            check = preflight(target)
        except LoginRejected as e:
            reason = (
                f"ConnectWise rejected {e.rejected} ({e}); {e.fix} and run "
                f"`cwpublish check-config --online --partner {plan.partner.name}`"
            )
            return fail_all(reason), reason, e.exit_code
        except CwpublishError as e:
            return fail_all(str(e)), str(e), EXIT_FAILED
        except Exception as e:
            reason = unexpected(PREFLIGHT, e)
            return fail_all(reason), reason, EXIT_FAILED
        if check.known_error:
            log.warning(
                "%s: could not verify Managed IDs (%s); sending anyway",
                plan.partner.name,
                check.known_error,
            )
        to_send, unknown = _split_known(target, plan.to_send, check.known)
        try:
            hold = hold_invoiced(target, plan, to_send)  # the agreements' invoices (invoicing.py)
            to_send, unknown = hold.to_send, unknown + hold.held
            if state_dir is not None:
                _journal(state_dir, entry, plan, to_send, unknown)
            target.use_context(plan.context)
            sent = target.send(to_send, progress)
        except Exception as e:  # which records ConnectWise took is unknown: all are sent again
            reason = unexpected(SENDING, e)
            rows = [RecordResult(r, NOT_SENT_TEXT, NOT_SENT) for r in to_send]
            return [_row(r) for r in unknown + rows], reason, EXIT_FAILED
    finally:
        _close(target, entry)
    entry.invoices = [s.to_dict() for s in hold.states]
    entry.warnings = summed_notes(entry.warnings, sent.summed)
    entry.actions = list(sent.notes)
    entry.warnings += [hold.warning] if hold.warning else []
    entry.summed_with = [o.to_dict() for o in sent.summed]
    return [_row(r) for r in unknown + sent.results], sent.stopped_by, None


def _close(target: Target, entry: Entry) -> None:
    """Close the target; a failure to close changes no result (what was sent stands): it is a
    warning, in the entry and on stderr."""
    try:
        target.close()
    except Exception as e:
        problem = str(e) if isinstance(e, CwpublishError) else unexpected(CLOSING, e)
        log.warning("%s: %s", entry.partner, problem)
        entry.warnings.append(problem)


def _journal(
    state_dir: Path, entry: Entry, plan: Plan, to_send: list[UsageRecord], unknown: list
) -> None:
    """What is about to be sent (each client `unknown` until its answer is recorded), and
    the rows already known (failed before sending)."""
    known = entry.clients + [_row(r) for r in unknown] + plan.failed
    try:
        journal.begin(state_dir, entry, to_send, known)
    except StateError as e:  # as with history: a full disk never hides or blocks the publish
        log.warning("%s: no journal of this publish (%s); sending anyway", plan.partner.name, e)


def _split_known(
    target, records: list[UsageRecord], known: set[str] | None
) -> tuple[list[UsageRecord], list[RecordResult]]:
    """(records to send, failed results for keys ConnectWise does not know); all if it can't say."""
    if known is None:
        return records, []
    keep, unknown = [], []
    for r in records:
        if r.key in known:
            keep.append(r)
        else:
            unknown.append(RecordResult(r, target.unknown_key_error(r.key), UNKNOWN_KEY))
    return keep, unknown


def _row(result: RecordResult) -> ClientResult:
    r = result.record
    return ClientResult(
        r.client,
        r.key,
        float(r.billable_gb),
        Status.FAILED if result.error else Status.PUBLISHED,
        result.error,
        result.kind,
    )
