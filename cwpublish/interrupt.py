"""Ctrl-C and SIGTERM during a publish: stop starting requests, finish what is in flight, and
record the truth (what ConnectWise accepted, what was not sent) before exiting 130/143.

A second signal stops at once; the run's journal (journal.py) then lets the next run close
its entry as interrupted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from cwpublish import log
from cwpublish.errors import EXIT_SIGINT, EXIT_SIGTERM

EXIT_CODES = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}

_stop = threading.Event()
_signum: int | None = None


def requested() -> bool:
    """Whether a signal asked the run to stop."""
    return _stop.is_set()


def sleep(seconds: float) -> bool:
    """Wait `seconds`, ending at once when a signal asks to stop; False if it did (a retry's
    back-off or a site's Retry-After must not keep an interrupted run waiting)."""
    return not _stop.wait(max(0.0, seconds))


def exit_code() -> int | None:
    """130 after SIGINT, 143 after SIGTERM, None when not interrupted."""
    return EXIT_CODES.get(_signum) if _signum is not None else None


def reason() -> str:
    name = signal.Signals(_signum).name if _signum is not None else "a signal"
    return f"interrupted by {name}"


def _handle(signum: int, frame: object) -> None:
    global _signum
    if _stop.is_set():  # the second signal: stop now, the journal tells the next run
        import os
        import sys

        log.notice("cwpublish: stopped at once; the next run records this publish", "warning")
        os._exit(EXIT_CODES.get(signum, EXIT_SIGTERM))  # no clean-up: the kernel frees the lock
    _signum = signum
    _stop.set()
    import sys

    bar_line = "\n" if sys.stderr.isatty() else ""  # on its own line, after a progress bar
    log.notice(
        f"cwpublish: {signal.Signals(signum).name}: stopping after the requests in "
        "flight (again to stop at once)",
        "warning",
        bar_line,
    )


@contextlib.contextmanager
def catching() -> Iterator[None]:
    """While sending: SIGINT/SIGTERM ask to stop instead of killing the process."""
    global _signum
    _stop.clear()
    _signum = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handle) for s in EXIT_CODES}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
