"""Status and exit code, derived in one place from client results (real runs and dry runs).

A publish is `success` when no client failed, `partial` when some were published and some
failed, `failed` when none was published. Its exit code is the partner-level failure's code
when there was one (login 12, usage/credentials 2, unreachable 1), else 0/3/1 from the status.

A run (several months, several partners) follows the same rule across all its publishes
(run_result.py): everything published -> 0 `success`; some client published anywhere and
something failed or was not attempted -> 3 `partial`; nothing published -> the most severe
code of its publishes (1, 2, 12) `failed`. A signal wins (130/143 `interrupted`), then a
record that could not be written (4 `not-recorded`: ConnectWise has it, the history, ledger or
journal does not).
"""

from __future__ import annotations

from datetime import datetime

from cwpublish.domain.record import NO_USAGE, Entry, PublishStatus, Status
from cwpublish.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    worst_exit_code,
)

_EXIT_OF_STATUS = {
    PublishStatus.SUCCESS: EXIT_OK,
    PublishStatus.PARTIAL: EXIT_PARTIAL,
    PublishStatus.FAILED: EXIT_FAILED,
}


def status_of(published: int, failed: int) -> str:
    """success | partial | failed from the number of published and failed clients."""
    if not failed:
        return PublishStatus.SUCCESS
    return PublishStatus.PARTIAL if published else PublishStatus.FAILED


def exit_code_of(status: str, partner_code: int | None) -> int:
    """The exit code of one publish: a partner-level failure's own code, else by status.

    A partner-level "unreachable" (1) that still let some clients through is a partial (3).
    """
    through = partner_code == EXIT_FAILED and status != PublishStatus.FAILED
    if partner_code in (None, EXIT_OK) or through:
        return _EXIT_OF_STATUS[status]
    return partner_code


def finish(entry: Entry, error: str | None, partner_code: int | None) -> Entry:
    """Set an entry's status, exit code, error and finish time from its client rows."""
    entry.status = status_of(entry.count(Status.PUBLISHED), entry.count(Status.FAILED))
    entry.exit_code = exit_code_of(entry.status, partner_code)
    entry.error = error
    entry.finished_at = datetime.now().astimezone().isoformat(timespec="seconds")
    return entry


def nothing_sent(kinds: list[str | None]) -> tuple[str, int]:
    """(error, exit code) of a publish where every selected client failed before sending
    (their `kinds`): a missing usage row is the input's fault (2), anything else (newer-held,
    invoiced, ...) a failed publish (1). The real run and the scheduled preview both use it."""
    if NO_USAGE in kinds:
        return "nothing to send: no selected client has usage", EXIT_USAGE
    return "nothing sent: every selected client failed before sending", EXIT_FAILED


def preview_outcome(
    sending: int,
    failing: int,
    plan_error_exit: int | None,
    automatic: bool = False,
    kinds: list[str | None] | None = None,
) -> tuple[str, int]:
    """(status, exit code) of a dry run's preview: what the real run would give at best.

    A manual preview with nothing to send would send nothing: it exits 2 (fix the input), not
    1. A scheduled preview (`automatic`, the failing clients' `kinds`) exits as the night
    would: its partner-level code, else nothing_sent() when nothing would be sent.
    """
    status = status_of(sending, failing)
    if automatic:
        if plan_error_exit is None and not sending and failing:
            return status, nothing_sent(kinds or [])[1]
        return status, exit_code_of(status, plan_error_exit)
    if plan_error_exit is not None:
        return status, plan_error_exit
    return status, {"success": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_USAGE}[status]


def dry_run_exit_code(previews: list[dict], duplicates: bool) -> int:
    """A dry run exits as the real run would start: duplicates without --force are refused."""
    codes = [p["exit_code"] for p in previews]
    return worst_exit_code(codes + ([EXIT_USAGE] if duplicates else []))
