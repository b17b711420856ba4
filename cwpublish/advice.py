"""What to do about a publish that did not fully succeed (terminal output and email).

Advice is chosen by the kind of failure: the entry's exit code for a partner-wide failure
(12 login, 2 input, 1 unreachable) and each client's `kind` (unknown key, rejected, not sent,
no usage), never by matching message text.
"""

from __future__ import annotations

from cwpublish.errors import EXIT_FAILED, EXIT_LOGIN, EXIT_USAGE
from cwpublish.targets.base import UNKNOWN_KEY

RETRY_LISTED = 10  # at most this many --client flags in a suggested command


def next_steps(entry: dict) -> list[str]:
    """Steps for a history entry (or a dry run's preview); none for a success."""
    partner, period = entry["partner"], entry["period"]
    failed = [c for c in entry["clients"] if c["status"] == "failed"]
    retry = f"cwpublish publish --partner {partner} --month {period}"
    code = entry.get("exit_code")
    if entry["status"] == "success":
        return []
    if code == EXIT_LOGIN:
        return [
            "Check the integrator login in ConnectWise (System > Setup Tables > Integrator "
            "Login): password, Managed Services API access, and the Management IT Name.",
            f"If the password changed: cwpublish credentials set --partner {partner}",
            f"Then prove it: cwpublish check-config --online --partner {partner}",
            f"Then publish: {retry}",
        ]
    if code == EXIT_USAGE:
        return [
            "Fix the usage data or the credentials named in the error (nothing was sent).",
            f"Check with: cwpublish check-config --partner {partner}",
            f"Then publish: {retry}",
        ]
    steps = []
    if entry["status"] == "failed" and code == EXIT_FAILED:
        steps.append(
            "ConnectWise could not be reached or refused the request; nothing or not "
            "everything was sent. Publish again once it is reachable."
        )
    if any(c.get("kind") == UNKNOWN_KEY for c in failed):
        steps.append(
            "Set up the missing Managed IDs in ConnectWise (company > Management tab, "
            "Device Types: Backup Stats) or correct them in the configuration."
        )
    if failed:
        names = " ".join(f"--client {c['managed_id']}" for c in failed[:RETRY_LISTED])
        steps.append(f"Publish the failed clients: {retry} {names}")
    return steps
