"""One publish at a time per state_dir: an flock on `publish.lock`.

The kernel drops an flock when its process dies (kill -9, reboot), so a lock left by a dead
process is taken over without any clean-up step. The file names the holder for the message.

The lock is taken before anything is sent, so it also proves the state_dir usable first: the
directory is made private (state_files.ensure_dir), and the lock file is opened with O_NOFOLLOW
and must be a regular file of its own (a symlink or hard link planted there would otherwise be
truncated, clobbering its target). Any problem is a StateDirError (exit 2, nothing sent).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import sys
import time
from datetime import datetime
from pathlib import Path

from cwpublish.errors import LockHeld
from cwpublish.state.files import StateDirError, ensure_dir, refuse_link


class PublishLock:
    """Context manager; raises LockHeld naming the holder if another process has the lock."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "publish.lock"
        self._fd: int | None = None

    def __enter__(self) -> PublishLock:
        ensure_dir(self.path.parent)
        fd = _open(self.path)
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


def _open(path: Path) -> int:
    """The lock file's descriptor: created 0600, never through a link, always 0600."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise refuse_link(path) from None
        raise StateDirError(f"state_dir {path.parent} is not writable ({e.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_uid != os.geteuid():
        os.close(fd)
        raise StateDirError(
            f"{path} is not a plain file of this user (a link or another user's file?); "
            "remove it"
        )
    if stat.S_IMODE(st.st_mode) != 0o600:
        os.fchmod(fd, 0o600)
    return fd


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
