"""The REST target's config keys under `connectwise:` (api: rest), validated with their paths.

Light on purpose: every run validates the config, the nightly no-op included.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from cwpublish.config.model import Client, ConnectWise, default
from cwpublish.domain.record import device_identifier
from cwpublish.targets.registry import TargetSettings

MODES = ("configuration", "agreement_addition")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_VERSION = re.compile(r"^\d{4}\.\d{1,2}$")


@dataclass(frozen=True, kw_only=True)
class RestSettings:
    """The API member, the integration's clientId, and where the usage goes."""

    public_key: str
    client_id: str
    api_version: str = "2025.1"  # pinned in Accept
    publish_to: str = "configuration"  # configuration | agreement_addition
    configuration_type: str = "Backup Stats"  # configuration mode: the type's name
    product: str | None = None  # agreement_addition: catalog product identifier
    agreement_type: str | None = None  # agreement_addition: which active agreement
    max_requests_per_second: float | None = None  # the site's rate limit, when known (pacing)


def _rate(v: Any, m: dict, where: str) -> float | None:
    """`max_requests_per_second`: a positive number of requests per second, or absent."""
    value = m.get("max_requests_per_second")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        v.fail(f"{where}.max_requests_per_second",
               f"must be a positive number of requests per second, got {value!r}")
        return None
    return float(value)


def validate(v: Any, m: dict, where: str) -> RestSettings | None:
    """RestSettings from the `connectwise` mapping `m`; problems go to the Validator `v`."""
    public_key = v.string(m, "public_key", where)
    client_id = v.string(m, "client_id", where)
    if client_id and not _GUID.match(client_id):
        v.fail(f"{where}.client_id", f"must be the integration's clientId GUID, got {client_id!r}")
    version = v.string(m, "api_version", where, default(RestSettings, "api_version"))
    if version and not _VERSION.match(str(version)):
        v.fail(f"{where}.api_version", f"must look like 2025.1 (quote it), got {version!r}")
    mode = v.choice(m, "publish_to", where, MODES, default(RestSettings, "publish_to"))
    ctype = v.string(m, "configuration_type", where, default(RestSettings, "configuration_type"))
    product = v.string(m, "product", where)
    agreement_type = v.string(m, "agreement_type", where)
    rate = _rate(v, m, where)
    if mode == "agreement_addition":
        for key, value in (("product", product), ("agreement_type", agreement_type)):
            if not value:
                v.fail(f"{where}.{key}", "is required with publish_to: agreement_addition")
    elif product or agreement_type:
        v.fail(f"{where}.publish_to", "product and agreement_type need agreement_addition")
    if not public_key or not client_id:
        return None
    return RestSettings(
        public_key=public_key,
        client_id=client_id,
        api_version=str(version or default(RestSettings, "api_version")),
        publish_to=mode,
        configuration_type=ctype or default(RestSettings, "configuration_type"),
        product=product,
        agreement_type=agreement_type,
        max_requests_per_second=rate,
    )


MAX_DEVICE_ID = 100  # ConnectWise's limit on a configuration's deviceIdentifier (and name)


def device_id_problem(device_id: str) -> str | None:
    """Why ConnectWise cannot hold this deviceIdentifier (None when it can)."""
    if len(device_id) <= MAX_DEVICE_ID:
        return None
    shown = device_id[:31] + "…"
    return (
        f"its record identifier {shown!r} (rcloud-<managed_id>) would be {len(device_id)} "
        f"characters; ConnectWise holds at most {MAX_DEVICE_ID} (shorten its managed_id, or "
        "its company when managed_id is not given)"
    )


def client_problem(cw: ConnectWise, client: Client) -> str | None:
    """Why a client cannot be published over REST (config validation): in configuration
    mode, its record identifier would not fit in ConnectWise."""
    if cw.settings.publish_to != "configuration":
        return None
    problem = device_id_problem(device_identifier(client.managed_id))
    return f"client {client.name!r}: {problem}" if problem else None


def record_kind(cw: ConnectWise) -> str:
    """What a client's publish writes: its configuration (as SOAP does) or an addition."""
    return cw.settings.publish_to


def single_period(cw: ConnectWise) -> str | None:
    """Why this partner holds one value rather than one per month (None: it holds months)."""
    if cw.settings.publish_to == "agreement_addition":
        return "an agreement addition holds one quantity, not one per month"
    return None


def secret_owner(cw: ConnectWise) -> str:
    """Whose secret it is, for messages: the API member's public key."""
    return f"API member {cw.company_id}+{cw.settings.public_key}"


class _Rest(TargetSettings):
    """The REST target: a configuration per client and month, or (agreement_addition) one
    quantity per client company and product, summing its clients."""

    model = RestSettings

    def validate(self, v: Any, m: dict, where: str) -> RestSettings | None:
        return validate(v, m, where)

    def secret_owner(self, cw: ConnectWise) -> str:
        return secret_owner(cw)

    def record_kind(self, cw: ConnectWise) -> str:
        return record_kind(cw)

    def single_period(self, cw: ConnectWise) -> str | None:
        return single_period(cw)

    def sums_clients(self, cw: ConnectWise) -> bool:
        return record_kind(cw) == "agreement_addition"

    def client_problem(self, cw: ConnectWise, client: Client) -> str | None:
        return client_problem(cw, client)


SETTINGS = _Rest()  # named in targets/registry.py
