"""Files under state_dir: written atomically (temp file, fsync, rename) with mode 0600.

A kill at any moment leaves either the old or the new file, never half of one. A file that is
not valid JSON is never overwritten: it is moved aside with a timestamp and reported.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from cwpublish import log
from cwpublish.errors import StateError


def ensure_dir(path: Path) -> Path:
    """Create the state directory (0700) if needed."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise StateError(f"{path}: cannot create state directory: {e.strerror}") from None
    return path


def read_json(path: Path, default: Any) -> Any:
    """The JSON in `path`, or `default` if absent; a corrupt file is moved aside, not lost."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    except OSError as e:
        raise StateError(f"{path}: cannot read: {e.strerror}") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        os.replace(path, aside)
        log.warning("%s is not valid JSON; moved it to %s and started a new one", path, aside)
        return default


def write_json(path: Path, data: Any) -> None:
    """Atomically replace `path` with `data` as JSON, mode 0600."""
    import tempfile

    ensure_dir(path.parent)
    # Compact, so json's C encoder is used: history can hold 10 x 5,000 client rows.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        reason = "disk full" if e.errno == errno.ENOSPC else e.strerror
        raise StateError(f"{path}: cannot write: {reason}") from None
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
