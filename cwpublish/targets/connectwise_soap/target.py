"""The SOAP Managed Device API target (`connectwise.api: soap`, the default).

Publishes each client as a "Backup Stats" managed device with UpdateManagedDevices, after the
GetManagementItSetupsName pre-flight; GetManagedGroup tells which Managed IDs exist.
"""

from __future__ import annotations

from cwpublish.config.model import Partner
from cwpublish.domain.record import Progress, UsageRecord
from cwpublish.errors import ConnectWiseError, LoginRejected
from cwpublish.targets.base import Sent, Target
from cwpublish.targets.connectwise_soap.batches import send_batches
from cwpublish.targets.connectwise_soap.client import ConnectWiseClient
from cwpublish.targets.connectwise_soap.envelope import preview_envelope
from cwpublish.targets.connectwise_soap.settings import endpoint

REJECTED = "the login or the Management IT Name"


class SoapTarget(Target):
    """A partner's site through the SOAP Managed Device API, logged in as its integrator."""

    def __init__(self, partner: Partner, secret: str):
        super().__init__(partner, secret)
        self.soap = self.cw.settings
        self.client = ConnectWiseClient(self.cw, secret)

    @classmethod
    def describe(cls, partner: Partner) -> str:
        cw = partner.connectwise
        return (
            f"ConnectWise site {endpoint(cw)} (company {cw.company_id}, "
            f"login {cw.settings.integrator_username})"
        )

    def preflight(self) -> str:
        """GetManagementItSetupsName: proves site, login and Management IT Name in one call.

        Any SOAP fault or HTTP 401/403 here means the login or the Management IT Name is wrong
        (fault texts are undocumented, so which call failed decides, not the text).
        """
        name = self.soap.management_it_name
        try:
            answer = self.client.management_it_name()
        except ConnectWiseError as e:
            if e.kind == "fault" or e.http_status in (401, 403):
                raise LoginRejected(
                    e.operation,
                    e.message,
                    rejected=REJECTED,
                    fix=f"check the integrator login of company {self.cw.company_id!r}",
                ) from None
            raise
        if not answer:
            raise LoginRejected(
                "GetManagementItSetupsName",
                f"ConnectWise does not know the Management IT Name {name!r}",
                rejected=REJECTED,
                fix=f"check the integrator login of company {self.cw.company_id!r}",
                kind="fault",
            )
        return f"logged in; Management IT Name {answer!r} exists"

    def known_keys(self) -> set[str] | None:
        """GetManagedGroup: the Managed IDs companies set up for this Management IT Name."""
        return self.client.managed_ids()

    def unknown_key_error(self, key: str) -> str:
        return (
            f"Managed ID {key!r} is not set up in ConnectWise for "
            f"{self.soap.management_it_name!r} (company > Management tab)"
        )

    def send(self, records: list[UsageRecord], progress: Progress | None = None) -> Sent:
        return send_batches(
            self.client.update_devices,
            records,
            self.soap.batch_size,
            self.cw.parallel_requests,
            progress,
        )

    @classmethod
    def preview(cls, partner: Partner, records: list[UsageRecord]) -> str:
        batch = records[: partner.connectwise.settings.batch_size]
        return (
            f"SOAP body of the first UpdateManagedDevices call for {partner.name} "
            f"{batch[0].period} ({len(batch)} devices):\n"
            + preview_envelope(partner.connectwise, batch)
        )

    def close(self) -> None:
        self.client.close()
