"""What to do about a publish that did not fully succeed (terminal output and email).

Advice is chosen by the kind of failure: the entry's exit code for a partner-wide failure
(12 login, 2 input, 1 unreachable, 130/143 interrupted) and each client's `kind` (unknown key,
rejected, not sent, no usage, unknown), never by matching message text: a lone unknown
Managed ID is a setup step in ConnectWise, not an outage.

The way to finish a publish is `cwpublish publish --retry ID`: it names the entry, not the
clients, so it works for one failed client or ten thousand. Clients without usage are not
advised to be retried as they are (they would fail again): the usage data comes first.

Which API the partner uses is not in the entry (its shape is a contract), and guessing it
from the error text is what this module must not do; a caller that knows it (from the
configuration) passes `api`, otherwise the login advice names both variants briefly.
"""

from __future__ import annotations

from cwpublish.domain.record import (
    INVOICED,
    NEWER_HELD,
    NO_USAGE,
    NOT_SENT,
    REJECTED,
    UNKNOWN_KEY,
    Status,
)
from cwpublish.errors import EXIT_FAILED, EXIT_LOGIN, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE

UNKNOWN = Status.UNKNOWN  # a client sent by a run that was killed before its answer was recorded
NAMES_LISTED = 5  # at most this many clients named in one step


def has_steps(status: str) -> bool:
    """Whether an entry with this status gets any next step (a success gets none)."""
    return status != "success"


def next_steps(entry: dict, api: str | None = None) -> list[str]:
    """Steps for a history entry (or a dry run's preview, which has no ID); none for a success.

    `api`: the partner's `connectwise.api` ("soap" or "rest") when the caller knows it.
    """
    if not has_steps(entry["status"]):
        return []
    if entry.get("usage_unreadable"):
        return _usage_unreadable(entry)
    partner, code = entry["partner"], entry.get("exit_code")
    left = [c for c in entry["clients"] if c["status"] in ("failed", UNKNOWN)]
    by_kind: dict[str | None, list[dict]] = {}
    for c in left:
        kind = UNKNOWN if c["status"] == UNKNOWN else c.get("kind")
        by_kind.setdefault(kind, []).append(c)
    steps = _scheduled(entry, left)
    steps += _partner_wide(entry, code, api, by_kind)
    steps += _per_kind(entry, code, api, by_kind)
    duplicates = [c for c in entry["clients"] if c["status"] == "duplicate"]
    if duplicates:
        steps.append(
            f"{_count(duplicates)} already published for {entry['period']}: add --force to "
            "publish again deliberately, or leave them out."
        )
    newer = [c for c in entry["clients"] if c["status"] == "newer-held"]
    if newer:
        held = max(str(c.get("held") or "") for c in newer) or "the newest month"
        steps.append(
            f"ConnectWise holds a newer month than {entry['period']} for {_count(newer)} "
            f"({_names(newer)}), and keeps one value per client. Safe: publish {held} "
            f"(cwpublish publish --partner {partner} --month {held}), or end the backfill "
            "at it; add --force only to replace it deliberately."
        )
    if not _retry_plan(entry):  # a scheduled retry's step names the command already
        steps += _publish_again(entry, partner, by_kind)
    return steps


def _usage_unreadable(entry: dict) -> list[str]:
    """The one step for a usage file that could not be read: fix it, then publish again (no
    --retry: nothing was sent, and the same command publishes every client once it reads)."""
    partner, period = entry["partner"], entry["period"]
    source = entry.get("usage_source") or "the usage data"
    steps = [
        f"Nothing was sent. Fix {source} (the error says what), then publish again: "
        f"cwpublish publish --partner {partner} --month {period}"
    ]
    plan = _retry_plan(entry)
    if plan and plan.get("next_try"):
        steps.append(f"Otherwise the schedule tries again on {plan['next_try']}.")
    return steps


