"""The request bodies, in the WSDL's sequence order, written as zeep serializes them.

zeep's generic serializer costs ~17x more for the device array, and importing zeep costs a
run ~40 ms; tests check each body here equals zeep's serialization of the same call.
"""

from __future__ import annotations

from cwpublish.config.model import ConnectWise
from cwpublish.domain.record import UsageRecord, device_identifier
from cwpublish.text.redaction import MASK

NAMESPACE = "http://connectwise.com"


def preview_envelope(cw: ConnectWise, devices: list[UsageRecord]) -> str:
    """The UpdateManagedDevices envelope for `devices`, password masked (--dry-run -v)."""
    from lxml import etree

    envelope = update_envelope(cw, MASK, devices)
    return etree.tostring(envelope, pretty_print=True, encoding="unicode")


SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def soap_headers(operation: str) -> dict[str, str]:
    """The HTTP headers of a SOAP 1.1 call (SOAPAction quoted, as ASP.NET expects)."""
    return {"SOAPAction": f'"{NAMESPACE}/{operation}"', "Content-Type": "text/xml; charset=utf-8"}


UPDATE_HEADERS = soap_headers("UpdateManagedDevices")
_Q = {
    name: f"{{{NAMESPACE}}}{name}"
    for name in (
        "UpdateManagedDevices",
        "credentials",
        "CompanyId",
        "IntegratorLoginId",
        "IntegratorPassword",
        "managementSolutionName",
        "managedDevices",
        "ManagedDevice",
        "Type",
        "ManagedIdentifier",
        "Device",
        "DeviceName",
        "DeviceIdentifier",
        "BackupBillableSpaceGb",
        "BackupYear",
        "BackupMonth",
    )
}


def update_envelope(cw: ConnectWise, password: str, devices: list[UsageRecord]):
    """The UpdateManagedDevices SOAP 1.1 envelope, fields in the WSDL's sequence order.

    Only the fields cwpublish sets are written (all others are optional); a test checks this
    equals zeep's own serialization of the same call.
    """
    from lxml.etree import Element, SubElement

    q = _Q
    envelope = Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap-env": SOAP_ENV})
    body = SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    op = SubElement(body, q["UpdateManagedDevices"], nsmap={"ns0": NAMESPACE})
    creds = SubElement(op, q["credentials"])
    SubElement(creds, q["CompanyId"]).text = cw.company_id
    SubElement(creds, q["IntegratorLoginId"]).text = cw.settings.integrator_username
    SubElement(creds, q["IntegratorPassword"]).text = password
    SubElement(op, q["managementSolutionName"]).text = cw.settings.management_it_name
    array = SubElement(op, q["managedDevices"])
    kind = cw.settings.backup_stats_name
    for d in devices:
        md = SubElement(array, q["ManagedDevice"])
        SubElement(md, q["Type"]).text = kind
        SubElement(md, q["ManagedIdentifier"]).text = d.key
        dev = SubElement(md, q["Device"])
        SubElement(dev, q["DeviceName"]).text = f"rCloud Backup - {d.client}"
        SubElement(dev, q["DeviceIdentifier"]).text = device_identifier(d.key)
        SubElement(dev, q["BackupBillableSpaceGb"]).text = format(d.billable_gb, "f")
        SubElement(dev, q["BackupYear"]).text = str(d.period.year)
        SubElement(dev, q["BackupMonth"]).text = str(d.period.month)
    return envelope


def _text(value: str) -> str:
    """XML character data as lxml writes it (control characters never reach here: names and
    IDs are validated without them)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        "\r", "&#13;"
    )


def _head(cw: ConnectWise, password: str, operation: str) -> str:
    """An envelope's start up to the managementSolutionName every call carries."""
    s = cw.settings
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Body>'
        f'<ns0:{operation} xmlns:ns0="{NAMESPACE}"><ns0:credentials>'
        f"<ns0:CompanyId>{_text(cw.company_id)}</ns0:CompanyId>"
        f"<ns0:IntegratorLoginId>{_text(s.integrator_username)}</ns0:IntegratorLoginId>"
        f"<ns0:IntegratorPassword>{_text(password)}</ns0:IntegratorPassword>"
        "</ns0:credentials>"
        f"<ns0:managementSolutionName>{_text(s.management_it_name)}</ns0:managementSolutionName>"
    )


def _tail(operation: str) -> str:
    return f"</ns0:{operation}></soap-env:Body></soap-env:Envelope>"


def preflight_body(cw: ConnectWise, password: str, operation: str) -> bytes:
    """GetManagementItSetupsName or GetManagedGroup (which also names the setup), written as
    zeep serializes them from the WSDL (a test checks it)."""
    extra = ""
    if operation == "GetManagedGroup":
        name = _text(cw.settings.management_it_name)
        extra = f"<ns0:managementItSetupName>{name}</ns0:managementItSetupName>"
    return (_head(cw, password, operation) + extra + _tail(operation)).encode("utf-8")


def update_body(cw: ConnectWise, password: str, devices: list[UsageRecord]) -> bytes:
    """The same envelope as update_envelope(), written directly as bytes: ~10x cheaper than
    building the tree, and byte-for-byte what lxml would serialize (a test checks it)."""
    kind = _text(cw.settings.backup_stats_name)
    parts = [_head(cw, password, "UpdateManagedDevices"), "<ns0:managedDevices>"]
    for d in devices:
        key = _text(d.key)
        parts.append(
            f"<ns0:ManagedDevice><ns0:Type>{kind}</ns0:Type>"
            f"<ns0:ManagedIdentifier>{key}</ns0:ManagedIdentifier><ns0:Device>"
            f"<ns0:DeviceName>rCloud Backup - {_text(d.client)}</ns0:DeviceName>"
            f"<ns0:DeviceIdentifier>{_text(device_identifier(d.key))}</ns0:DeviceIdentifier>"
            f"<ns0:BackupBillableSpaceGb>{d.billable_gb:f}</ns0:BackupBillableSpaceGb>"
            f"<ns0:BackupYear>{d.period.year}</ns0:BackupYear>"
            f"<ns0:BackupMonth>{d.period.month}</ns0:BackupMonth>"
            "</ns0:Device></ns0:ManagedDevice>"
        )
    parts.append("</ns0:managedDevices>" + _tail("UpdateManagedDevices"))
    return "".join(parts).encode("utf-8")
