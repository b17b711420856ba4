"""One publish at a time per state_dir: an flock on `publish.lock`.

The kernel drops an flock when its process dies (kill -9, reboot), so a lock left by a dead
process is taken over without any clean-up step. The file names the holder for the message.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from cwpublish.errors import LockHeld
from cwpublish.state_files import ensure_dir


class PublishLock:
    """Context manager; raises LockHeld naming the holder if another process has the lock."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "publish.lock"
        self._fd: int | None = None

    def __enter__(self) -> PublishLock:
        ensure_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise LockHeld(
                f"another publish is running ({holder}); lock file {self.path}"
            ) from None
        info = {
            "pid": os.getpid(),
            "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join(["cwpublish", *sys.argv[1:]])[:200],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _holder(fd: int) -> str:
    """Who holds the lock; the holder writes this just after locking, so allow it a moment."""
    for _ in range(20):
        raw = os.pread(fd, 4096, 0)
        if raw:
            return _describe(raw)
        time.sleep(0.05)
    return "holder unknown"


def _describe(raw: bytes) -> str:
    try:
        info = json.loads(raw)
        return f"PID {info['pid']}, started {info['started_at']}, `{info['command']}`"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