def _retry_plan(entry: dict) -> dict | None:
    """The entry's `scheduled_retry` (an automatic publish not done), when well formed."""
    plan = entry.get("scheduled_retry")
    if isinstance(plan, dict) and isinstance(plan.get("last_try"), str) and entry.get("id"):
        return plan
    return None


def is_last_try(entry: dict) -> bool:
    """Whether the entry is a scheduled period's last automatic try, not done (email subject)."""
    plan = _retry_plan(entry)
    return bool(plan) and not plan.get("next_try")


def _scheduled(entry: dict, left: list[dict]) -> list[str]:
    """When the schedule tries a failed automatic publish again, or that it will not."""
    plan = _retry_plan(entry)
    if plan is None:
        return []
    command = f"cwpublish publish --retry {entry['id']}"
    if plan.get("next_try"):
        return [
            f"The schedule tries the {_count(left)} not published again on "
            f"{plan['next_try']}, then each night until they are published; its last try is on "
            f"{plan['last_try']}. To publish sooner: {command}"
        ]
    return [
        f"This was the last automatic try: {entry['period']} is NOT published for "
        f"{_count(left)}, and the schedule will not try again. Publish it: {command}"
    ]


def _partner_wide(
    entry: dict, code: int | None, api: str | None, by_kind: dict[str | None, list[dict]]
) -> list[str]:
    """Steps for what stopped the whole publish, from the entry's exit code."""
    partner = entry["partner"]
    if code == EXIT_LOGIN:
        return [
            *_login(api),
            f"If the {_secret(api)} changed: cwpublish credentials set --partner {partner}",
            f"Prove it: cwpublish check-config --online --partner {partner}",
        ]
    if code == EXIT_USAGE and set(by_kind) - {NO_USAGE}:
        return [
            "Fix the usage data or the credentials named in the error; nothing was sent.",
            f"Check with: cwpublish check-config --partner {partner}",
        ]
    if code in (EXIT_SIGINT, EXIT_SIGTERM) or entry["status"] == "interrupted":
        return [
            "The publish was interrupted (Ctrl-C, SIGTERM, or the process was killed); what "
            "ConnectWise accepted is recorded, the rest was not sent or not answered."
        ]
    if entry.get("error") and (code == EXIT_FAILED or NOT_SENT in by_kind):
        return [
            "ConnectWise could not be reached or answered wrongly (the error says which); "
            + ("nothing was sent." if entry["status"] == "failed" else "not everything was sent.")
            + _again(entry)
        ]
    return []


def _again(entry: dict) -> str:
    """Who publishes again after an outage: the schedule (its step says when), or the user."""
    plan = _retry_plan(entry)
    if plan and plan.get("next_try"):
        again = f" The schedule publishes it again on {plan['next_try']};"
    else:
        again = " Publish again once it answers;"
    return again + " re-sending what it already has is harmless."


def _login(api: str | None) -> list[str]:
    """What to check when ConnectWise rejected who we are, for the partner's API."""
    soap = (
        "the integrator login (System > Setup Tables > Integrator Login): its password, "
        "Managed Services API access, and the Management IT Name"
    )
    rest = (
        "the API member (System > Members > API Members): its public and private key, its "
        "security role, and that the integration's clientId is accepted; and that the "
        "configuration type or product exists"
    )
    if api == "soap":
        return [f"Check {soap} in ConnectWise."]
    if api == "rest":
        return [f"Check {rest} in ConnectWise."]
    return [f"Check in ConnectWise who cwpublish logs in as: SOAP, {soap}; REST, {rest}."]


# The partner secret by API, in the words of targets/registry.py's secret_label (domain may
# not import it; tests/unit/domain/test_secret_words.py holds them equal): one name each.
SECRET_WORDS = {"soap": "integrator password", "rest": "API private key"}


def _secret(api: str | None) -> str:
    return SECRET_WORDS.get(api or "", " or ".join(SECRET_WORDS.values()))


