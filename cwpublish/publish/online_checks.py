"""Online checks of one partner's ConnectWise: login, setup and client keys, as checklist lines.

Shared by `check-config --online` (every client) and the night-before check (the clients
tomorrow's run would publish), through the same pre-flight a publish runs (publish/connection.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cwpublish.config.model import Partner
from cwpublish.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CwpublishError, unexpected
from cwpublish.publish.connection import open_target, preflight
from cwpublish.targets.registry import TARGETS


@dataclass
class Check:
    """One line of a checklist."""

    status: str  # ok | warn | fail
    scope: str  # a partner name, "smtp", "templates" or "config"
    message: str
    exit_code: int = EXIT_OK

    def to_dict(self) -> dict:
        return asdict(self)


def online_checks(partner: Partner, selected_only: bool = False) -> list[Check]:
    """Log in to the partner's ConnectWise and verify every client key (or only those of
    clients with `publish: true`: the night-before check warns about what would fail).
    Whatever the target raises (an answer it cannot read) is a failed check, never a crash."""
    try:
        return _online_checks(partner, selected_only)
    except Exception as e:
        return [Check("fail", partner.name, unexpected("the online check", e), EXIT_FAILED)]


def _online_checks(partner: Partner, selected_only: bool) -> list[Check]:
    name = partner.name
    try:
        target = open_target(partner)
    except CwpublishError as e:
        return [Check("fail", name, str(e), e.exit_code)]
    with target:
        try:
            found = preflight(target)
        except CwpublishError as e:
            return [Check("fail", name, f"login: {e}", e.exit_code)]
        checks = [Check("ok", name, found.proved)]
        label = TARGETS[partner.connectwise.api].key_label
        labels = label[:-1] + "ies" if label.endswith("y") else label + "s"
        if found.known is None:
            why = found.known_error or "this API cannot list them"
            return [*checks, Check("warn", name, f"could not verify {labels} ({why})")]
        clients = [c for c in partner.clients if c.publish or not selected_only]
        missing = [f"{c.name} ({c.managed_id})" for c in clients if c.managed_id not in found.known]
        if missing:
            checks.append(
                Check(
                    "fail",
                    name,
                    f"{labels} not set up in ConnectWise: {', '.join(missing)}",
                    EXIT_USAGE,
                )
            )
        else:
            checks.append(Check("ok", name, f"all {len(clients)} {labels} exist in ConnectWise"))
        known = [c.managed_id for c in clients if c.managed_id in found.known]
        problems = target.client_problems(known)
        if problems:
            listing = "; ".join(f"{key}: {why}" for key, why in problems.items())
            checks.append(Check("fail", name, f"would fail: {listing}", EXIT_USAGE))
        return checks
