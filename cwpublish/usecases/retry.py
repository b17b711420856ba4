"""--retry ID: publish again exactly the clients of one history entry that did not reach
ConnectWise, for the entry's partner and period (then it goes the way of any publish)."""

from __future__ import annotations

from cwpublish import log
from cwpublish.config.model import Config
from cwpublish.domain.period import Period
from cwpublish.domain.record import NOT_REACHED, Entry
from cwpublish.errors import EXIT_OK, CwpublishError, InputError
from cwpublish.publish.plan import (
    Plan,
    plan_partner,
)
from cwpublish.state.history import History


class NothingToRetry(CwpublishError):
    """--retry of an entry every client of which reached ConnectWise: nothing to do. Exit 0,
    since nothing failed; the CLI prints the message as the outcome, not as an error."""

    exit_code = EXIT_OK


def check_retry_alone(options: dict[str, object]) -> None:
    """InputError (one line) naming the options given with --retry: the entry alone decides
    the partner, period and clients, so a selection beside it would be ambiguous. Checked
    once, by the CLI, which sees every option (--scheduled too) before the config loads."""
    given = [name for name, value in options.items() if value]
    if given:
        raise InputError(
            f"--retry cannot be combined with {', '.join(given)}: it publishes exactly the "
            "clients of that history entry that did not reach ConnectWise, for the entry's "
            "partner and period"
        )


def plan_retry(config: Config, entry_id: str, initiated_by: str) -> list[Plan]:
    """The plan that publishes again the clients of history entry `entry_id` (any unique
    prefix) that did not reach ConnectWise, for that entry's partner and period.

    InputError for an unknown or ambiguous ID, a partner no longer configured, or no such
    client still in the config; NothingToRetry when every client reached ConnectWise. A client
    is found by its Managed ID, else by its name (its Managed ID was corrected in the config);
    one no longer configured is named in a warning and skipped.
    """

    history = History(config.state_dir)
    matches = history.matching(entry_id) if entry_id.strip() else []
    if not matches:
        raise InputError(
            f"--retry: no history entry with ID {entry_id!r} (`cwpublish history` lists them)"
        )
    if len(matches) > 1:
        ids = ", ".join(m["id"] for m in matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise InputError(
            f"--retry: ID {entry_id!r} is ambiguous: it starts {len(matches)} history entries "
            f"({ids}); give more of it"
        )
    # the entry's file (checked by History), else its summary: then its rows are missing
    entry = Entry.from_dict(history.find(matches[0]["id"]) or {**matches[0], "clients": []})
    label = f"{entry.id} ({entry.partner} {entry.period})"
    left = [c for c in entry.clients if c.status in NOT_REACHED]
    if not left:
        counted = sum(n for s, n in matches[0].get("counts", {}).items() if s in NOT_REACHED)
        if counted:  # the entry file was lost: its summary still counts failures
            raise InputError(
                f"--retry: the per-client rows of entry {label} are missing; publish its "
                "clients with --partner, --client and --month"
            )
        raise NothingToRetry(f"nothing to retry: every client of {label} reached ConnectWise")
    partner = next((p for p in config.partners if p.name == entry.partner), None)
    if partner is None:
        raise InputError(
            f"--retry: partner {entry.partner!r} of entry {label} is not in the config"
        )
    if entry.site and entry.site != partner.connectwise.site:
        log.warning(
            "--retry: entry %s was published to %s; the config now publishes to %s",
            entry.id,
            entry.site,
            partner.connectwise.site,
        )
    try:
        period = Period.parse(entry.period)
    except ValueError as e:
        raise InputError(f"--retry: entry {label}: {e}") from None
    by_key = {c.managed_id: c for c in partner.clients}
    by_name = {c.name: c for c in partner.clients}
    picked, gone = set(), []
    for row in left:
        client = by_key.get(row.managed_id) or by_name.get(row.name)
        if client is None:
            gone.append(f"{row.name} ({row.managed_id})")
        else:
            picked.add(client.managed_id)
    if gone:
        log.warning(
            "--retry: %d client(s) of entry %s are no longer in the config; skipped: %s",
            len(gone),
            entry.id,
            ", ".join(gone),
        )
    clients = [c for c in partner.clients if c.managed_id in picked]
    if not clients:
        raise InputError(
            f"--retry: none of the {len(left)} client(s) of entry {label} that did not reach "
            "ConnectWise is still in the config; nothing was sent"
        )
    return [plan_partner(partner, period, clients, "manual", initiated_by)]
