"""`migrate --to rest`: a SOAP partner's REST configuration, each client's company found
through the configuration SOAP created (deviceIdentifier `rcloud-<Managed ID>`), so REST
publishes update the very records SOAP did. Read-only: nothing is written to ConnectWise;
the REST pre-flight proves the keys, the clientId and the configuration type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cwpublish.config import credentials as creds
from cwpublish.config.edit import replace_validated, switch_to_rest
from cwpublish.config.model import Partner
from cwpublish.errors import InputError
from cwpublish.targets.connectwise_rest.settings import RestSettings
from cwpublish.targets.registry import target_class
from cwpublish.text.redaction import register


def rest_partner(partner: Partner, public_key: str, client_id: str, site: str | None) -> Partner:
    """The partner as it would be over REST (configuration mode, the SOAP device type as
    the configuration type, the same site unless `site`)."""
    if partner.connectwise.api != "soap":
        raise InputError(f"--partner {partner.name}: already uses connectwise.api "
                         f"{partner.connectwise.api!r}; migrate moves a SOAP partner")
    settings = RestSettings(public_key=public_key, client_id=client_id,
                            configuration_type=partner.connectwise.settings.backup_stats_name)
    cw = replace(partner.connectwise, api="rest", site=site or partner.connectwise.site,
                 settings=settings)
    return replace(partner, connectwise=cw, clients=partner.clients)


def build(partner: Partner, public_key: str, client_id: str, site: str | None,
          private_key: str) -> dict:
    """The migration document (--json shape): the REST `connectwise:` section, each client
    placed (`company`) or not (`problem`), and what the pre-flight proved."""
    register(private_key)  # masked wherever it might appear
    rest = rest_partner(partner, public_key, client_id, site)
    keys = [c.managed_id for c in partner.clients]
    with target_class("rest")(rest, private_key) as target:
        proved = target.preflight()
        held = target.holders(keys)
    clients = []
    for c in partner.clients:
        found = {h["identifier"].casefold(): h for h in held[c.managed_id]}
        row: dict = {"name": c.name, "managed_id": c.managed_id, "company": None,
                     "problem": None}
        if len(found) == 1:
            row["company"] = next(iter(found.values()))["identifier"]
        elif not found:
            row["problem"] = (f"no {rest.connectwise.settings.configuration_type!r} "
                              f"configuration 'rcloud-{c.managed_id}' in ConnectWise (never "
                              "published over SOAP, or deleted)")
        else:
            names = ", ".join(sorted(h["identifier"] for h in found.values()))
            row["problem"] = f"'rcloud-{c.managed_id}' is on several companies: {names}"
        clients.append(row)
    cw = rest.connectwise
    section = {"api": "rest", "site": cw.site, "company_id": cw.company_id,
               "public_key": public_key, "client_id": client_id,
               "configuration_type": cw.settings.configuration_type}
    if cw.allow_insecure_http:
        section["allow_insecure_http"] = True
    return {"partner": partner.name, "to": "rest", "preflight": proved,
            "connectwise": section, "clients": clients,
            "unplaced": [c["name"] for c in clients if c["company"] is None]}


def write(path: Path, partner: Partner, doc: dict, private_key: str) -> dict:
    """`--write`: the partner's `connectwise:` section replaced by the REST one, each placed
    client's `company` set (its managed_id kept), unplaced clients commented out, and the
    private key stored in the keyring in the same step as the file is replaced (one entry per
    partner serves both APIs, so neither may change without the other). {backup, left_out}."""
    placed = {c["managed_id"]: c["company"] for c in doc["clients"] if c["company"]}
    left_out = {c["managed_id"] for c in doc["clients"] if not c["company"]}
    text = path.read_text(encoding="utf-8")
    new = switch_to_rest(text, partner.name, doc["connectwise"], placed, left_out)
    backup = replace_validated(path, new, swap=lambda: _store_key(partner, private_key))
    return {"backup": str(backup), "left_out": sorted(left_out)}


def _store_key(partner: Partner, private_key: str) -> Callable[[], None]:
    """Store the REST private key as the partner's secret; the undo putting back the old."""
    key = creds.partner_key(partner)
    old = creds.keyring_secret(key)
    creds.set_secret(key, private_key)

    def undo() -> None:
        if old is None:
            creds.delete_secret(key)
        else:
            creds.set_secret(key, old)

    return undo
