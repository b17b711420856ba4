"""Load the YAML configuration once, validate all of it, and return frozen dataclasses.

Every problem in the file is collected and reported together, each with its path
(`partners[0].schedule.day: must be 1-31, got 32`), so one run of `check-config` shows them all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from cwpublish.errors import ConfigError

DEFAULT_API_PATH = "/v4_6_release/apis/2.0/ManagedDeviceApi.asmx"
SMTP_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_PLAIN_KEY_RE = re.compile(r"^[\w.-]+$")
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True)
class ConnectWise:
    """Where and as whom a partner's ConnectWise site is reached."""

    site: str
    company_id: str
    integrator_username: str
    management_it_name: str
    backup_stats_name: str
    api_path: str = DEFAULT_API_PATH
    allow_insecure_http: bool = False
    timeout: float = 30.0
    wsdl: str = "bundled"  # bundled | live
    batch_size: int = 200
    ca_bundle: str | None = None
    retries: int = 3  # transient failures retried this many times...
    retry_backoff: float = 2.0  # ...after 2, 4, 8 s (with jitter)...
    retry_max_seconds: float = 120.0  # ...but never past this much time in all
    parallel_requests: int = 2  # UpdateManagedDevices calls in flight at once

    @property
    def endpoint(self) -> str:
        return self.site.rstrip("/") + self.api_path


@dataclass(frozen=True)
class Schedule:
    """Automatic publishing: the Auto Publishing Day and how the nightly run treats it."""

    day: int
    timezone: str | None = None  # None: the machine's zone
    catch_up_days: int = 0
    ping_url: str | None = None
    period: str = "current"  # current | previous


@dataclass(frozen=True)
class UsageSource:
    """Where a month's usage rows come from; `location` may hold {year} and {month}."""

    kind: str  # csv | json | command
    location: str
    base_dir: Path


@dataclass(frozen=True)
class Client:
    """An rCloud client mapped to a ConnectWise Managed ID."""

    name: str
    managed_id: str
    publish: bool = True


@dataclass(frozen=True)
class Partner:
    """One MSP: its ConnectWise site, schedule, managers, usage source and clients."""

    name: str
    connectwise: ConnectWise
    usage: UsageSource
    clients: tuple[Client, ...]
    managers: tuple[str, ...] = ()
    schedule: Schedule | None = None


@dataclass(frozen=True)
class Smtp:
    """The mail server used to notify managers."""

    host: str
    sender: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    username: str | None = None
    timeout: float = 30.0
    ca_bundle: str | None = None


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    path: Path
    state_dir: Path
    partners: tuple[Partner, ...]
    smtp: Smtp | None = None
    templates_dir: Path | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def partner(self, name: str) -> Partner:
        for p in self.partners:
            if p.name == name:
                return p
        raise KeyError(name)


def find_config_path(explicit: str | None) -> Path:
    """-c/--config, else $CWPUBLISH_CONFIG, else ./cwpublish.yaml, else ~/.config/cwpublish/."""
    if explicit:
        return Path(explicit)
    if os.environ.get("CWPUBLISH_CONFIG"):
        return Path(os.environ["CWPUBLISH_CONFIG"])
    local = Path("cwpublish.yaml")
    if local.exists():
        return local
    return Path.home() / ".config" / "cwpublish" / "config.yaml"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cwpublish"


