"""Where usage is published: one TargetSpec per ConnectWise API, chosen by `connectwise.api`.

A target is declared once, in TARGETS: its name, its Target class and its settings as
"module:object" strings imported on first use, the labels shown to the user, and its
capabilities (what one client's publish writes, whether it holds one value per client or
sums clients) answered by its TargetSettings. The nightly no-op (nothing due) loads no
transport at all, and config validation reads a target's settings through this table, which
imports no module of the project (so config never depends on a Target, nor a Target on config
validation). Adding a target is adding a folder beside this file (a Target subclass and a
settings module with a TargetSettings) and one TargetSpec here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from importlib import import_module
from typing import Any


class TargetSettings:
    """What the core and config validation ask of a target's settings: each target's
    settings.py subclasses this (one instance, named in its TargetSpec). The defaults are those
    of a target that writes one record per client and month, so every question has an answer
    and nothing is probed for."""

    # the target's frozen settings dataclass: its fields are its config keys
    model: type

    def keys(self) -> frozenset[str]:
        """The target's own config keys under `connectwise:` (a key = a field of `model`)."""
        return frozenset(f.name for f in fields(self.model))

    def validate(self, v: Any, m: dict, where: str) -> Any:
        """The settings dataclass from the `connectwise` mapping `m` (None when incomplete);
        each problem goes to the Validator `v` with its path."""
        raise NotImplementedError

    def secret_owner(self, cw: Any) -> str:
        """Whose secret it is in ConnectWise, for messages (the login, the API member)."""
        raise NotImplementedError

    def record_kind(self, cw: Any) -> str:
        """What one client's publish writes: "configuration" or "agreement_addition"."""
        return "configuration"

    def single_period(self, cw: Any) -> str | None:
        """Why this partner holds one value per client rather than one per month (None:
        it holds months)."""
        return None

    def sums_clients(self, cw: Any) -> bool:
        """Whether several clients share one written value (their GB summed)."""
        return False

    def client_problem(self, cw: Any, client: Any) -> str | None:
        """Why a client cannot be published by this target (config validation), or None."""
        return None


@dataclass(frozen=True, kw_only=True)
class TargetSpec:
    """One target, declared once: where its code lives and how it is named to the user."""

    name: str  # the connectwise.api value
    target: str  # "module:Class" of its Target subclass (imports its transport)
    settings: str  # "module:object" of its TargetSettings (light: read every run)
    secret_label: str  # the partner secret, as named in prompts, errors and status
    key_label: str = "Managed ID"  # what ConnectWise calls a client's key, in messages
    # clients name their ConnectWise company (`company`, `agreement`), their key defaulting to
    # the company; otherwise both are refused and `managed_id` is required
    client_company: bool = False

    @property
    def settings_module(self) -> str:
        """The settings module's name (imported by every config validation)."""
        return self.settings.partition(":")[0]


TARGETS = {
    spec.name: spec
    for spec in (
        TargetSpec(
            name="soap",
            target="cwpublish.targets.connectwise_soap.target:SoapTarget",
            settings="cwpublish.targets.connectwise_soap.settings:SETTINGS",
            secret_label="integrator password",
        ),
        TargetSpec(
            name="rest",
            target="cwpublish.targets.connectwise_rest.target:RestTarget",
            settings="cwpublish.targets.connectwise_rest.settings:SETTINGS",
            secret_label="API private key",
            key_label="company",
            client_company=True,
        ),
    )
}
DEFAULT_API = "soap"


def _load(where: str) -> Any:
    module, _, name = where.partition(":")
    return getattr(import_module(module), name)


def target_class(api: str) -> type:
    """The Target subclass (targets/base.py) for an `api` value (imports its transport)."""
    return _load(TARGETS[api].target)


@cache
def target_settings(api: str) -> TargetSettings:
    """The TargetSettings of an `api` value (imports only its light settings module)."""
    return _load(TARGETS[api].settings)
