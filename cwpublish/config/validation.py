"""Validate the parsed YAML into the frozen dataclasses of config/model.py.

Every problem in the file is collected and reported together, each with its path
(`partners[0].schedule.day: must be 1-31, got 32`), unknown keys with a "did you mean", so one
run of `check-config` shows them all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from cwpublish.config.costs import cost_per_gb
from cwpublish.config.fields import join, kind
from cwpublish.config.model import (
    Config,
    ConnectWise,
    Deferred,
    Partner,
    default,
    default_state_dir,
    keys_of,
)
from cwpublish.config.sections import SectionReader
from cwpublish.errors import ConfigError
from cwpublish.state.keys import site_part
from cwpublish.targets.registry import DEFAULT_API, TARGETS, target_settings

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# the keys of each section: its dataclass's fields (config/model.py keys_of)
_TOP_KEYS = keys_of(Config, besides=("path", "warnings"))
_PARTNER_KEYS = keys_of(Partner)
# connectwise keys of every API; each target adds its own (its settings dataclass's fields)
_CONNECTWISE_KEYS = keys_of(ConnectWise, besides=("settings",))


class Validator(SectionReader):
    """Walks the parsed YAML into the config dataclasses, collecting problems with paths.

    `trusted`: this exact text validated in full before (the parse cache), so what depends on
    nothing but the text of a partner's clients and target settings is built when first read
    (config/clients.py, _deferred_settings); the rest is validated every time.
    """

    def __init__(
        self,
        path: Path,
        trusted: bool = False,
        written: dict[int, dict[str, str]] | None = None,
    ):
        super().__init__(path, written)
        self.trusted = trusted

    # -- sections --

    def config(self, data: Any) -> Config:
        if data is None:
            data = {}
        top = self.mapping(
            data,
            "",
            _TOP_KEYS,
            ("partners",),
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
            self.fail("partners", f"must be a list, got {kind(raw_partners)}")
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
        if not self.trusted:
            self.shared_tenants(partners)
        templates = self.string(top, "templates_dir", "")
        templates_dir = self.base_dir / os.path.expanduser(templates) if templates else None
        if templates_dir and not templates_dir.is_dir():
            self.fail("templates_dir", f"folder not found: {templates_dir}")
        parallel = self.integer(
            top, "parallel_partners", "", default(Config, "parallel_partners"), 1, 64
        )
        metrics = self.string(top, "metrics_file", "")
        metrics_file = self.base_dir / os.path.expanduser(metrics) if metrics else None
        if metrics_file and not metrics_file.parent.is_dir():
            self.fail("metrics_file", f"folder not found: {metrics_file.parent}")
        if self.problems:
            raise ConfigError(str(self.path), self.problems)
        return Config(
            path=self.path,
            state_dir=state_path,
            partners=tuple(partners),
            smtp=smtp,
            templates_dir=templates_dir,
            warnings=tuple(self.warnings),
            parallel_partners=parallel or default(Config, "parallel_partners"),
            metrics_file=metrics_file,
        )

    def shared_tenants(self, partners: list[Partner]) -> None:
        """Partners writing the same kind of record to the same ConnectWise company must not
        share a client key: both would write one record (the `rcloud-<key>` configuration),
        and the last one would bill the other's GB."""

        owners: dict[tuple, tuple[int, str]] = {}
        shared: dict[tuple[int, str, str], list[str]] = {}  # (partner, other, what) -> names
        for i, p in enumerate(partners):
            cw = p.connectwise
            target = target_settings(cw.api)
            kind = target.record_kind(cw)
            tenant = (site_part(cw.site), cw.company_id.casefold(), kind)
            product = getattr(cw.settings, "product", None)
            for c in p.clients:
                if problem := target.client_problem(cw, c):
                    self.fail(f"partners[{i}].clients", problem)
                mine = (*tenant, c.managed_id.casefold())
                if mine in owners and owners[mine][1] != p.name:
                    shared.setdefault((i, owners[mine][1], "id"), []).append(c.managed_id)
                owners.setdefault(mine, (i, p.name))
                if kind != "agreement_addition" or not product:
                    continue
                # an addition is one quantity per client company and product: two partners
                # would each set it to their own clients' sum, the last erasing the other's
                addition = (*tenant, "company", (c.company or c.managed_id).casefold(),
                            product.casefold())
                if addition in owners and owners[addition][1] != p.name:
                    key = (i, owners[addition][1], f"product {product!r}")
                    company = c.company or c.managed_id
                    if company not in shared.get(key, []):
                        shared.setdefault(key, []).append(company)
                owners.setdefault(addition, (i, p.name))
        for (i, other, what), names in shared.items():  # one line per mistake, not per client
            self.fail(f"partners[{i}].clients", _shared_text(other, what, names))

    def partner(self, raw: Any, where: str) -> Partner | None:
        m = self.mapping(
            raw,
            where,
            _PARTNER_KEYS,
            ("name", "connectwise", "usage", "clients"),
        )
        name = self.string(m, "name", where)
        if name and not _NAME_RE.match(name):
            self.fail(join(where, "name"), f"use letters, digits, '-' and '_' only, got {name!r}")
        cw = (
            self.connectwise(m["connectwise"], join(where, "connectwise"))
            if m.get("connectwise") is not None
            else None
        )
        schedule = (
            self.schedule(m["schedule"], join(where, "schedule"))
            if m.get("schedule") is not None
            else None
        )
        usage = (
            self.usage(m["usage"], join(where, "usage")) if m.get("usage") is not None else None
        )
        managers = self.managers(m.get("managers"), join(where, "managers"))
        clients = self.clients(
            m.get("clients"), join(where, "clients"), cw.api if cw else DEFAULT_API
        )
        cost = cost_per_gb(self, m, where)
        if not (name and cw and usage) or clients is None:
            return None
        return Partner(
            name=name, connectwise=cw, usage=usage, clients=clients, managers=managers,
            schedule=schedule, cost_per_gb=cost,
        )

    def connectwise(self, raw: Any, where: str) -> ConnectWise | None:
        """The common keys here; the chosen API's own keys by its settings module (for trusted
        text when first read, so the nightly no-op imports no target)."""
        api = raw.get("api", DEFAULT_API) if isinstance(raw, dict) else DEFAULT_API
        if api not in TARGETS:
            self.fail(join(where, "api"), f"must be one of {', '.join(TARGETS)}, got {api!r}")
            api = DEFAULT_API
        target = None if self.trusted else target_settings(api)
        keys = _CONNECTWISE_KEYS | target.keys() if target else set(raw or ())
        m = self.mapping(raw, where, keys, ("site", "company_id"))
        if not m:
            return None
        values = {k: self.string(m, k, where) for k in ("site", "company_id")}
        insecure = self.boolean(
            m, "allow_insecure_http", where, default(ConnectWise, "allow_insecure_http")
        )
        if values["site"]:
            values["site"] = self.site(
                values["site"],
                join(where, "site"),
                insecure,
                TARGETS[api].secret_label,
            )
        common = {
            "ca_bundle": self.file(m, "ca_bundle", where),
            "timeout": self.number(m, "timeout", where, default(ConnectWise, "timeout")),
            "retries": self.integer(m, "retries", where, default(ConnectWise, "retries"), 0, 10),
            "retry_backoff": self.number(
                m, "retry_backoff", where, default(ConnectWise, "retry_backoff")
            ),
            "retry_max_seconds": self.number(
                m, "retry_max_seconds", where, default(ConnectWise, "retry_max_seconds")
            ),
            "parallel_requests": self.integer(
                m, "parallel_requests", where, default(ConnectWise, "parallel_requests"), 1, 8
            ),
        }
        settings = (
            target.validate(self, m, where) if target else self._deferred_settings(api, m, where)
        )
        if not all(values.values()) or settings is None:
            return None
        return ConnectWise(
            **values, settings=settings, api=api, allow_insecure_http=insecure, **common
        )

    def _deferred_settings(self, api: str, m: dict, where: str) -> Deferred:
        """The target settings of trusted text, validated in full when first read."""
        path = self.path

        def build() -> Any:
            target, reader = target_settings(api), Validator(path)
            reader.mapping(m, where, _CONNECTWISE_KEYS | target.keys())
            settings = target.validate(reader, m, where)
            if reader.problems:
                raise ConfigError(str(path), reader.problems)
            return settings

        return Deferred(build)


