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
    """An rCloud client mapped to its ConnectWise key (the Managed ID; over REST, by default,
    the company identifier)."""

    name: str
    managed_id: str
    publish: bool = True
    company: str | None = None  # REST: the ConnectWise company identifier
    agreement: str | None = None  # REST agreement_addition: the agreement's name, if several


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
    """-c/--config, else $CWPUBLISH_CONFIG, else ./cwpublish.yaml, else ~/.config/cwpublish/.

    In the first two, `~` and `$NAME` / `${NAME}` are expanded: cron's /bin/sh passes
    `CWPUBLISH_CONFIG=~/.config/...` literally, and a unit file may say `$HOME`. A variable
    that is not set is a ConfigError naming it (exit 2), never a path with `$X` in it.
    """
    import re

    def expand(given: str, where: str) -> Path:
        def value(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            if name not in os.environ:
                raise ConfigError(
                    where,
                    [
                        f"the environment variable {name} is not set (cron and systemd pass "
                        "few variables; use an absolute path)"
                    ],
                )
            return os.environ[name]

        pattern = r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))"
        return Path(os.path.expanduser(re.sub(pattern, value, given)))

    if explicit:
        return expand(explicit, f"-c {explicit}")
    env = os.environ.get("CWPUBLISH_CONFIG")
    if env:
        return expand(env, f"CWPUBLISH_CONFIG={env}")
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
    written: dict[int, dict[str, str]] = {}
    if data is None:
        data, written = _parse_yaml(path, text)
    from cwpublish.config_validation import Validator

    config = Validator(path, trusted_clients=trusted, written=written).config(data)
    if not trusted:
        cache.store(data)
    return config


def _parse_yaml(path: Path, text: str) -> tuple[Any, dict[int, dict[str, str]]]:
    """The data of the YAML text, and the source text of its non-string scalars.

    The second item maps id(mapping) -> {key: the value as written} for every value YAML read as
    something other than a string (`0123`, `yes`, `2026-01-05`), so that an error can quote
    what the user wrote rather than what YAML made of it (83, True, a date).
    """
    loader = _Loader(text)
    try:
        return loader.get_single_data(), loader.written
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
    finally:
        loader.dispose()


class _ParseCache:
    """The parsed data of YAML text that validated before, kept as JSON in the user's cache.

    Building Python objects from YAML costs ~90 ms for 5,000 clients even with libyaml, which
    would dominate the nightly no-op run; JSON of the same data loads in ~1 ms. An entry is
    written only after the text validated, and is used only for exactly the same text
    (SHA-256), so the cache can save time but never change a decision. Everything that depends
    on more than the text (files, time zones, environment) is still validated every time.
    The digest covers FORMAT too, so entries written under older validation rules (which
    let `managed_id: 1001` through as a number) are never trusted.
    """

    FORMAT = "2"  # bump whenever validation rules change what may be cached

    def __init__(self, path: Path, text: str):
        from urllib.parse import quote

        self.digest = _sha256(f"cwpublish-config/{self.FORMAT}\n{text}".encode())
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
        """Keep `data` only if JSON gives back exactly the same values of the same types.

        JSON cannot hold everything YAML can (dates, non-string keys, NaN), and a cached value
        that differed from a fresh parse would make the second run decide differently from the
        first; such data is simply not cached.
        """
        import contextlib
        import json

        from cwpublish.errors import StateError
        from cwpublish.state_files import write_json

        # An unwritable cache, or data that JSON cannot hold, just means no cache.
        with contextlib.suppress(StateError, TypeError, ValueError, RecursionError):
            if _same(json.loads(json.dumps(data, allow_nan=False)), data):
                write_json(self.path, {"sha256": self.digest, "data": data})


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1, 1.0 and True are not the same)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(type(k) is str and _same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


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


# --- YAML loading: safe, C-accelerated when libyaml is present, duplicate keys and aliases
# refused, the source text of non-string values kept ----------------------------------------

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """SafeLoader that refuses duplicate keys and aliases (an ambiguous file is an error).

    Aliases (`*name`) are refused outright: a configuration has no need for them, and nested
    aliases ("billion laughs") make a few hundred bytes expand into billions of values for
    whatever walks the data (validation, the parse cache).
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.source = stream
        self.written: dict[int, dict[str, str]] = {}  # id(mapping) -> {key: text as written}

    def construct_document(self, node: yaml.Node) -> Any:
        """Refuse a node reached twice (an alias) before building anything from the tree."""
        _refuse_aliases(self.source, node)
        return super().construct_document(node)


def _refuse_aliases(source: str, root: yaml.Node) -> None:
    """ConstructorError at the first alias if any node of the tree is shared (walked once)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            mark = _first_alias_mark(source) or node.start_mark
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "aliases (*name) are not allowed in a configuration; write the value out",
                mark,
            )
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack += (key_node, value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _first_alias_mark(source: str) -> Any:
    """Where the first `*alias` is (parsed again only on this error path)."""
    for event in yaml.parse(source, Loader=_Base):
        if isinstance(event, yaml.AliasEvent):
            return event.start_mark
    return None


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
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    written = {
        key_node.value: value_node.value
        for key_node, value_node in node.value
        if isinstance(key_node, yaml.ScalarNode)
        and isinstance(value_node, yaml.ScalarNode)
        and value_node.tag != _STR_TAG
    }
    if written:
        loader.written[id(mapping)] = written
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
