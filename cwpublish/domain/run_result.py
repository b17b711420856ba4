"""A whole run's outcome (several months, several partners): its status and exit code.

Apart from outcome.py so that the nightly no-op, which returns an empty RunResult, loads no
record type (record.py's dataclasses); the rule is the one in outcome.py's module docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cwpublish.domain.status import Status
from cwpublish.errors import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, EXIT_UNRECORDED, worst_exit_code

if TYPE_CHECKING:  # only annotations: an empty run has no entry
    from cwpublish.domain.record import Entry


def run_outcome(
    entries: list[Entry],
    not_attempted: int = 0,
    state_error: bool = False,
    interrupted: int | None = None,
) -> tuple[str, int]:
    """(status, exit code) of a whole run, from the one rule in outcome.py's docstring."""
    if interrupted:
        return "interrupted", interrupted
    if state_error:
        return "not-recorded", EXIT_UNRECORDED
    if not entries:  # nothing due; or nothing attempted at all, which published nothing
        return ("failed", EXIT_FAILED) if not_attempted else ("nothing-due", EXIT_OK)
    published = any(e.count(Status.PUBLISHED) for e in entries)
    clean = not not_attempted and all(e.exit_code == EXIT_OK for e in entries)
    if clean:
        return "success", EXIT_OK
    if published:
        return "partial", EXIT_PARTIAL
    code = worst_exit_code([e.exit_code for e in entries])
    return "failed", code if code not in (EXIT_OK, EXIT_PARTIAL) else EXIT_FAILED


@dataclass
class RunResult:
    """Every publish of one run, what was not attempted, and whether recording failed."""

    entries: list[Entry] = field(default_factory=list)
    not_attempted: list[tuple[str, str]] = field(default_factory=list)  # (partner, period)
    state_error: str | None = None  # what could not be recorded (history, ledger, journal)
    interrupted: int | None = None  # 130/143: a signal stopped the run

    def _outcome(self) -> tuple[str, int]:
        return run_outcome(
            self.entries, len(self.not_attempted), bool(self.state_error), self.interrupted
        )

    @property
    def exit_code(self) -> int:
        return self._outcome()[1]

    @property
    def status(self) -> str:
        """The --json top-level status; it always agrees with exit_code (run_outcome)."""
        return self._outcome()[0]