def load_config(path: Path) -> Config:
    """Read and validate the file at `path`; raise ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path),
            ["file not found (give -c FILE, set CWPUBLISH_CONFIG, or run `cwpublish init`)"],
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), [f"cannot read: {e}"]) from None
    cache = _ParseCache(path, text)
    data = cache.load()
    trusted = data is not None
    if data is None:
        data = _parse_yaml(path, text)
    config = _Validator(path, trusted_clients=trusted).config(data)
    if not trusted:
        cache.store(data)
    return config


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}YAML syntax error: {e.problem or e}"]) from None
    except yaml.reader.ReaderError as e:
        raise ConfigError(
            str(path), [f"character {e.position + 1}: not allowed in YAML ({e.reason})"]
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), [f"YAML error: {str(e).splitlines()[0]}"]) from None


class _ParseCache:
    """The parsed data of YAML text that validated before, kept as JSON in the user's cache.

    Building Python objects from YAML costs ~90 ms for 5,000 clients even with libyaml, which
    would dominate the nightly no-op run; JSON of the same data loads in ~1 ms. An entry is
    written only after the text validated, and is used only for exactly the same text
    (SHA-256), so the cache can save time but never change a decision. Everything that depends
    on more than the text (files, time zones, environment) is still validated every time.
    """

    def __init__(self, path: Path, text: str):
        from urllib.parse import quote

        self.digest = _sha256(text.encode("utf-8"))
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cwpublish"
        self.path = folder / f"config-{quote(str(path.resolve()), safe='')[-150:]}.json"

    def load(self) -> Any:
        import json

        try:
            cached = json.loads(self.path.read_text(encoding="utf-8"))
            return cached["data"] if cached.get("sha256") == self.digest else None
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            return None

    def store(self, data: Any) -> None:
        import contextlib

        from cwpublish.errors import StateError
        from cwpublish.state import write_json

        # An unwritable cache, or data that JSON cannot hold (YAML dates), just means no cache.
        with contextlib.suppress(StateError, TypeError, ValueError):
            write_json(self.path, {"sha256": self.digest, "data": data})


def _sha256(data: bytes) -> str:
    """SHA-256 without importing hashlib (which loads OpenSSL: ~3 ms on every nightly run)."""
    try:
        from _sha2 import sha256  # Python 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()


# --- YAML loading: safe, C-accelerated when libyaml is present, duplicate keys refused -------

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """SafeLoader that refuses duplicate keys (an ambiguous file is an error, not a guess)."""


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# --- validation ------------------------------------------------------------------------------

_MISSING = object()


class _Validator:
    """Walks the parsed YAML, collecting problems with their paths."""

    def __init__(self, path: Path, trusted_clients: bool = False):
        self.path = path
        self.trusted_clients = trusted_clients  # this exact text's clients validated before
        self.base_dir = path.resolve().parent
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def mapping(self, value: Any, where: str, allowed: set[str], required: tuple = ()) -> dict:
        if not isinstance(value, dict):
            self.fail(where or "(top level)", f"must be a mapping, got {_kind(value)}")
            return {}
        for key in value:
            if key not in allowed:
                import difflib

                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                extra = f" (did you mean '{hint[0]}'?)" if hint else ""
                shown = str(key) if _PLAIN_KEY_RE.match(str(key)) else repr(key)
                self.fail(_join(where, shown), f"unknown key{extra}")
        for key in required:
            if value.get(key) is None:
                self.fail(_join(where, key), "is required")
        return value

    def string(self, m: dict, key: str, where: str, default: Any = _MISSING) -> Any:
        value = m.get(key)
        if value is None:
            return None if default is _MISSING else default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(_join(where, key), f"must be a string, got {_kind(value)}")
            return None if default is _MISSING else default
        text = str(value).strip()
        if not text:
            self.fail(_join(where, key), "must not be empty")
        return text

    def integer(
        self, m: dict, key: str, where: str, default: int | None, lo: int, hi: int
    ) -> int | None:
        value = m.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail(_join(where, key), f"must be {lo}-{hi}, got {value!r}")
            return default
        return value

    def number(self, m: dict, key: str, where: str, default: float) -> float:
        value = m.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
            self.fail(_join(where, key), f"must be a number of seconds (0-3600], got {value!r}")
            return default
        return float(value)

    def boolean(self, m: dict, key: str, where: str, default: bool) -> bool:
        value = m.get(key, default)
        if not isinstance(value, bool):
            self.fail(_join(where, key), f"must be true or false, got {value!r}")
            return default
        return value

    def file(self, m: dict, key: str, where: str) -> str | None:
        """An existing file, relative to the config's folder; its absolute path."""
        value = self.string(m, key, where)
        if not value:
            return None
        path = self.base_dir / os.path.expanduser(value)
        if not path.is_file():
            self.fail(_join(where, key), f"file not found: {path}")
        return str(path)

    def choice(self, m: dict, key: str, where: str, choices: tuple[str, ...], default: str) -> str:
        value = m.get(key, default)
        if value not in choices:
            self.fail(_join(where, key), f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    # -- sections --

    def config(self, data: Any) -> Config:
        if data is None:
            data = {}
        top = self.mapping(
            data, "", {"state_dir", "smtp", "partners", "templates_dir"}, ("partners",)
        )
        state_dir = self.string(top, "state_dir", "")
        state_path = default_state_dir()
        if state_dir:
            state_path = Path(os.path.expanduser(state_dir))
            if not state_path.is_absolute():
                state_path = self.base_dir / state_path
        smtp = self.smtp(top["smtp"]) if top.get("smtp") is not None else None
        partners: list[Partner] = []
        raw_partners = top.get("partners")
        if raw_partners is not None and not isinstance(raw_partners, list):
            self.fail("partners", f"must be a list, got {_kind(raw_partners)}")
        elif isinstance(raw_partners, list):
            if not raw_partners:
                self.fail("partners", "must list at least one partner")
            names: set[str] = set()
            for i, raw in enumerate(raw_partners):
                partner = self.partner(raw, f"partners[{i}]")
                if partner and partner.name in names:
                    self.fail(f"partners[{i}].name", f"duplicate partner name {partner.name!r}")
                if partner:
                    names.add(partner.name)
                    partners.append(partner)
        if self.problems:
            raise ConfigError(str(self.path), self.problems)
        templates = self.string(top, "templates_dir", "")
        templates_dir = self.base_dir / os.path.expanduser(templates) if templates else None
        if templates_dir and not templates_dir.is_dir():
            self.fail("templates_dir", f"folder not found: {templates_dir}")
        if self.problems:
            raise ConfigError(str(self.path), self.problems)
        return Config(
            self.path, state_path, tuple(partners), smtp, templates_dir, tuple(self.warnings)
        )

    def smtp(self, raw: Any) -> Smtp | None:
        where = "smtp"
        m = self.mapping(
            raw,
            where,
            {"host", "port", "security", "username", "sender", "timeout", "ca_bundle"},
            ("host", "sender"),
        )
        security = self.choice(m, "security", where, ("starttls", "ssl", "none"), "starttls")
        port = self.integer(m, "port", where, SMTP_DEFAULT_PORTS[security], 1, 65535)
        sender = self.string(m, "sender", where)
        if sender and "@" not in sender:
            self.fail(_join(where, "sender"), f"must be an email address, got {sender!r}")
        host = self.string(m, "host", where)
        if not host or not sender:
            return None
        return Smtp(
            host=host,
            sender=sender,
            port=port or 587,
            security=security,
            username=self.string(m, "username", where),
            timeout=self.number(m, "timeout", where, 30.0),
            ca_bundle=self.file(m, "ca_bundle", where),
        )

    def partner(self, raw: Any, where: str) -> Partner | None:
        m = self.mapping(
            raw,
            where,
            {"name", "connectwise", "schedule", "managers", "usage", "clients"},
            ("name", "connectwise", "usage", "clients"),
        )
        name = self.string(m, "name", where)
        if name and not _NAME_RE.match(name):
            self.fail(_join(where, "name"), f"use letters, digits, '-' and '_' only, got {name!r}")
        cw = (
            self.connectwise(m["connectwise"], _join(where, "connectwise"))
            if m.get("connectwise") is not None
            else None
        )
        schedule = (
            self.schedule(m["schedule"], _join(where, "schedule"))
            if m.get("schedule") is not None
            else None
        )
        usage = (
            self.usage(m["usage"], _join(where, "usage")) if m.get("usage") is not None else None
        )
        managers = self.managers(m.get("managers"), _join(where, "managers"))
        clients = self.clients(m.get("clients"), _join(where, "clients"))
        if not (name and cw and usage) or clients is None:
            return None
        return Partner(name, cw, usage, clients, managers, schedule)

    def connectwise(self, raw: Any, where: str) -> ConnectWise | None:
        required = (
            "site",
            "company_id",
            "integrator_username",
            "management_it_name",
            "backup_stats_name",
        )
        m = self.mapping(
            raw,
            where,
            {
                *required,
                "api_path",
                "allow_insecure_http",
                "timeout",
                "wsdl",
                "batch_size",
                "ca_bundle",
                "retries",
                "retry_backoff",
                "retry_max_seconds",
                "parallel_requests",
            },
            required,
        )
        values = {k: self.string(m, k, where) for k in required}
        insecure = self.boolean(m, "allow_insecure_http", where, False)
        api_path = self.string(m, "api_path", where, DEFAULT_API_PATH)
        if api_path and not api_path.startswith("/"):
            self.fail(_join(where, "api_path"), f"must start with '/', got {api_path!r}")
        if values["site"]:
            values["site"] = self.site(values["site"], _join(where, "site"), insecure)
        ca_bundle = self.file(m, "ca_bundle", where)
        timeout = self.number(m, "timeout", where, 30.0)
        wsdl = self.choice(m, "wsdl", where, ("bundled", "live"), "bundled")
        batch_size = self.integer(m, "batch_size", where, 200, 1, 10000)
        retries = self.integer(m, "retries", where, 3, 0, 10)
        backoff = self.number(m, "retry_backoff", where, 2.0)
        retry_max = self.number(m, "retry_max_seconds", where, 120.0)
        parallel = self.integer(m, "parallel_requests", where, 2, 1, 8)
        if not all(values.values()):
            return None
        return ConnectWise(
            **values,
            api_path=api_path or DEFAULT_API_PATH,
            allow_insecure_http=insecure,
            timeout=timeout,
            wsdl=wsdl,
            batch_size=batch_size or 200,
            ca_bundle=ca_bundle,
            retries=3 if retries is None else retries,
            retry_backoff=backoff,
            retry_max_seconds=retry_max,
            parallel_requests=parallel or 2,
        )

    def site(self, site: str, where: str, insecure: bool) -> str:
        parts = urlsplit(site)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            self.fail(where, f"must be a URL such as https://cw.example.com, got {site!r}")
        elif parts.scheme == "http":
            if not insecure:
                self.fail(
                    where,
                    "http:// would send the integrator password in clear; use "
                    "https:// (allow_insecure_http: true is only for a simulator "
                    "on loopback)",
                )
            elif not _is_loopback(parts.hostname):
                self.fail(
                    where,
                    "allow_insecure_http is only allowed for a loopback host "
                    f"(localhost, 127.0.0.1, ::1), got {parts.hostname!r}",
                )
        return site.rstrip("/")

    def schedule(self, raw: Any, where: str) -> Schedule | None:
        m = self.mapping(
            raw, where, {"day", "timezone", "catch_up_days", "ping_url", "period"}, ("day",)
        )
        day = self.integer(m, "day", where, None, 1, 31)
        tz = self.string(m, "timezone", where)
        if tz and not _valid_timezone(tz):
            self.fail(
                _join(where, "timezone"),
                f"unknown time zone {tz!r} (use an IANA name such as America/New_York)",
            )
        catch_up = self.integer(m, "catch_up_days", where, 0, 0, 27)
        ping_url = self.string(m, "ping_url", where)
        if ping_url and urlsplit(ping_url).scheme not in ("http", "https"):
            self.fail(_join(where, "ping_url"), f"must be an http(s) URL, got {ping_url!r}")
        period = self.choice(m, "period", where, ("current", "previous"), "current")
        if day and day > 28:
            self.warnings.append(
                f"{where}.day: {day} does not exist in every month; "
                "months without that day are not published automatically"
            )
        if day is None:
            return None
        return Schedule(day, tz, catch_up or 0, ping_url, period)

    def usage(self, raw: Any, where: str) -> UsageSource | None:
        m = self.mapping(raw, where, {"csv", "json", "command"})
        kinds = [k for k in ("csv", "json", "command") if m.get(k) is not None]
        if len(kinds) != 1:
            self.fail(where, "give exactly one of csv, json or command")
            return None
        kind = kinds[0]
        location = self.string(m, kind, where)
        if not location:
            return None
        try:
            location.format(year=2026, month=1)
        except (KeyError, IndexError, ValueError) as e:
            self.fail(
                _join(where, kind),
                f"bad placeholder ({e}); use {{year}} and {{month}} or {{month:02d}}",
            )
            return None
        return UsageSource(kind, location, self.base_dir)

    def client(self, item: Any, at: str) -> Client | None:
        """A client entry with every problem reported (the slow path of clients())."""
        m = self.mapping(item, at, _CLIENT_KEYS, ("name", "managed_id"))
        name = self.string(m, "name", at)
        managed_id = self.string(m, "managed_id", at)
        publish = self.boolean(m, "publish", at, True)
        return Client(name, managed_id, publish) if name and managed_id else None

    def managers(self, raw: Any, where: str) -> tuple[str, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.fail(where, f"must be a list of email addresses, got {_kind(raw)}")
            return ()
        for i, item in enumerate(raw):
            if not isinstance(item, str) or not _EMAIL_RE.match(item.strip()):
                self.fail(f"{where}[{i}]", f"must be an email address, got {item!r}")
        return tuple(str(x).strip() for x in raw)

    def clients(self, raw: Any, where: str) -> tuple[Client, ...] | None:
        if raw is None:
            return None
        if not isinstance(raw, list) or not raw:
            self.fail(where, "must be a non-empty list of {name, managed_id}")
            return None
        if self.trusted_clients:  # only names, IDs and flags: nothing outside the text
            return tuple(
                Client(c["name"].strip(), c["managed_id"].strip(), c.get("publish", True))
                for c in raw
            )
        clients: list[Client] = []
        names: dict[str, int] = {}
        ids: dict[str, int] = {}
        for i, item in enumerate(raw):
            # Fast path for the common well-formed entry: this loop runs for every client on
            # every run, the nightly no-op included.
            if type(item) is dict and item.keys() <= _CLIENT_KEYS:
                name, managed_id = item.get("name"), item.get("managed_id")
                publish = item.get("publish", True)
                if type(name) is str and type(managed_id) is str and type(publish) is bool:
                    name, managed_id = name.strip(), managed_id.strip()
                    folded_name, folded_id = name.casefold(), managed_id.casefold()
                    if name and managed_id and folded_name not in names and folded_id not in ids:
                        names[folded_name] = ids[folded_id] = i
                        clients.append(Client(name, managed_id, publish))
                        continue
            client = self.client(item, f"{where}[{i}]")
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


_CLIENT_KEYS = {"name", "managed_id", "publish"}


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
