"""The fast paths of client validation: every run, the nightly no-op included, reads every
client, so the common well-formed entry is checked by type alone; anything else goes through
Validator.client, which reports each problem with its path."""

from __future__ import annotations

from typing import Any

from cwpublish.config import Client
from cwpublish.config_fields import CONTROL_RE

CLIENT_KEYS = {"name", "managed_id", "publish", "company", "agreement"}


def trusted_clients(raw: list, api: str) -> tuple[Client, ...] | None:
    """The clients of cached data that validated before; None if any entry is not of the
    validated shape (a cache written otherwise), so that it is validated in full instead.

    Only type checks: this runs for every client on the nightly no-op, within its time budget.
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

    The one shape both fast paths accept; anything else goes through Validator.client, which
    reports it. Never converts: a number where text belongs is not plain.
    """
    if type(item) is not dict or not item.keys() <= CLIENT_KEYS:
        return None
    company = agreement = None
    if api == "rest":
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
    return Client(name, managed_id, publish, company, agreement)
