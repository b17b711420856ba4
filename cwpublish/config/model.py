"""The configuration's frozen dataclasses (loading them is load.py; validation validation.py).

Validation (every problem reported at once, with its path) is in validation.py; reading
the YAML text in fields.py.

The nightly no-op reads the configuration every night and usually finds nothing due, so what
it does not need is not built: while the file is unchanged, the parse cache
(config/cache.py) gives the data without yaml, each partner's clients stay raw JSON in it
until `Partner.clients` is first read, and a partner's target settings
(`ConnectWise.settings`) are validated when first read. Either is then what an eager load
builds (BuiltOnFirstAccess).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cwpublish.domain.schedule import Schedule
from cwpublish.state.keys import partner_key

if TYPE_CHECKING:  # a type hint only: the nightly no-op never loads decimal
    from decimal import Decimal

SMTP_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def default(cls: type, name: str) -> Any:
    """The default of a dataclass field: each config default is written once, on its field."""
    return cls.__dataclass_fields__[name].default


def keys_of(cls: type, *, besides: tuple[str, ...] = ()) -> frozenset[str]:
    """The config keys a section allows: its dataclass's fields (a key = a field), less the
    fields that are not read from the file (`besides`), so a new key is one new field."""
    return frozenset(f.name for f in fields(cls) if f.name not in besides)


class Deferred:
    """A field value built on its first read: `build()` returns it, or raises ConfigError
    naming each problem with its path (see BuiltOnFirstAccess)."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[], Any]):
        self.build = build


class BuiltOnFirstAccess:
    """A frozen dataclass field that may be given a Deferred: its first read builds the value
    and keeps it, so a configuration whose clients are never read never builds them.

    Readers always see the built value (a tuple of Client, a settings dataclass), so equality,
    repr and hash are those of an eagerly built instance.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = f"_{name}_value"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            raise AttributeError(self.name)  # no class-level default: the field is required
        value = obj.__dict__[self.slot]
        if type(value) is Deferred:
            value = value.build()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        # Reached only from the dataclass __init__: frozen instances refuse setattr before this.
        obj.__dict__[self.slot] = value


@dataclass(frozen=True, kw_only=True)
class ConnectWise:
    """Where a partner's ConnectWise is and how any transport reaches it.

    `settings` holds what only the chosen API needs (e.g. the SOAP integrator login), as that
    target's own frozen dataclass (cwpublish/targets/<target>/settings.py).
    """

    site: str
    company_id: str
    settings: Any = BuiltOnFirstAccess()  # may be given as a Deferred (validated when read)
    api: str = "soap"  # a key of cwpublish.targets.registry.TARGETS
    allow_insecure_http: bool = False
    timeout: float = 30.0
    ca_bundle: str | None = None
    retries: int = 3  # transient failures retried this many times...
    retry_backoff: float = 2.0  # ...after 2, 4, 8 s (with jitter)...
    retry_max_seconds: float = 120.0  # ...but never past this much time in all
    parallel_requests: int = 2  # requests in flight at once


@dataclass(frozen=True, kw_only=True)
class UsageSource:
    """Where a month's usage rows come from; `location` may hold {year} and {month}."""

    kind: str  # csv | json | command
    location: str
    base_dir: Path


@dataclass(frozen=True, kw_only=True)
class Client:
    """An rCloud client mapped to its ConnectWise key (the Managed ID; over REST, by default,
    the company identifier)."""

    name: str
    managed_id: str
    publish: bool = True
    company: str | None = None  # REST: the ConnectWise company identifier
    agreement: str | None = None  # REST agreement_addition: the agreement's name, if several
    cost_per_gb: Decimal | None = None  # reconcile: what one GB costs (else the partner's)


@dataclass(frozen=True, kw_only=True)
class Partner:
    """One MSP: its ConnectWise site, schedule, managers, usage source and clients."""

    name: str
    connectwise: ConnectWise
    usage: UsageSource
    clients: tuple[Client, ...] = BuiltOnFirstAccess()  # may be given as a Deferred
    managers: tuple[str, ...] = ()
    schedule: Schedule | None = None
    cost_per_gb: Decimal | None = None  # reconcile: what one GB costs, for clients without one

    @property
    def timezone(self) -> str | None:
        """The IANA zone in which this partner's dates are taken (None: the machine's)."""
        return self.schedule.timezone if self.schedule else None


@dataclass(frozen=True, kw_only=True)
class Smtp:
    """The mail server used to notify managers."""

    host: str
    sender: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    username: str | None = None
    timeout: float = 30.0
    ca_bundle: str | None = None


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole validated configuration."""

    path: Path
    state_dir: Path
    partners: tuple[Partner, ...]
    smtp: Smtp | None = None
    templates_dir: Path | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)
    parallel_partners: int = 8  # partners publishing at once (each its own site)
    metrics_file: Path | None = None  # Prometheus textfile written after each run (optional)

    def partner(self, name: str) -> Partner:
        for p in self.partners:
            if p.name == name:
                return p
        raise KeyError(name)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cwpublish"


class GcPaused:
    """No cyclic garbage collection inside: loading builds many long-lived, acyclic objects
    (100,000 clients' dicts and dataclasses), and each collection would only walk them again.
    The collector's previous state is restored on the way out, error or not."""

    def __enter__(self) -> GcPaused:
        self.was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def state_key(partner: Partner) -> str:
    """The key of a partner's ledger folder and schedule.json entry (state/keys.py).

    A partner without a ConnectWise section (only built by tests) is keyed by its name alone.
    """
    cw = partner.connectwise
    if cw is None:
        return partner.name
    return partner_key(partner.name, cw.site, cw.company_id)
