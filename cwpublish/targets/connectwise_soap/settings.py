"""The SOAP target's config keys under `connectwise:` (api: soap), validated with their paths.

Light on purpose: every run validates the config, the nightly no-op included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cwpublish.config.model import ConnectWise, default
from cwpublish.targets.registry import TargetSettings

DEFAULT_API_PATH = "/v4_6_release/apis/2.0/ManagedDeviceApi.asmx"


@dataclass(frozen=True, kw_only=True)
class SoapSettings:
    """The integrator login and the Managed Device API's names for a partner's site."""

    integrator_username: str
    management_it_name: str
    backup_stats_name: str
    api_path: str = DEFAULT_API_PATH
    wsdl: str = "bundled"  # bundled | live
    batch_size: int = 200  # devices per UpdateManagedDevices call


REQUIRED = ("integrator_username", "management_it_name", "backup_stats_name")


def validate(v: Any, m: dict, where: str) -> SoapSettings | None:
    """SoapSettings from the `connectwise` mapping `m`; problems go to the Validator `v`."""
    values = {k: v.string(m, k, where) for k in REQUIRED}
    api_path = v.string(m, "api_path", where, default(SoapSettings, "api_path"))
    if api_path and not api_path.startswith("/"):
        v.fail(f"{where}.api_path", f"must start with '/', got {api_path!r}")
    wsdl = v.choice(m, "wsdl", where, ("bundled", "live"), default(SoapSettings, "wsdl"))
    batch_size = v.integer(m, "batch_size", where, default(SoapSettings, "batch_size"), 1, 10000)
    if not all(values.values()):
        return None
    return SoapSettings(
        **values,
        api_path=api_path or default(SoapSettings, "api_path"),
        wsdl=wsdl,
        batch_size=batch_size or default(SoapSettings, "batch_size"),
    )


def endpoint(cw: ConnectWise) -> str:
    """The Managed Device API's URL on the partner's site."""
    return cw.site.rstrip("/") + cw.settings.api_path


def secret_owner(cw: ConnectWise) -> str:
    """Whose secret it is, for messages: the integrator login."""
    return cw.settings.integrator_username


class _Soap(TargetSettings):
    """The SOAP target: one configuration per client and month (the defaults)."""

    model = SoapSettings

    def validate(self, v: Any, m: dict, where: str) -> SoapSettings | None:
        return validate(v, m, where)

    def secret_owner(self, cw: ConnectWise) -> str:
        return secret_owner(cw)


SETTINGS = _Soap()  # named in targets/registry.py
