"""One site, two APIs: what SOAP's UpdateManagedDevices stores also appears on the REST side,
as real ConnectWise shows a managed device as a configuration of the solution's device type
on the company. So a partner moving from SOAP to REST (`cwpublish migrate`) finds, by
deviceIdentifier `rcloud-<Managed ID>`, the record SOAP created, and REST publishes update it.
Only when the tenant has a REST side with a configuration type of the device type's name."""

from __future__ import annotations

from cwpublish.simulator.rest_site import RestError, RestTenant


def mirror(rest: RestTenant, company: dict, device: dict) -> None:
    """Create or update the REST configuration for one accepted SOAP device. `company` is the
    tenant's company entry; `device`: name, identifier, type, gb, year, month."""
    ctype = next((t for t in rest.types
                  if t["name"].casefold() == str(device["type"]).casefold()), None)
    ident = str(company.get("identifier") or company.get("managed_id") or "")
    owner = next((c for c in rest.companies if c["identifier"].casefold() == ident.casefold()),
                 None)
    if ctype is None or owner is None:
        return
    values = {"backupBillableSpaceGb": device["gb"], "backupYear": device["year"],
              "backupMonth": device["month"]}
    for config in rest.configurations:
        if (config["type"]["id"] == ctype["id"]
                and (config.get("company") or {}).get("id") == owner["id"]
                and str(config.get("deviceIdentifier")).casefold()
                == str(device["identifier"]).casefold()):
            config.update(values)
            return
    try:
        rest.create_configuration({
            "name": str(device["name"])[:100], "type": {"id": ctype["id"]},
            "company": {"id": owner["id"]}, "deviceIdentifier": device["identifier"], **values,
        })
    except RestError:  # a record REST cannot hold (e.g. too long): SOAP's answer is unchanged
        return