def _shared_text(other: str, what: str, names: list[str]) -> str:
    """One problem for every client a partner shares with `other`: a count and the first few."""
    first = ", ".join(repr(n) for n in names[:5]) + (
        f" and {len(names) - 5} more" if len(names) > 5 else ""
    )
    if what == "id":
        if len(names) == 1:
            return (
                f"Managed ID {names[0]!r} is also a client of partner {other!r} on the same "
                "ConnectWise company; both would write one record (give each client its own "
                "Managed ID)"
            )
        return (
            f"{len(names)} Managed IDs ({first}) are also clients of partner {other!r} on the "
            "same ConnectWise company; both would write one record each (give each client its "
            "own Managed ID, or keep these clients in one partner)"
        )
    product = what.removeprefix("product ")
    if len(names) == 1:
        return (
            f"company {names[0]!r} also has clients of partner {other!r} billed as product "
            f"{product} on the same ConnectWise site and company ID; both would set one "
            "addition's quantity, each to its own clients' sum (keep that company's clients in "
            "one partner)"
        )
    return (
        f"{len(names)} companies ({first}) also have clients of partner {other!r} billed as "
        f"product {product} on the same ConnectWise site and company ID; both would set each "
        "addition's quantity, each to its own clients' sum (keep each company's clients in one "
        "partner)"
    )
