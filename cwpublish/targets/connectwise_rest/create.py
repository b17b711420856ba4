"""Creating a REST record without ever creating it twice.

A POST whose outcome is unknown (time-out, connection lost, 5xx, an answer of the wrong shape)
may have been stored, or be stored a moment later (a gateway's 504 while the site still works).
It is never sent again blind: after the back-off wait, the records it could have made are read
again with the planning look-ups, and exactly one holding the value is adopted (published);
none means it was not stored, so it is sent again within the time budget; anything else fails
that client naming what was found. A PATCH sets a value, so it is simply retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cwpublish import log
from cwpublish.errors import ConnectWiseError
from cwpublish.targets.connectwise_rest.client import OutcomeUnknown, RestClient
from cwpublish.targets.connectwise_rest.rules import not_kept
from cwpublish.targets.retry import backoff, pause, within_budget

Finder = Callable[[RestClient], list[dict]]


@dataclass(frozen=True)
class Created:
    """How a create ended: `error` None when ConnectWise holds the record (answered, or
    found there after its answer was lost), else why that client fails."""

    error: str | None = None


def create(
    client: RestClient, path: str, body: dict, expected: dict[str, object], find: Finder | None
) -> Created:
    """POST `body` once, or again only after reading that nothing was stored. Raises
    ConnectWiseError when it cannot end (the re-read failed, the budget ran out, a signal):
    the record is then not counted as received, and the next run reads before it writes."""
    cw = client.cw
    started = time.monotonic()
    attempt = 1
    while True:
        try:
            answer = client.create(path, body, started)
        except OutcomeUnknown as e:
            lost = e
        else:
            return Created(not_kept(answer, expected))
        if find is None:  # nothing can tell whether it was stored: never guess
            raise lost
        # when another create is allowed, wait first, then read: the site may still be storing
        # it (a gateway's 504), and a second create must follow a read made after the wait.
        # With no retry left the read comes at once: a record stored later reads as absent,
        # the client fails, and the next publish reads before it writes
        delay = backoff(cw, attempt)
        again = attempt <= cw.retries and within_budget(cw, started, delay)
        again = again and pause(lost, delay, attempt, cw)
        try:
            found = find(client)
        except ConnectWiseError as e:
            raise ConnectWiseError(
                lost.operation,
                f"{lost.message}; reading back whether it was stored failed too ({e}); the "
                "next publish reads before it writes",
                kind=lost.kind,
                http_status=lost.http_status,
            ) from None
        if len(found) == 1 and not_kept(found[0], expected) is None:
            log.info("%s; ConnectWise holds it (id %s): adopted", lost, found[0]["id"])
            return Created()
        if found:
            return Created(_found_instead(lost, found, expected))
        if not again:
            raise _not_stored(lost, attempt)
        attempt += 1


def _found_instead(lost: ConnectWiseError, found: list[dict], expected: dict) -> str:
    ids = ", ".join(str(f["id"]) for f in found)
    if len(found) == 1:
        held = (not_kept(found[0], expected) or "").replace("ConnectWise kept", "it holds")
        what = f"a record (id {ids}) where {held}; check it, then publish again"
    else:
        what = f"{len(found)} records (ids {ids}); keep one, then publish again"
    return f"the answer to the create was lost ({lost.message}); ConnectWise now has {what}"


def _not_stored(lost: ConnectWiseError, attempts: int) -> ConnectWiseError:
    return ConnectWiseError(
        lost.operation,
        f"{lost.message}; read back: not stored"
        + (f" (after {attempts} attempts)" if attempts > 1 else ""),
        kind=lost.kind,
        http_status=lost.http_status,
    )
