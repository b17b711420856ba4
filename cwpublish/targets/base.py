"""The seam between the publishing core and a transport: records in, one result per record out.

The core plans transport-neutral UsageRecords, opens the partner's Target with its secret,
runs the pre-flight, asks which client keys the target knows, sends only the known ones, and
closes: in that order, which a target may rely on (send() always follows preflight()). A target
raises LoginRejected (exit 12) when the site refuses who we are, ConnectWiseError (exit 1)
when it cannot be reached; it never raises for one client's failure: that is a RecordResult.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from cwpublish.config.model import Partner
from cwpublish.domain.period import Period
from cwpublish.domain.record import Progress, RecordResult, UsageRecord


@dataclass
class Sent:
    """What send() did: one result per record, in order, and the error that stopped it early
    (ConnectWise unreachable mid-way: the records not attempted are NOT_SENT)."""

    results: list[RecordResult]
    stopped_by: str | None = None
    summed: list = field(default_factory=list)  # summing.OtherClient added to a written total
    notes: list[str] = field(default_factory=list)  # what was set, e.g. an addition's quantity


class Target(ABC):
    """One partner's ConnectWise through one API. Open with the partner and its secret.

    Its name, labels and capabilities are declared once, in its TargetSpec
    (targets/registry.py)."""
    # Whether holdings() reads back what ConnectWise holds (SOAP cannot: reconcile says so).
    reads_back: ClassVar[bool] = False

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

    def active_companies(self) -> list[dict] | None:
        """map: every company a client can be published to ({id, identifier, name}); None
        for a target whose clients are keyed otherwise (SOAP: known_keys() lists them)."""
        return None

    def holdings(self, keys: list[str], period: Period) -> list:
        """What ConnectWise holds now for these clients (reconcile), read without writing;
        none for a target that cannot read it back (reads_back false)."""
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
