"""A partner's clients, and the parse cache that keeps them as raw JSON until they are read.

Every run reads the configuration, the nightly no-op included, and a configuration may hold
200 partners of 500 clients. Text that validated before comes from the parse cache
(ParseCache) with each partner's clients still a line of JSON in the cache file
(ClientsLine): they become a Deferred that builds them when `Partner.clients` is first read --
by type alone when they have the validated shape (as a fresh load of that text would accept
them), else validated in full, each problem with its path. So the no-op builds no client of a
partner that is not due, and a due partner's are built (and checked) before anything is sent.
Other text is validated here in full (ClientReader), with a fast path for the common entry.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from cwpublish.config import Client, Deferred, GcPaused, default
from cwpublish.config_fields import CONTROL_RE, FieldReader, join
from cwpublish.errors import ConfigError

CLIENT_KEYS = {"name", "managed_id", "publish", "company", "agreement"}
NOT_FOUND = "file not found (give -c FILE, set CWPUBLISH_CONFIG, or run `cwpublish init`)"


class ClientReader(FieldReader):
    """The `clients` of a partner, for the Validator (config_validation.py)."""

    trusted = False  # this exact text validated in full before (the parse cache)

    def client(self, item: Any, at: str, api: str = "soap") -> Client | None:
        """A client entry with every problem reported (the slow path of clients())."""
        rest = api == "rest"
        required = ("name", "company") if rest else ("name", "managed_id")
        m = self.mapping(item, at, CLIENT_KEYS, required)
        name = self.string(m, "name", at)
        company = self.string(m, "company", at)
        agreement = self.string(m, "agreement", at)
        managed_id = self.string(m, "managed_id", at) or (company if rest else None)
        publish = self.boolean(m, "publish", at, default(Client, "publish"))
        if not rest:
            for key in ("company", "agreement"):
                if m.get(key) is not None:
                    self.fail(join(at, key), "only with connectwise.api: rest")
        if not (name and managed_id):
            return None
        return Client(name, managed_id, publish, company, agreement)

    def clients(
        self, raw: Any, where: str, api: str = "soap"
    ) -> tuple[Client, ...] | Deferred | None:
        if raw is None:
            return None
        if self.trusted and isinstance(raw, ClientsLine):
            return deferred_clients(self.path, raw, where, api)
        if not isinstance(raw, list) or not raw:
            self.fail(where, "must be a non-empty list of {name, managed_id}")
            return None
        if self.trusted:  # only names, IDs and flags: nothing outside the text
            trusted = trusted_clients(raw, api)
            if trusted is not None:  # else: validated in full below, as a fresh parse would be
                return trusted
        clients: list[Client] = []
        names: dict[str, int] = {}
        ids: dict[str, int] = {}
        for i, item in enumerate(raw):
            # Fast path for the common well-formed entry.
            quick = plain_client(item, api)
            if quick:
                folded_name, folded_id = quick.name.casefold(), quick.managed_id.casefold()
                if folded_name not in names and folded_id not in ids:
                    names[folded_name] = ids[folded_id] = i
                    clients.append(quick)
                    continue
            client = self.client(item, f"{where}[{i}]", api)
            if client is None:
                continue
            for key, seen, label in (
                (client.name, names, "name"),
                (client.managed_id, ids, "managed_id"),
            ):
                folded = key.casefold()
                if folded in seen:
                    what = "client name" if label == "name" else "Managed ID"
                    self.fail(
                        f"{where}[{i}].{label}",
                        f"duplicate {what} {key!r} (also {where}[{seen[folded]}])",
                    )
                else:
                    seen[folded] = i
            clients.append(client)
        return tuple(clients)


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


def deferred_clients(path: Path, line: ClientsLine, where: str, api: str) -> Deferred:
    """A partner's clients from the parse cache, built when first read (see the module doc).

    ConfigError (every problem with its path) if they do not validate, which only a cache
    entry written otherwise can make happen.
    """

    def build() -> tuple[Client, ...]:
        with GcPaused():
            raw = line.read()
            reader = ClientReader(path)
            reader.trusted = True
            clients = reader.clients(raw, where, api)
        if reader.problems or clients is None:
            raise ConfigError(str(path), reader.problems or [f"{where}: is required"])
        assert isinstance(clients, tuple)
        return clients

    return Deferred(build)


def trusted_clients(raw: list, api: str) -> tuple[Client, ...] | None:
    """The clients of cached data that validated before; None if any entry is not of the
    validated shape (a cache written otherwise), so that it is validated in full instead.

    Only type checks: names, IDs and flags depend on nothing outside the text.
    """
    clients = []
    for c in raw:
        if type(c) is not dict:
            return None
        client = plain_client(c, api)
        if client is None:
            return None
        clients.append(client)
    return tuple(clients)


def plain_client(item: Any, api: str = "soap") -> Client | None:
    """The Client of a well-formed entry (text name and ID, a boolean flag), else None.

    The one shape both fast paths accept; anything else goes through ClientReader.client, which
    reports it. Never converts: a number where text belongs is not plain.
    """
    if type(item) is not dict or not item.keys() <= CLIENT_KEYS:
        return None
    company = agreement = None
    if api == "rest":
        company, agreement = item.get("company"), item.get("agreement")
        if type(company) is not str or (agreement is not None and type(agreement) is not str):
            return None
        company = company.strip()
        agreement = agreement.strip() if agreement is not None else None
        if not company or CONTROL_RE.search(company) or (
            agreement is not None and (not agreement or CONTROL_RE.search(agreement))
        ):
            return None
    elif "company" in item or "agreement" in item:
        return None
    name, managed_id = item.get("name"), item.get("managed_id", company)
    publish = item.get("publish", True)
    if type(name) is not str or type(managed_id) is not str or type(publish) is not bool:
        return None
    name, managed_id = name.strip(), managed_id.strip()
    if not name or not managed_id or CONTROL_RE.search(name) or CONTROL_RE.search(managed_id):
        return None
    return Client(name, managed_id, publish, company, agreement)


class ParseCache:
    """The parsed data of YAML text that validated before, kept as JSON in the user's cache.

    Building Python objects from YAML costs ~90 ms for 5,000 clients even with libyaml; JSON
    of the same data loads in ~1 ms. An entry is written only after the text validated in full
    and is used only for the same bytes, so it saves time but never changes a decision:
    whatever depends on more than the text (files, time zones, environment) is validated every
    time, and what is built later (clients, target settings) is built as from the text. FORMAT
    is in the digest, so entries of older rules or layouts are never used.

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

    FORMAT = "3"  # bump whenever validation rules or the layout change what may be cached
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
            self._digest = _digest(f"cwpublish-config/{self.FORMAT}\n".encode(), self.read())
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
                stamp = header.get("stamp") if header.get("format") == self.FORMAT else None
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
            header = {"format": self.FORMAT, "digest": self.digest, "stamp": self.stamp}
            self._write({**header, "data": head, "clients": spans}, b"".join(lines))

    def _write(self, header: dict, body: bytes) -> None:
        from cwpublish.state_files import write_bytes

        with _suppressed():
            write_bytes(self.path, _dumps(header) + b"\n" + body)


def _suppressed() -> Any:
    """An unwritable cache, or data that JSON cannot hold, just means no cache."""
    from cwpublish.errors import StateError

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
