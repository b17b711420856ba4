"""Building UpdateManagedDevices bodies: cwpublish's builder vs an escaped string template
(the floor); a plain lxml tree and zeep's serializer are shown for reference.

In-process, same data, alternating, median of rounds. zeep's generic serializer of the same
call is shown for reference (it is what cwpublish avoided for the device array).
"""

from __future__ import annotations

import statistics
import sys
import time
from decimal import Decimal

from common import verdict
from lxml import etree

from cwpublish.config.model import ConnectWise
from cwpublish.domain.period import Period
from cwpublish.domain.record import UsageRecord
from cwpublish.targets.connectwise_soap.client import ConnectWiseClient
from cwpublish.targets.connectwise_soap.envelope import update_body
from cwpublish.targets.connectwise_soap.settings import SoapSettings

TARGET = 1.5
NS = "http://connectwise.com"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
CW = ConnectWise(site="https://cw.example.com", company_id="bench",
                 settings=SoapSettings(integrator_username="rcloud",
                                       management_it_name="rCloud Backup",
                                       backup_stats_name="Backup Stats"))
DEVICES = [UsageRecord(f"Client {i:05d}", f"MID-{i:05d}", Decimal(f"{i % 5000}.25"),
                        Period(2026, 11)) for i in range(5000)]
BATCH = 200


def plain_lxml(devices: list[UsageRecord]) -> bytes:
    """The same envelope written directly with lxml: the floor."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap-env": SOAP})
    op = etree.SubElement(etree.SubElement(env, f"{{{SOAP}}}Body"),
                          f"{{{NS}}}UpdateManagedDevices", nsmap={"ns0": NS})
    creds = etree.SubElement(op, f"{{{NS}}}credentials")
    for name, value in (("CompanyId", "bench"), ("IntegratorLoginId", "rcloud"),
                        ("IntegratorPassword", "pw")):
        etree.SubElement(creds, f"{{{NS}}}{name}").text = value
    etree.SubElement(op, f"{{{NS}}}managementSolutionName").text = "rCloud Backup"
    array = etree.SubElement(op, f"{{{NS}}}managedDevices")
    for d in devices:
        md = etree.SubElement(array, f"{{{NS}}}ManagedDevice")
        etree.SubElement(md, f"{{{NS}}}Type").text = "Backup Stats"
        etree.SubElement(md, f"{{{NS}}}ManagedIdentifier").text = d.key
        dev = etree.SubElement(md, f"{{{NS}}}Device")
        etree.SubElement(dev, f"{{{NS}}}DeviceName").text = f"rCloud Backup - {d.client}"
        etree.SubElement(dev, f"{{{NS}}}DeviceIdentifier").text = f"rcloud-{d.key}"
        etree.SubElement(dev, f"{{{NS}}}BackupBillableSpaceGb").text = str(d.billable_gb)
        etree.SubElement(dev, f"{{{NS}}}BackupYear").text = str(d.period.year)
        etree.SubElement(dev, f"{{{NS}}}BackupMonth").text = str(d.period.month)
    return etree.tostring(env)


def ours(devices: list[UsageRecord]) -> bytes:
    return update_body(CW, "pw", devices)


def template(devices: list[UsageRecord]) -> bytes:
    """The floor: the same envelope as one escaped string template, nothing else."""
    from xml.sax.saxutils import escape

    rows = "".join(
        f"<ns0:ManagedDevice><ns0:Type>Backup Stats</ns0:Type><ns0:ManagedIdentifier>"
        f"{escape(d.key)}</ns0:ManagedIdentifier><ns0:Device><ns0:DeviceName>rCloud Backup - "
        f"{escape(d.client)}</ns0:DeviceName><ns0:DeviceIdentifier>rcloud-{escape(d.key)}"
        f"</ns0:DeviceIdentifier><ns0:BackupBillableSpaceGb>{d.billable_gb}"
        f"</ns0:BackupBillableSpaceGb><ns0:BackupYear>{d.period.year}</ns0:BackupYear>"
        f"<ns0:BackupMonth>{d.period.month}</ns0:BackupMonth></ns0:Device></ns0:ManagedDevice>"
        for d in devices
    )
    return (
        f'<soap-env:Envelope xmlns:soap-env="{SOAP}"><soap-env:Body><ns0:UpdateManagedDevices '
        f'xmlns:ns0="{NS}"><ns0:credentials><ns0:CompanyId>bench</ns0:CompanyId>'
        "<ns0:IntegratorLoginId>rcloud</ns0:IntegratorLoginId><ns0:IntegratorPassword>pw"
        "</ns0:IntegratorPassword></ns0:credentials><ns0:managementSolutionName>rCloud Backup"
        f"</ns0:managementSolutionName><ns0:managedDevices>{rows}</ns0:managedDevices>"
        "</ns0:UpdateManagedDevices></soap-env:Body></soap-env:Envelope>"
    ).encode()


ZEEP = ConnectWiseClient(CW, "pw")


def zeep_generic(devices: list[UsageRecord]) -> bytes:
    client = ZEEP
    zeep_client, service = client.zeep()
    env = zeep_client.create_message(
        service, "UpdateManagedDevices", credentials=client.credentials(),
        managementSolutionName="rCloud Backup", managedDevices={"ManagedDevice": [
            {"Type": "Backup Stats", "ManagedIdentifier": d.key,
             "Device": {"DeviceName": f"rCloud Backup - {d.client}",
                        "DeviceIdentifier": f"rcloud-{d.key}",
                        "BackupBillableSpaceGb": d.billable_gb, "BackupYear": d.period.year,
                        "BackupMonth": d.period.month}} for d in devices]})
    return etree.tostring(env)


def timed(build) -> float:
    start = time.perf_counter()
    for i in range(0, len(DEVICES), BATCH):
        build(DEVICES[i:i + BATCH])
    return time.perf_counter() - start


def main(rounds: int = 9) -> bool:
    def same(a: bytes, b: bytes) -> bool:
        return etree.tostring(etree.fromstring(a), method="c14n") == etree.tostring(
            etree.fromstring(b), method="c14n")

    assert same(ours(DEVICES[:3]), plain_lxml(DEVICES[:3]))
    assert same(ours(DEVICES[:3]), template(DEVICES[:3]))
    samples: dict[str, list[float]] = {"ours": [], "template": [], "lxml": [], "zeep": []}
    for _ in range(rounds):
        samples["ours"].append(timed(ours))
        samples["template"].append(timed(template))
        samples["lxml"].append(timed(plain_lxml))
    for _ in range(3):
        samples["zeep"].append(timed(zeep_generic))
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"build {len(DEVICES)} devices in batches of {BATCH} (median of {rounds} rounds)")
    print(f"  {'cwpublish update_body':<30} {med['ours'] * 1000:8.1f} ms")
    print(f"  {'escaped string template (floor)':<30} {med['template'] * 1000:8.1f} ms")
    print(f"  {'plain lxml tree (reference)':<30} {med['lxml'] * 1000:8.1f} ms")
    print(f"  {'zeep serializer (reference)':<30} {med['zeep'] * 1000:8.1f} ms")
    ratio = med["ours"] / med["template"]
    print(f"  {verdict(ratio, TARGET, False)}")
    return ratio <= TARGET


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
