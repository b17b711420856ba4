"""The seam between the publishing core and a transport: records in, one result per record out.

The core plans transport-neutral UsageRecords, opens the partner's Target with its secret,
runs the pre-flight, asks which client keys the target knows, sends, and closes. A target
raises LoginRejected (exit 12) when the site refuses who we are, ConnectWiseError (exit 1)
when it cannot be reached; it never raises for one client's failure: that is a RecordResult.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from cwpublish.config import Partner
from cwpublish.period import Period

Progress = Callable[[int], None]

# Why one client failed (RecordResult.kind, the history's client `kind`): advice keys off it.
UNKNOWN_KEY = "unknown-key"  # ConnectWise has no such client (Managed ID, company)
REJECTED = "rejected"  # ConnectWise refused this client's record
NOT_SENT = "not-sent"  # not attempted: a partner-wide failure stopped the publish
NO_USAGE = "no-usage"  # the usage data has no row for this client
INVOICED = "invoiced"  # its agreement was invoiced after the period's day (invoicing.py)
NEWER_HELD = "newer-held"  # not sent: ConnectWise holds a newer month (scheduled runs)

# A client row's text when a partner-wide failure stopped it: the failure itself is stated
# once, as the entry's error, not repeated on every row (150 clients, one wrong password).
NOT_SENT_TEXT = "not sent"
INTERRUPTED_TEXT = "not sent (interrupted)"


def device_identifier(key: str) -> str:
    """A client's stable record identifier in ConnectWise, whatever the API, so repeated
    publishes (and a move from SOAP to REST) update one configuration record."""
    return f"rcloud-{key}"


@dataclass(frozen=True)
class UsageRecord:
    """One client's billable space for a period: what every target publishes."""

    client: str
    key: str  # the client's stable key in ConnectWise (the Managed ID)
    billable_gb: Decimal
    period: Period


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one record: published (error None) or failed with a reason and kind."""

    record: UsageRecord
    error: str | None = None
    kind: str | None = None


@dataclass
class Sent:
    """What send() did: one result per record, in order, and the error that stopped it early
    (ConnectWise unreachable mid-way: the records not attempted are NOT_SENT)."""

    results: list[RecordResult]
    stopped_by: str | None = None
    summed: list = field(default_factory=list)  # summing.OtherClient added to a written total


class Target(ABC):
    """One partner's ConnectWise through one API. Open with the partner and its secret."""

    # The partner secret this target needs, as named to the user (prompts, errors, status).
    secret_label: ClassVar[str] = "password"
    # What ConnectWise calls a client's key, in messages ("Managed ID").
    key_label: ClassVar[str] = "Managed ID"

    def __init__(self, partner: Partner, secret: str):
        self.partner = partner
        self.cw = partner.connectwise

    @classmethod
    @abstractmethod
    def describe(cls, partner: Partner) -> str:
        """One line naming where and as whom this target publishes (check-config)."""

    @abstractmethod
    def preflight(self) -> str:
        """Prove the site, the login and the target's setup; a line saying what was proved."""

    @abstractmethod
    def known_keys(self) -> set[str] | None:
        """The client keys ConnectWise knows, or None when this target cannot tell;
        ConnectWiseError when asking failed (the core then sends anyway, with a warning)."""

    @abstractmethod
    def unknown_key_error(self, key: str) -> str:
        """The reason given for a client whose key ConnectWise does not know."""

    def client_problems(self, keys: list[str]) -> dict[str, str]:
        """For check-config --online: key -> why publishing that known client would fail
        (beyond an unknown key), read without writing. None found by default."""
        return {}

    def use_context(self, others: list) -> None:
        """The partner's clients not in this run (summing.OtherClient): a target that writes
        one total for several clients adds theirs; others ignore it."""
        return None

    def invoicing(self, keys: list[str]) -> list:
        """The invoicing state (invoicing.AgreementInvoices) of the agreements these clients
        bill on; none for a target that writes no agreement. ConnectWiseError if unreadable."""
        return []

    @abstractmethod
    def send(self, records: list[UsageRecord], progress: Progress | None = None) -> Sent:
        """Publish the records; one RecordResult per record, in order."""

    @classmethod
    @abstractmethod
    def preview(cls, partner: Partner, records: list[UsageRecord]) -> str:
        """What the first request would send for these records, secrets masked (--dry-run -v)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