def _per_kind(
    entry: dict, code: int | None, api: str | None, by_kind: dict[str | None, list[dict]]
) -> list[str]:
    """One step per kind of client failure."""
    steps = []
    if UNKNOWN_KEY in by_kind:
        where = {
            "soap": "a company's Management tab, Device Types: Backup Stats",
            "rest": "the company with that identifier, and its agreement",
        }.get(api or "", "SOAP: the company's Management tab, Device Types: Backup Stats; "
              "REST: the company with that identifier")
        steps.append(
            f"ConnectWise does not know {_count(by_kind[UNKNOWN_KEY])} "
            f"({_names(by_kind[UNKNOWN_KEY])}): set them up in ConnectWise ({where}), or "
            "correct the Managed ID / company in the configuration."
        )
    if REJECTED in by_kind:
        steps.append(
            f"ConnectWise refused the record of {_count(by_kind[REJECTED])} "
            f"({_names(by_kind[REJECTED])}); each row gives its reason (e.g. the device type, "
            "configuration type or agreement): fix that in ConnectWise."
        )
    if NOT_SENT in by_kind and code not in (EXIT_LOGIN, EXIT_USAGE) and not entry.get("error"):
        steps.append(f"{_count(by_kind[NOT_SENT])} not sent: the publish stopped before them.")
    if UNKNOWN in by_kind:
        steps.append(
            f"{_count(by_kind[UNKNOWN])} sent, but the run was killed before the answer was "
            "recorded; sending them again is harmless."
        )
    if INVOICED in by_kind:
        rows, where = by_kind[INVOICED], f"--retry {entry['id']}" if entry.get("id") else (
            f"--partner {entry['partner']} --month {entry['period']}")
        steps.append(
            f"The agreement invoice went out before {entry['period']}'s usage of "
            f"{_count(rows)} ({_names(rows)}) was published (each row names the invoice "
            "date), so that invoice billed without it. Either bill it by hand on that invoice, "
            f"or publish it onto the next one with `cwpublish publish {where} --force` and "
            "check that the next month's publish does not overwrite it."
        )
    if NEWER_HELD in by_kind:
        steps.append(
            f"{_count(by_kind[NEWER_HELD])} ({_names(by_kind[NEWER_HELD])}) not sent: "
            f"ConnectWise holds a newer month for them, which {entry['period']} would replace. "
            "Safe: leave them (the newer month stays). Only to send this month over it: the "
            "command in each row, with --force."
        )
    if NO_USAGE in by_kind:
        rows = by_kind[NO_USAGE]
        steps.append(
            f"No usage row for {entry['period']} for {_count(rows)} ({_names(rows)}): add "
            f"their rows to {entry.get('usage_source') or 'the usage data'} (the error says if "
            "a row is spelled differently), or set `publish: false`; publishing them before "
            "that fails again, and a missing row is never sent as 0."
        )
    return steps


def _publish_again(entry: dict, partner: str, by_kind: dict[str | None, list[dict]]) -> list[str]:
    """The command that finishes the publish: --retry ID for a recorded entry."""
    if not by_kind:
        return []
    if entry.get("dry_run") or not entry.get("id"):  # a preview: nothing to retry yet
        command = f"cwpublish publish --partner {partner} --month {entry['period']}"
    else:
        command = f"cwpublish publish --retry {entry['id']}"
    if set(by_kind) - {NO_USAGE, INVOICED}:
        return [f"Then publish what did not reach ConnectWise: {command}"]
    if NO_USAGE in by_kind:
        return [f"Once the usage rows are there: {command}"]
    return []  # invoiced: its own step says how, deliberately (--force)


def _count(clients: list[dict]) -> str:
    return f"{len(clients)} client{'s' if len(clients) != 1 else ''}"


def _names(clients: list[dict]) -> str:
    """A few Managed IDs, then how many more."""
    shown = ", ".join(c["managed_id"] for c in clients[:NAMES_LISTED])
    more = len(clients) - NAMES_LISTED
    return f"{shown} and {more} more" if more > 0 else shown
