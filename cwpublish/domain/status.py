"""The statuses of a publish record: a client row's, why one failed, and one publish's.

Apart from record.py (which re-exports them) so that a run's outcome (run_result.py) can read
them without loading the record's types: the nightly no-op builds an empty RunResult only.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A client row's status (history, --json, dry-run preview); values are the bytes on disk."""

    PUBLISHED = "published"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"  # sent by a run killed before its answer was recorded (journal.py)
    WOULD_PUBLISH = "would-publish"  # dry run: would be sent
    DUPLICATE = "duplicate"  # dry run: already published, needs --force
    NEWER_HELD = "newer-held"  # dry run: ConnectWise holds a newer month
    INVOICED = "invoiced"  # dry run: its agreement was invoiced after the period's day


class Kind(StrEnum):
    """Why one client failed (RecordResult.kind, the history's `kind`): advice keys off it."""

    UNKNOWN_KEY = "unknown-key"  # ConnectWise has no such client (Managed ID, company)
    REJECTED = "rejected"  # ConnectWise refused this client's record
    NOT_SENT = "not-sent"  # not attempted: a partner-wide failure stopped the publish
    NO_USAGE = "no-usage"  # the usage data has no row for this client
    INVOICED = "invoiced"  # its agreement was invoiced after the period's day (invoicing.py)
    NEWER_HELD = "newer-held"  # not sent: ConnectWise holds a newer month (scheduled runs)
    UNKNOWN = "unknown"  # sent, no answer recorded (a killed run, journal.py)


class PublishStatus(StrEnum):
    """One publish's (an entry's) status; outcome.py derives it from the client rows."""

    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # a signal or a kill stopped it mid-send
