"""Retrying transient ConnectWise failures: exponential backoff with jitter, within a budget.

Connection errors, time-outs and HTTP 429/502/503/504 (ConnectWiseError.transient) are retried
at most `retries` times and never past `retry_max_seconds`, honouring Retry-After; everything
else fails at once. Re-sending is harmless for every target: records are keyed by client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cwpublish import log
from cwpublish.config import ConnectWise
from cwpublish.errors import ConnectWiseError

T = TypeVar("T")


def with_retries(cw: ConnectWise, call: Callable[[], T]) -> T:
    """Run `call` (which raises ConnectWiseError), retrying what is transient."""
    import random
    import time

    started = time.monotonic()
    attempt = 1
    while True:
        try:
            return call()
        except ConnectWiseError as e:
            if not e.transient or attempt > cw.retries:
                raise e.after(attempt) from None
            delay = e.retry_after
            if delay is None:
                delay = cw.retry_backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            if time.monotonic() - started + delay > cw.retry_max_seconds:
                raise e.after(attempt) from None
            # At a terminal a wait is never silent; in cron it is said only with -v.
            say = log.warning if _at_terminal() else log.info
            say("%s; retrying in %.1fs (attempt %d of %d)", e, delay, attempt + 1, cw.retries + 1)
            time.sleep(delay)
            attempt += 1


def _at_terminal() -> bool:
    import sys

    return sys.stderr.isatty()
