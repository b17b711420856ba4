"""Where usage is published: one Target per ConnectWise API, chosen by `connectwise.api`.

One line per target in TARGETS names its Target class and its settings module as strings,
imported on first use: the nightly no-op (nothing due) loads no transport at all, and config
validation reads a target's settings through this table, which imports no module of the
project (so config never depends on a Target, nor a Target on config validation). Adding a
target is adding a folder beside this file (a Target subclass and a settings module) and one
line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import ModuleType


@dataclass(frozen=True)
class TargetSpec:
    """Where a target's code lives: its Target class ("module:Class") and its light settings
    module (KEYS, REQUIRED, SECRET_LABEL, validate() and the optional hooks)."""

    target: str
    settings: str


# connectwise.api value -> its target
TARGETS = {
    "soap": TargetSpec(
        target="cwpublish.targets.connectwise_soap.target:SoapTarget",
        settings="cwpublish.targets.connectwise_soap.settings",
    ),
    "rest": TargetSpec(
        target="cwpublish.targets.connectwise_rest.target:RestTarget",
        settings="cwpublish.targets.connectwise_rest.settings",
    ),
}
# connectwise.api value -> module with KEYS, REQUIRED and validate() for its config keys
SETTINGS = {api: spec.settings for api, spec in TARGETS.items()}
DEFAULT_API = "soap"


def target_class(api: str) -> type:
    """The Target subclass (targets/base.py) for an `api` value (imports its transport)."""
    module, _, name = TARGETS[api].target.partition(":")
    return getattr(import_module(module), name)


def settings_module(api: str) -> ModuleType:
    """The light module that validates the config keys of an `api` value."""
    return import_module(SETTINGS[api])
