"""Files under state_dir: read with a shape check, written atomically (temp file, fsync, rename).

Reading: a file is never opened through a symbolic link (O_NOFOLLOW; a link is refused with an
error naming it, so a planted link cannot make cwpublish read or clobber another file). A file
that is not UTF-8, not JSON, or not of the shape its reader expects (each state file has a small
shape check, run here at the boundary so the code using the data can trust it) is never
overwritten and never crashes a run: it is moved aside as `<name>.corrupt-<timestamp>`, reported
once on stderr (what file, what was wrong, where it went), and started anew or rebuilt. A file
that cannot be read at all (EACCES, a directory in its place) is a StateError, not a guess.

Writing: a kill at any moment leaves either the old or the new file, never half of one. Files
are 0600 whatever the umask; directories are created 0700, and a state directory of ours that
is looser is tightened to 0700. A directory owned by another user, or one that cannot be
written, is a StateDirError (exit 2: nothing was sent because of it).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from cwpublish import log
from cwpublish.errors import EXIT_USAGE, StateError

# A shape check returns what is wrong with parsed JSON, or None when it has the expected shape.
ShapeCheck = Callable[[Any], "str | None"]


class StateDirError(StateError):
    """The state directory cannot be used: not writable, another user's, or a symlinked file
    in it. Found before anything is sent (the lock is taken first), hence a usage error."""

    exit_code = EXIT_USAGE


_ROOTS: set[str] = set()  # the state_dirs of loaded configurations (they may be symlinks)


def register_root(state_dir: Path) -> None:
    """Remember a configured state_dir: below it, no folder may be a symlink."""
    _ROOTS.add(os.path.abspath(state_dir))


def _refuse_linked_folders(folder: Path) -> None:
    """StateDirError if a folder between a registered state_dir and `folder` is a symlink
    (history/, ledger/<key>/, runs/ pointed elsewhere would have us write and chmod there)."""
    p = os.path.abspath(folder)
    inside: list[str] = []
    while p not in _ROOTS:
        parent = os.path.dirname(p)
        if parent == p:
            return  # not under a registered state_dir (a cache, a test's folder)
        inside.append(p)
        p = parent
    for q in inside:
        if os.path.islink(q):
            raise StateDirError(f"{q} is a symbolic link; refused (state folders are real ones)")


def ensure_dir(path: Path) -> Path:
    """Create `path` (and missing parents) 0700, or make an existing one of ours 0700.

    Refuses (StateDirError) a directory that belongs to another user or cannot be created, and
    a symlinked folder below a configured state_dir.
    """
    _refuse_linked_folders(path)
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
            os.chmod(folder, 0o700)  # exactly 0700, whatever the umask
        except FileExistsError:
            pass
        except OSError as e:
            raise StateDirError(f"state_dir {folder} is not writable ({e.strerror})") from None
    _make_private(path)
    return path


def _make_private(path: Path) -> None:
    """Our directory, 0700: tighten a looser one (warning once), refuse another user's."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise StateDirError(f"state_dir {path} is not usable ({e.strerror})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise StateDirError(f"state_dir {path} is not writable (not a directory)")
    if st.st_uid != os.geteuid():
        raise StateDirError(
            f"state_dir {path} belongs to another user (uid {st.st_uid}); cwpublish keeps its "
            "state only in a directory of the user it runs as: fix state_dir or the owner"
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode != 0o700:
        try:
            os.chmod(path, 0o700)
        except OSError as e:
            raise StateDirError(f"state_dir {path} cannot be made private ({e.strerror})") from None
        if mode & 0o077:
            log.warning("%s was mode %s (open to others); tightened it to 0700", path, oct(mode))


def read_json(
    path: Path,
    default: Any,
    check: ShapeCheck | None = None,
    rebuild: Callable[[], Any] | None = None,
) -> Any:
    """The JSON in `path` (of the shape `check` accepts), or `default` if there is none.

    A damaged file (not UTF-8, not JSON, or `check` finds a problem) is moved aside and
    reported; the result is then `rebuild()` (also written to `path`) or `default`.
    """
    raw = read_bytes(path)
    if raw is None:
        return default
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        what, detail = "not valid UTF-8", f"byte 0x{raw[e.start]:02x} at offset {e.start}"
    except ValueError as e:
        what, detail = "not valid JSON", str(e)
    else:
        detail = check(data) if check else None
        if detail is None:
            return data
        what = "not of the expected shape"
    aside = move_aside(path)
    then = "rebuilt it" if rebuild else "started a new one"
    log.warning("%s is %s; moved it to %s and %s (%s)", path, what, aside, then, detail)
    if rebuild is None:
        return default
    data = rebuild()
    write_json(path, data)
    return data


def _open_regular(path: Path, flags: int, verb: str) -> int | None:
    """A descriptor of the regular file `path`, opened with `flags`, never through a symlink
    (StateDirError) and never of a FIFO or device (StateError); None if it is absent."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise refuse_link(path) from None
        raise StateError(f"{path}: cannot {verb}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StateError(f"{path}: cannot {verb}: not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: Path) -> bytes | None:
    """The bytes of the regular file `path` (never through a symlink); None if it is absent."""
    fd = _open_regular(path, os.O_RDONLY, "read")
    if fd is None:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise StateError(f"{path}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)


def refuse_link(path: Path) -> StateDirError:
    """The error for a symbolic link where a state file should be (it is never followed)."""
    return StateDirError(
        f"{path} is a symbolic link; cwpublish never reads or writes state through a link "
        "(remove it)"
    )


def move_aside(path: Path) -> Path:
    """Rename a damaged file to `<name>.corrupt-<timestamp>[-n]`, never over another file."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    for n in range(1000):
        aside = path.with_name(f"{path.name}.corrupt-{stamp}{f'-{n}' if n else ''}")
        try:
            os.link(path, aside, follow_symlinks=False)  # fails if `aside` exists
        except FileExistsError:
            continue
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                raise StateError(f"{path}: cannot move it aside: {e.strerror}") from None
            if os.path.lexists(aside):  # a file system without hard links
                continue
            os.replace(path, aside)
            return aside
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return aside
    raise StateError(f"{path}: cannot move it aside: too many damaged copies")


def write_json(path: Path, data: Any) -> None:
    """Atomically replace `path` with `data` as JSON, mode 0600 (never through a symlink)."""
    # Compact, so json's C encoder is used: history can hold 10 x 5,000 client rows.
    write_bytes(path, _json_pieces(data))


def _json_pieces(data: Any) -> Iterator[str]:
    """`data` as compact JSON (the very text of one dumps), in pieces: a long list is dumped a
    batch of items at a time, so a 10,000-row entry's text is never whole in memory at once."""
    if isinstance(data, dict) and all(isinstance(k, str) for k in data):
        yield "{"
        for i, (key, value) in enumerate(data.items()):
            yield ("," if i else "") + _dumps(key) + ":"
            yield from _json_pieces(value)
        yield "}"
    elif isinstance(data, list) and len(data) > _BATCH:
        yield "["
        for at in range(0, len(data), _BATCH):
            yield ("," if at else "") + _dumps(data[at:at + _BATCH])[1:-1]
        yield "]"
    else:
        yield _dumps(data)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


_BATCH = 500  # list items dumped at a time


def write_bytes(path: Path, payload: bytes | Iterable[str]) -> None:
    """Atomically replace `path` with `payload` (temporary file, fsync, rename), mode 0600,
    never through a symlink: a kill at any moment leaves the old or the new file whole. Text
    pieces are written as UTF-8 one at a time: a 10,000-row entry is never held whole twice."""
    import tempfile

    ensure_dir(path.parent)
    if os.path.islink(path):
        raise refuse_link(path)
    tmp = None
    try:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise StateDirError(
                    f"state_dir {path.parent} is not writable ({e.strerror})"
                ) from None
            raise
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            if isinstance(payload, bytes):
                f.write(payload)
            else:
                for piece in payload:
                    f.write(piece.encode("utf-8"))
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


def append_line(path: Path, line: bytes) -> int:
    """Append `line` (ending in a line break) to the existing file `path`, fsync'd; the size after.

    The cost does not depend on the file's size. A last line left torn by a crash (no line break
    at the end) is cut off first, so it never joins the new line; a write that fails (a full
    disk) is cut back, so it leaves no half line either. Never through a symlink.
    """
    fd = _open_regular(path, os.O_RDWR | os.O_APPEND, "write")
    if fd is None:
        raise StateError(f"{path}: cannot write: {os.strerror(errno.ENOENT)}")
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            size = _after_last_line_break(fd, size)
            os.ftruncate(fd, size)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
        return size + len(line)
    except OSError as e:
        reason = "disk full" if e.errno == errno.ENOSPC else e.strerror
        raise StateError(f"{path}: cannot write: {reason}") from None
    finally:
        os.close(fd)


def _after_last_line_break(fd: int, size: int) -> int:
    """The offset just after the last b"\\n" in the open file (0 if there is none)."""
    end = size
    while end > 0:
        start = max(0, end - (1 << 16))
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def read_head(path: Path, limit: int = 4096) -> bytes | None:
    """The first line of `path` (at most `limit` bytes; never through a symlink), without reading
    the rest; None if the file is absent."""
    fd = _open_regular(path, os.O_RDONLY, "read")
    if fd is None:
        return None
    try:
        return os.pread(fd, limit, 0).split(b"\n", 1)[0]
    except OSError as e:
        raise StateError(f"{path}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)
