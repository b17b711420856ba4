"""The SOAP envelopes follow the reference page: namespace, SOAPAction and exact field order.

The field lists below are copied from connectwise-managed-device-api.md, independently of the
WSDL and the simulator, so a change to either that breaks the wire order fails here.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from cwpublish.config.model import ConnectWise
from cwpublish.domain.period import Period
from cwpublish.domain.record import UsageRecord
from cwpublish.targets.connectwise_soap.client import ConnectWiseClient, bundled_wsdl
from cwpublish.targets.connectwise_soap.envelope import (
    preflight_body,
    update_body,
    update_envelope,
)
from cwpublish.targets.connectwise_soap.settings import SoapSettings

NS = "http://connectwise.com"
XS = "http://www.w3.org/2001/XMLSchema"
REFERENCE = {
    "ApiCredentials": "CompanyId IntegratorLoginId IntegratorPassword",
    "ManagedDevice": "Type Level ManagedIdentifier CompanyId CompanyIdentifier Device Billing",
    "DeviceInfo": (
        "ConfigurationTypeId DeviceName DeviceIdentifier MacAddress InstallDate InstalledBy "
        "SerialNumber ModelNumber LastLoginName BillFlag BackupSuccesses BackupIncomplete "
        "BackupFailed BackupRestores LastBackupDate BackupServerName BackupBillableSpaceGb "
        "BackupProtectedDeviceList BackupYear BackupMonth VendorNotes IPAddress DefaultGateway "
        "OSType OSInfo CPUSpeed RAM LocalHardDrives IsActive ManagementLink RemoteLink "
        "PurchaseDate WarrantyExpiration TagNumber Answers AddressId LocationId BusinessUnitId "
        "ContactId ParentConfigurationId SlaName VendorCompany ManufacturerCompany"
    ),
    "BillingInfo": (
        "ProductId AgreementTypeId SerialNumber Quantity BillingDate CancelDate "
        "BillingDescription SiteId Price Cost"
    ),
    "ManagedGroup": "DeviceType GroupIdentifier",
}
REQUESTS = {
    "GetManagementItSetupsName": "credentials managementSolutionName",
    "GetManagedGroup": "credentials managementSolutionName managementItSetupName",
    "UpdateManagedDevices": "credentials managementSolutionName managedDevices",
}


def _names(seq) -> list[str]:
    return [el.get("name") for el in seq.iterfind(f"{{{XS}}}element")]


def test_bundled_wsdl_types_have_the_reference_field_order():
    doc = etree.parse(bundled_wsdl())
    schema = doc.find(f".//{{{XS}}}schema")
    assert schema.get("targetNamespace") == NS and schema.get("elementFormDefault") == "qualified"
    for type_name, fields in REFERENCE.items():
        seq = schema.find(f"{{{XS}}}complexType[@name='{type_name}']/{{{XS}}}sequence")
        assert _names(seq) == fields.split(), type_name
    for op, fields in REQUESTS.items():
        seq = schema.find(f"{{{XS}}}element[@name='{op}']/{{{XS}}}complexType/{{{XS}}}sequence")
        assert _names(seq) == fields.split(), op
    actions = {
        el.getparent().get("name"): el.get("soapAction")
        for el in doc.iter("{http://schemas.xmlsoap.org/wsdl/soap/}operation")
    }
    assert actions == {op: f"http://connectwise.com/{op}" for op in REQUESTS}


def _is_subsequence(sent: list[str], order: list[str]) -> bool:
    positions = [order.index(name) for name in sent]
    return positions == sorted(positions) and len(set(positions)) == len(positions)


CW = ConnectWise(
    site="https://cw.example.com",
    company_id="acme",
    settings=SoapSettings(
        integrator_username="rcloud",
        management_it_name="rCloud Backup",
        backup_stats_name="Backup Stats",
    ),
)
DEVICES = [
    UsageRecord(
        'Law <Office> & "Smith" Ünïcode', "LAWSMITH", Decimal("1250.46"), Period(2026, 11)
    ),
    UsageRecord("Contoso", "CONTOSO-01", Decimal("0.00"), Period(2026, 11)),
]


def zeep_envelope():
    """The same call serialized by zeep from the bundled WSDL (the reference)."""
    client = ConnectWiseClient(CW, "pw")
    devices = [
        {
            "Type": "Backup Stats",
            "ManagedIdentifier": d.key,
            "Device": {
                "DeviceName": f"rCloud Backup - {d.client}",
                "DeviceIdentifier": f"rcloud-{d.key}",
                "BackupBillableSpaceGb": d.billable_gb,
                "BackupYear": d.period.year,
                "BackupMonth": d.period.month,
            },
        }
        for d in DEVICES
    ]
    zeep_client, service = client.zeep()
    return zeep_client.create_message(
        service,
        "UpdateManagedDevices",
        credentials=client.credentials(),
        managementSolutionName="rCloud Backup",
        managedDevices={"ManagedDevice": devices},
    )


def test_fast_envelope_equals_zeeps_serialization():
    ours = etree.tostring(update_envelope(CW, "pw", DEVICES), method="c14n")
    theirs = etree.tostring(zeep_envelope(), method="c14n")
    assert ours == theirs


def test_update_envelope_is_in_wire_order_with_the_backup_stats():
    envelope = update_envelope(CW, "pw", DEVICES[:1])
    body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    op = body[0]
    assert op.tag == f"{{{NS}}}UpdateManagedDevices"
    assert [etree.QName(c).localname for c in op] == REQUESTS["UpdateManagedDevices"].split()
    creds = op.find(f"{{{NS}}}credentials")
    assert [etree.QName(c).localname for c in creds] == REFERENCE["ApiCredentials"].split()
    md = op.find(f"{{{NS}}}managedDevices/{{{NS}}}ManagedDevice")
    md_fields = [etree.QName(c).localname for c in md]
    assert _is_subsequence(md_fields, REFERENCE["ManagedDevice"].split())
    device = md.find(f"{{{NS}}}Device")
    dev_fields = [etree.QName(c).localname for c in device]
    assert _is_subsequence(dev_fields, REFERENCE["DeviceInfo"].split())
    values = {etree.QName(c).localname: c.text for c in device}
    assert values["BackupBillableSpaceGb"] == "1250.46"
    assert values["BackupYear"] == "2026" and values["BackupMonth"] == "11"
    assert values["DeviceName"] == 'rCloud Backup - Law <Office> & "Smith" Ünïcode'
    assert md.findtext(f"{{{NS}}}Type") == "Backup Stats"
    assert md.findtext(f"{{{NS}}}ManagedIdentifier") == "LAWSMITH"
    assert all(etree.QName(el).namespace == NS for el in op.iter() if isinstance(el.tag, str))


def test_the_byte_body_is_exactly_what_lxml_serializes():
    """update_body (what is sent) writes bytes directly; they must equal lxml's serialization
    of update_envelope, which the test above proves equal to zeep's, for hostile text too."""
    from zeep.wsdl.utils import etree_to_string

    hostile = ConnectWise(
        site="https://cw.example.com",
        company_id="a&b<c>",
        settings=SoapSettings(
            integrator_username='u"<&>', management_it_name="rC >", backup_stats_name="B&S"
        ),
    )
    devices = [*DEVICES, UsageRecord("Tab\tCR\rname", "K'1", Decimal("1.10"), Period(2026, 1))]
    for cw in (CW, hostile):
        assert update_body(cw, "p&w<>\"'", devices) == etree_to_string(
            update_envelope(cw, "p&w<>\"'", devices)
        )


def test_the_preflight_bodies_are_exactly_zeeps_serialization():
    """The two pre-flight calls are written from templates too (zeep is then not loaded on a
    publish that meets no fault); they must equal what zeep writes from the WSDL."""
    from zeep.wsdl.utils import etree_to_string

    hostile = ConnectWise(
        site="https://cw.example.com",
        company_id="a&b<c>",
        settings=SoapSettings(
            integrator_username='u"<&>', management_it_name="rC > & Ü", backup_stats_name="B"
        ),
    )
    for cw in (CW, hostile):
        client = ConnectWiseClient(cw, "p&w<>\"'")
        zeep_client, service = client.zeep()
        name = cw.settings.management_it_name
        calls = {
            "GetManagementItSetupsName": {},
            "GetManagedGroup": {"managementItSetupName": name},
        }
        for operation, extra in calls.items():
            theirs = zeep_client.create_message(
                service,
                operation,
                credentials=client.credentials(),
                managementSolutionName=name,
                **extra,
            )
            assert preflight_body(cw, "p&w<>\"'", operation) == etree_to_string(theirs)
