"""Where usage is published: one Target per ConnectWise API, chosen by `connectwise.api`.

The registry names each target's class and settings module as strings and imports them on
first use, so the nightly no-op (nothing due) loads no transport at all. Adding a target is
adding a folder here (a Target subclass and a settings module) and one line in each table.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cwpublish.targets.base import Target

# connectwise.api value -> "module:Class" of its Target
TARGETS = {
    "soap": "cwpublish.targets.connectwise_soap.target:SoapTarget",
    "rest": "cwpublish.targets.connectwise_rest.target:RestTarget",
}
# connectwise.api value -> module with KEYS, REQUIRED and validate() for its config keys
SETTINGS = {
    "soap": "cwpublish.targets.connectwise_soap.settings",
    "rest": "cwpublish.targets.connectwise_rest.settings",
}
DEFAULT_API = "soap"


def target_class(api: str) -> type[Target]:
    """The Target class for an `api` value (imports its transport)."""
    module, _, name = TARGETS[api].partition(":")
    return getattr(import_module(module), name)


def settings_module(api: str) -> ModuleType:
    """The light module that validates the config keys of an `api` value."""
    return import_module(SETTINGS[api])
