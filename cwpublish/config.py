"""The configuration: frozen dataclasses, and loading the YAML file once (safely, cached).

Validation (every problem reported at once, with its path) is in config_validation.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cwpublish.errors import ConfigError

SMTP_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def default(cls: type, name: str) -> Any:
    """The default of a dataclass field: each config default is written once, on its field."""
    return cls.__dataclass_fields__[name].default


@dataclass(frozen=True)
class ConnectWise:
    """Where a partner's ConnectWise is and how any transport reaches it.

    `settings` holds what only the chosen API needs (e.g. the SOAP integrator login), as that
    target's own frozen dataclass (cwpublish/targets/<target>/settings.py).
    """

    site: str
    company_id: str
    settings: Any
    api: str = "soap"  # a key of cwpublish.targets.TARGETS
    allow_insecure_http: bool = False
    timeout: float = 30.0
    ca_bundle: str | None = None
    retries: int = 3  # transient failures retried this many times...
    retry_backoff: float = 2.0  # ...after 2, 4, 8 s (with jitter)...
    retry_max_seconds: float = 120.0  # ...but never past this much time in all
    parallel_requests: int = 2  # requests in flight at once


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

    @property
    def timezone(self) -> str | None:
        """The IANA zone in which this partner's dates are taken (None: the machine's)."""
        return self.schedule.timezone if self.schedule else None


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
    from cwpublish.config_validation import Validator

    config = Validator(path, trusted_clients=trusted).config(data)
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
        from cwpublish.state_files import write_json

        # An unwritable cache, or data that JSON cannot hold (YAML dates), just means no cache.
        with contextlib.suppress(StateError, TypeError, ValueError):
            write_json(self.path, {"sha256": self.digest, "data": data})


def _sha256(data: bytes) -> str:
    """SHA-256 without importing hashlib (which loads OpenSSL: ~3 ms on every nightly run)."""
    import sys

    try:
        if sys.version_info >= (3, 12):
            from _sha2 import sha256
        else:
            from _sha256 import sha256
    except ImportError:  # a Python built without them
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
