"""The parse cache: the parsed data of configuration text that validated before, as JSON.

One removable module: without it every run parses and validates the YAML in full (slower, the
same decisions). See ParseCache.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any

from cwpublish.errors import ConfigError, StateError
from cwpublish.state.files import write_bytes
from cwpublish.targets.registry import TARGETS

NOT_FOUND = "file not found (give -c FILE, set CWPUBLISH_CONFIG, or run `cwpublish init`)"


class OpenEntry:
    """A parse cache file as ParseCache.load opened it: its descriptor, closed when the last
    ClientsLine reading from it is gone (once every partner's clients are built)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __del__(self, _close: Any = os.close) -> None:  # bound now: may run at interpreter exit
        try:  # noqa: SIM105 - no module global needed at exit
            _close(self.fd)
        except OSError:
            pass


class ClientsLine:
    """One partner's client list in a parse cache entry, read from the entry as it was opened
    (OpenEntry) when first wanted."""

    def __init__(self, cache: ParseCache, entry: OpenEntry, offset: int, length: int):
        self.cache, self.entry, self.offset, self.length = cache, entry, offset, length

    def read(self) -> list:
        """The client list; a damaged entry is removed and reported (the next run re-parses)."""
        import json

        try:
            raw = os.pread(self.entry.fd, self.length, self.offset)
            clients = json.loads(raw)
            if len(raw) == self.length and isinstance(clients, list):
                return clients
        except (OSError, ValueError):
            pass
        with contextlib.suppress(OSError):
            self.cache.path.unlink()
        raise ConfigError(
            str(self.cache.config_path),
            [f"the parse cache {self.cache.path} was damaged and is removed; run again"],
        )


class ParseCache:
    """The parsed data of YAML text that validated before, kept as JSON in the user's cache.

    Building Python objects from YAML costs ~90 ms for 5,000 clients even with libyaml; JSON
    of the same data loads in ~1 ms. An entry is written only after the text validated in full
    and is used only for the same bytes, so it saves time but never changes a decision:
    whatever depends on more than the text (files, time zones, environment) is validated every
    time, and what is built later (clients, target settings) is built as from the text. The
    format (cache_format: a digest of the source of the config model, its validation, this
    layout and each target's settings) is in the digest, so entries of other rules or layouts
    are never used, with no number to bump by hand.

    Same bytes: the entry holds the BLAKE2b-256 digest of the bytes it was parsed from and,
    when they were read 2 s or more after the file last changed, the file's stamp (device,
    inode, size, modification and change times). While the file has that stamp, the entry is
    used without reading it: the kernel sets the change time on every write and nothing
    (touch, cp -p, tar) sets it back, so the file still holds the digested bytes -- short of
    the clock being set back onto that very instant. Otherwise the file is read and digested.

    Layout (JSON lines): a header {format, digest, stamp, data, clients}, `data` being the
    configuration without the partners' client lists, then one line per partner's client list
    (`clients`: each one's [offset, length] after the header, or null). Only the header is
    read; a partner's line is read when its clients are first used (ClientsLine), from the
    file opened then (a concurrent rewrite cannot mix two entries). So the nightly no-op costs
    the same for 100 clients as for 100,000.
    """

    SETTLED_NS = 2_000_000_000  # a write after this long never shares the change time

    def __init__(self, path: Path, text: str | bytes | None = None):
        from urllib.parse import quote

        self.config_path = path
        self.raw = text.encode("utf-8") if isinstance(text, str) else text
        self.stamp: list[int] | None = None  # of the bytes read, if read once settled
        self._digest: str | None = None
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cwpublish"
        self.path = folder / f"config-{quote(str(path.resolve()), safe='')[-150:]}.json"

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = _digest(f"cwpublish-config/{cache_format()}\n".encode(), self.read())
        return self._digest

    def read(self) -> bytes:
        """The configuration file's bytes (read once), and its stamp if it had settled."""
        if self.raw is None:
            where = str(self.config_path)
            try:
                with open(self.config_path, "rb") as f:
                    before, now = os.fstat(f.fileno()), _kernel_now_ns()
                    self.raw = f.read()
                    stamp = _stamp(before)
                    changed = max(before.st_mtime_ns, before.st_ctime_ns)
                    if stamp == _stamp(os.fstat(f.fileno())) and now - changed >= self.SETTLED_NS:
                        self.stamp = stamp
            except FileNotFoundError:
                raise ConfigError(where, [NOT_FOUND]) from None
            except OSError as e:
                raise ConfigError(where, [f"cannot read: {e}"]) from None
        return self.raw

    def text(self) -> str:
        """The configuration's text as open() in text mode reads it (UTF-8, universal newlines)."""
        try:
            text = self.read().decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(str(self.config_path), [f"cannot read: {e}"]) from None
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text

    def load(self) -> Any:
        """The cached data, each partner's clients a ClientsLine; None if there is no entry for
        these bytes (or it cannot be read)."""
        import json

        try:
            entry = OpenEntry(os.open(self.path, os.O_RDONLY))
        except OSError:
            return None
        try:
            with os.fdopen(entry.fd, "rb", closefd=False) as f:
                header = json.loads(f.readline())
                start = f.tell()
                stamp = header.get("stamp") if header.get("format") == cache_format() else None
                if not stamp or stamp != _stamp(os.stat(self.config_path)):
                    if header.get("digest") != self.digest:
                        return None
                    if self.stamp:  # the same bytes, newly stamped (touched, copied): noted
                        self._write({**header, "stamp": self.stamp}, f.read())
            data = header["data"]
            for partner, span in zip(data["partners"], header["clients"], strict=True):
                if span is not None:
                    partner["clients"] = ClientsLine(self, entry, start + span[0], span[1])
            return data
        except (OSError, ValueError, AttributeError, KeyError, TypeError, IndexError):
            return None

    def store(self, data: Any) -> None:
        """Keep `data` only if JSON gives back exactly the same values of the same types.

        JSON cannot hold everything YAML can (dates, non-string keys, NaN), and a cached value
        that differed from a fresh parse would make the second run decide differently from the
        first; such data is simply not cached.
        """
        import json

        with _suppressed():
            if not _same(json.loads(_dumps(data)), data):
                return
            head, lines, spans, offset = dict(data), [], [], 0
            head["partners"] = []
            for partner in data["partners"]:
                if isinstance(partner, dict) and isinstance(partner.get("clients"), list):
                    line = _dumps(partner["clients"]) + b"\n"
                    partner = {k: v for k, v in partner.items() if k != "clients"}
                    spans.append([offset, len(line) - 1])
                    lines.append(line)
                    offset += len(line)
                else:
                    spans.append(None)
                head["partners"].append(partner)
            header = {"format": cache_format(), "digest": self.digest, "stamp": self.stamp}
            self._write({**header, "data": head, "clients": spans}, b"".join(lines))

    def _write(self, header: dict, body: bytes) -> None:
        with _suppressed():
            write_bytes(self.path, _dumps(header) + b"\n" + body)


def _suppressed() -> Any:
    """An unwritable cache, or data that JSON cannot hold, just means no cache."""
    return contextlib.suppress(StateError, TypeError, ValueError, RecursionError)


def _dumps(value: Any) -> bytes:
    import json

    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _kernel_now_ns() -> int:
    """The kernel's clock, which file times come from (never a test's frozen time.time)."""
    import time

    clock = getattr(time, "clock_gettime_ns", None)
    return clock(time.CLOCK_REALTIME) if clock else time.time_ns()


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1, 1.0 and True are not the same)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(type(k) is str and _same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


@functools.cache
def cache_format() -> str:
    """The parse cache's format, derived: a digest of the source of every module that decides
    what validates or how an entry is laid out -- the config package (model, fields, sections,
    clients, validation, this layout), the schedule model, the target table and each target's
    settings -- so a changed rule or field never reuses an entry written under the old one
    (under 1 ms a run: a few small files)."""
    package = Path(__file__).resolve().parents[1]
    files = [*(package / "config").glob("*.py"), package / "domain" / "schedule.py",
             package / "targets" / "registry.py"]
    files += [package.parent.joinpath(*spec.settings_module.split(".")).with_suffix(".py")
              for spec in TARGETS.values()]
    parts = []
    for path in sorted(files):
        try:
            parts.append(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:  # a source not shipped: its name still counts
            parts.append(path.name.encode())
    return _digest(*parts)[:16]


def _digest(*parts: bytes) -> str:
    """BLAKE2b-256 of the parts: built into CPython, so no OpenSSL to load (hashlib: ~3 ms on
    every nightly run), and ~1 GB/s (the built-in SHA-256 is ~0.4 GB/s: 13 ms for 5 MB)."""
    try:
        from _blake2 import blake2b
    except ImportError:  # a Python built without it
        from hashlib import blake2b
    h = blake2b(digest_size=32)
    for part in parts:
        h.update(part)
    return h.hexdigest()
