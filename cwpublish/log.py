"""cwpublish's messages on stderr (`cwpublish: warning: ...`), by verbosity.

`logging` is imported only when something is actually said: the nightly no-op says nothing, and
`import logging` alone is ~3 ms of its ~90 ms. Usage: `from cwpublish import log`, then
`log.warning(...)`, `log.info(...)` (with -v) or `log.debug(...)` (with -vv).
With `--log-format json` (or CWPUBLISH_LOG_FORMAT=json) each line is one JSON object
{time, level, logger, message} for journald/Loki (`json_line`, also for the error lines).
"""

from __future__ import annotations

import sys
from datetime import UTC
from typing import Any

from cwpublish.text.redaction import redact
from cwpublish.text.sanitize import shown_lines

_verbosity = 0
_logger: Any = None
_format = "text"


def configure(verbosity: int, log_format: str = "text") -> None:
    """0: warnings and errors; 1 (-v): also info; 2 (-vv): also debug. `log_format`: text|json."""
    global _verbosity, _format
    _verbosity = verbosity
    _format = log_format
    if _logger is not None:
        _logger.setLevel(_level())


def debug(msg: str, *args: Any) -> None:
    if _verbosity >= 2:
        _get().debug(msg, *args)


def info(msg: str, *args: Any) -> None:
    if _verbosity >= 1:
        _get().info(msg, *args)


def warning(msg: str, *args: Any) -> None:
    _get().warning(msg, *args)


def error(msg: str, *args: Any) -> None:
    _get().error(msg, *args)


def is_json() -> bool:
    """True when stderr's lines are JSON objects (--log-format json)."""
    return _format == "json"


def json_line(level: str, message: str, **extra: Any) -> str:
    """One log line as a JSON object (ASCII only: no control character reaches a terminal)."""
    import json
    from datetime import datetime

    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = {"time": stamp, "level": level, "logger": "cwpublish", "message": redact(message)}
    return json.dumps({**record, **extra})


def notice(text: str, level: str = "info", before: str = "") -> None:
    """A line said on stderr outside the log (a dry run's or an interrupt's notice): as it is,
    or one JSON object under --log-format json (`before`: text-only, e.g. a line break after a
    progress bar)."""
    if is_json():
        sys.stderr.write(json_line(level, text.removeprefix("cwpublish: ")) + "\n")
    else:
        sys.stderr.write(f"{before}{text}\n")
    sys.stderr.flush()


def _level() -> int:
    return {0: 30, 1: 20}.get(_verbosity, 10)  # WARNING, INFO, DEBUG


def _get() -> Any:
    global _logger
    if _logger is None:
        import logging

        class Stderr(logging.Handler):
            """Writes to the current sys.stderr (click's test runner swaps it)."""

            def emit(self, record: logging.LogRecord) -> None:
                if is_json():
                    level = record.levelname.lower()
                    sys.stderr.write(json_line(level, record.getMessage()) + "\n")
                    return
                prefix = {"WARNING": "warning: ", "ERROR": "error: "}.get(record.levelname, "")

                text = shown_lines(redact(record.getMessage()))  # no ESC reaches the terminal
                sys.stderr.write(f"cwpublish: {prefix}{text}\n")

        _logger = logging.getLogger("cwpublish")
        _logger.handlers[:] = [Stderr()]
        _logger.propagate = False
        _logger.setLevel(_level())
    return _logger
