"""A partner's clients, and the parse cache that keeps them as raw JSON until they are read.

Every run reads the configuration, the nightly no-op included, and a configuration may hold
200 partners of 500 clients. Text that validated before comes from the parse cache
(ParseCache, cache.py) with each partner's clients still a line of JSON in the cache file
(ClientsLine): they become a Deferred that builds them when `Partner.clients` is first read --
by type alone when they have the validated shape (as a fresh load of that text would accept
them), else validated in full, each problem with its path. So the no-op builds no client of a
partner that is not due, and a due partner's are built (and checked) before anything is sent.
Other text is validated here in full (ClientReader), with a fast path for the common entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cwpublish.config.cache import ClientsLine
from cwpublish.config.costs import cost_per_gb
from cwpublish.config.fields import CONTROL_RE, FieldReader, join
from cwpublish.config.model import Client, Deferred, GcPaused, default, keys_of
from cwpublish.errors import ConfigError
from cwpublish.targets.registry import TARGETS

CLIENT_KEYS = keys_of(Client)  # a key = a field of Client


class ClientReader(FieldReader):
    """The `clients` of a partner, for the Validator (config/validation.py)."""

    trusted = False  # this exact text validated in full before (the parse cache)

    def client(self, item: Any, at: str, api: str = "soap") -> Client | None:
        """A client entry with every problem reported (the slow path of clients())."""
        by_company = TARGETS[api].client_company
        required = ("name", "company") if by_company else ("name", "managed_id")
        m = self.mapping(item, at, CLIENT_KEYS, required)
        name = self.string(m, "name", at)
        company = self.string(m, "company", at)
        agreement = self.string(m, "agreement", at)
        managed_id = self.string(m, "managed_id", at) or (company if by_company else None)
        publish = self.boolean(m, "publish", at, default(Client, "publish"))
        cost = cost_per_gb(self, m, at)
        if not by_company:
            for key in ("company", "agreement"):
                if m.get(key) is not None:
                    self.fail(join(at, key), "only with connectwise.api: rest")
        if not (name and managed_id):
            return None
        return Client(
            name=name, managed_id=managed_id, publish=publish, company=company,
            agreement=agreement, cost_per_gb=cost,
        )

    def clients(
        self, raw: Any, where: str, api: str = "soap"
    ) -> tuple[Client, ...] | Deferred | None:
        if raw is None:
            return None
        if self.trusted and isinstance(raw, ClientsLine):
            return deferred_clients(self.path, raw, where, api)
        if not isinstance(raw, list) or not raw:
            self.fail(where, "must be a non-empty list of {name, managed_id}")
            return None
        if self.trusted:  # only names, IDs and flags: nothing outside the text
            trusted = trusted_clients(raw, api)
            if trusted is not None:  # else: validated in full below, as a fresh parse would be
                return trusted
        clients: list[Client] = []
        names: dict[str, int] = {}
        ids: dict[str, int] = {}
        for i, item in enumerate(raw):
            # Fast path for the common well-formed entry.
            quick = plain_client(item, api)
            if quick:
                folded_name, folded_id = quick.name.casefold(), quick.managed_id.casefold()
                if folded_name not in names and folded_id not in ids:
                    names[folded_name] = ids[folded_id] = i
                    clients.append(quick)
                    continue
            client = self.client(item, f"{where}[{i}]", api)
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


def deferred_clients(path: Path, line: ClientsLine, where: str, api: str) -> Deferred:
    """A partner's clients from the parse cache, built when first read (see the module doc).

    ConfigError (every problem with its path) if they do not validate, which only a cache
    entry written otherwise can make happen.
    """

    def build() -> tuple[Client, ...]:
        with GcPaused():
            raw = line.read()
            reader = ClientReader(path)
            reader.trusted = True
            clients = reader.clients(raw, where, api)
        if reader.problems or clients is None:
            raise ConfigError(str(path), reader.problems or [f"{where}: is required"])
        assert isinstance(clients, tuple)
        return clients

    return Deferred(build)


def trusted_clients(raw: list, api: str) -> tuple[Client, ...] | None:
    """The clients of cached data that validated before; None if any entry is not of the
    validated shape (a cache written otherwise), so that it is validated in full instead.

    Only type checks: names, IDs and flags depend on nothing outside the text.
    """
    clients = []
    for c in raw:
        if type(c) is not dict:
            return None
        client = plain_client(c, api)
        if client is None:
            return None
        clients.append(client)
    return tuple(clients)


def plain_client(item: Any, api: str = "soap") -> Client | None:
    """The Client of a well-formed entry (text name and ID, a boolean flag), else None.

    The one shape both fast paths accept; anything else goes through ClientReader.client, which
    reports it. Never converts: a number where text belongs is not plain.
    """
    if type(item) is not dict or not item.keys() <= CLIENT_KEYS or "cost_per_gb" in item:
        return None  # cost_per_gb: read (and checked) by ClientReader.client
    company = agreement = None
    if TARGETS[api].client_company:
        company, agreement = item.get("company"), item.get("agreement")
        if type(company) is not str or (agreement is not None and type(agreement) is not str):
            return None
        company = company.strip()
        agreement = agreement.strip() if agreement is not None else None
        if not company or CONTROL_RE.search(company) or (
            agreement is not None and (not agreement or CONTROL_RE.search(agreement))
        ):
            return None
    elif "company" in item or "agreement" in item:
        return None
    name, managed_id = item.get("name"), item.get("managed_id", company)
    publish = item.get("publish", True)
    if type(name) is not str or type(managed_id) is not str or type(publish) is not bool:
        return None
    name, managed_id = name.strip(), managed_id.strip()
    if not name or not managed_id or CONTROL_RE.search(name) or CONTROL_RE.search(managed_id):
        return None
    return Client(
        name=name, managed_id=managed_id, publish=publish, company=company, agreement=agreement
    )
