"""Retrying transient ConnectWise failures: exponential backoff with jitter, within a budget.

Connection errors, time-outs and HTTP 429/502/503/504 (ConnectWiseError.transient) are retried
at most `retries` times and never past `retry_max_seconds`, honouring Retry-After; everything
else fails at once. A wait ends at once on Ctrl-C/SIGTERM (interrupt.sleep). Only requests
that are safe to repeat come here: reads and sets (SOAP updates, REST PATCH); a REST create is
retried only when it surely was not stored (connectwise_rest/create.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from cwpublish import interrupt, log
from cwpublish.config.model import ConnectWise
from cwpublish.errors import ConnectWiseError

T = TypeVar("T")


def backoff(cw: ConnectWise, attempt: int) -> float:
    """The pause before attempt `attempt + 1`: exponential, with jitter."""
    import random

    return cw.retry_backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)


def within_budget(cw: ConnectWise, started: float, delay: float) -> bool:
    """Whether waiting `delay` more seconds stays within `retry_max_seconds` of `started`."""
    return time.monotonic() - started + delay <= cw.retry_max_seconds


def beyond_budget(e: ConnectWiseError, delay: float, cw: ConnectWise) -> ConnectWiseError:
    """`e`, saying that waiting `delay` more would pass the time budget (so no retry)."""
    if delay < 1:
        return e
    e.message += (
        f"; waiting {delay:.0f}s more would pass the time budget "
        f"(connectwise.retry_max_seconds: {cw.retry_max_seconds:g})"
    )
    e.args = (f"{e.operation}: {e.message}",)
    return e


def pause(e: ConnectWiseError, delay: float, attempt: int, cw: ConnectWise) -> bool:
    """Say why, then wait `delay` (False when a signal ended the wait: do not retry)."""
    # At a terminal a wait is never silent; in cron it is said only with -v.
    say = log.warning if _at_terminal() else log.info
    say("%s; retrying in %.1fs (attempt %d of %d)", e, delay, attempt + 1, cw.retries + 1)
    return interrupt.sleep(delay)


def with_retries(cw: ConnectWise, call: Callable[[], T], started: float | None = None) -> T:
    """Run `call` (which raises ConnectWiseError), retrying what is transient; the budget
    counts from `started` (monotonic; now by default)."""
    started = time.monotonic() if started is None else started
    attempt = 1
    while True:
        try:
            return call()
        except ConnectWiseError as e:
            if not e.transient or attempt > cw.retries:
                raise e.after(attempt) from None
            delay = e.retry_after if e.retry_after is not None else backoff(cw, attempt)
            if not within_budget(cw, started, delay):
                raise beyond_budget(e.after(attempt), delay, cw) from None
            if not pause(e, delay, attempt, cw):
                raise e.after(attempt) from None
            attempt += 1


def _at_terminal() -> bool:
    import sys

    return sys.stderr.isatty()
