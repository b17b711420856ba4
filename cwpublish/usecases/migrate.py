"""`migrate --to rest`: a SOAP partner's REST configuration, each client's company found
through the configuration SOAP created (deviceIdentifier `rcloud-<Managed ID>`), so REST
publishes update the very records SOAP did. Read-only: nothing is written to ConnectWise;
the REST pre-flight proves the keys, the clientId and the configuration type."""

from __future__ import annotations

from dataclasses import replace

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
