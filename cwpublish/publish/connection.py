"""Opening a partner's target and its pre-flight: one path for publish, check-config and the
night-before check.

The pre-flight proves login and setup (LoginRejected, exit 12, when ConnectWise refuses;
ConnectWiseError, exit 1, when it cannot be reached), then asks which client keys exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from cwpublish.config import credentials
from cwpublish.config.model import Partner
from cwpublish.errors import CwpublishError, unexpected
from cwpublish.targets.base import Target
from cwpublish.targets.registry import target_class

# What was being done when a target raised something unexpected (errors.unexpected()'s `phase`).
OPENING = "opening the connection to ConnectWise"
PREFLIGHT = "the pre-flight"
LOOKUP = "listing the clients ConnectWise knows"
SENDING = "sending"
CLOSING = "closing the connection to ConnectWise"


@dataclass
class Preflight:
    """What the pre-flight proved, and the client keys ConnectWise knows (None: cannot tell)."""

    proved: str
    known: set[str] | None
    known_error: str | None = None  # why the keys could not be listed


def open_target(partner: Partner) -> Target:
    """The partner's target, opened with its secret from the keyring."""
    secret = credentials.partner_secret(partner)
    return target_class(partner.connectwise.api)(partner, secret)


def preflight(target: Target) -> Preflight:
    """Run the target's pre-flight and, overlapping it, list the keys it knows (independent
    calls: one round trip instead of two). A failure listing keys only warns; a pre-flight
    failure wins and the keys are discarded."""
    from concurrent.futures import ThreadPoolExecutor

    def known() -> tuple[set[str] | None, str | None]:
        try:
            return target.known_keys(), None
        except Exception as e:  # ConnectWiseError, or an answer the target's reader chokes on
            return None, str(e) if isinstance(e, CwpublishError) else unexpected(LOOKUP, e)

    with ThreadPoolExecutor(max_workers=1) as pool:
        keys = pool.submit(known)
        proved = target.preflight()
        found, error = keys.result()
    return Preflight(proved, found, error)


def describe(partner: Partner) -> str:
    """Where and as whom the partner publishes (imports the target)."""
    return target_class(partner.connectwise.api).describe(partner)
