"""Building UpdateManagedDevices bodies: cwpublish's builder vs plain lxml (the floor).

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

from cwpublish.config import ConnectWise
from cwpublish.period import Period
from cwpublish.targets.base import UsageRecord
from cwpublish.targets.connectwise_soap.client import ConnectWiseClient
from cwpublish.targets.connectwise_soap.envelope import update_envelope
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
    return etree.tostring(update_envelope(CW, "pw", devices))


ZEEP = ConnectWiseClient(CW, "pw")


def zeep_generic(devices: list[UsageRecord]) -> bytes:
    client = ZEEP
    env = client._client.create_message(
        client._service, "UpdateManagedDevices", credentials=client.credentials(),
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
    assert etree.tostring(etree.fromstring(ours(DEVICES[:3])), method="c14n") == \
        etree.tostring(etree.fromstring(plain_lxml(DEVICES[:3])), method="c14n")
    samples: dict[str, list[float]] = {"ours": [], "lxml": [], "zeep": []}
    for _ in range(rounds):
        samples["ours"].append(timed(ours))
        samples["lxml"].append(timed(plain_lxml))
    for _ in range(3):
        samples["zeep"].append(timed(zeep_generic))
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"build {len(DEVICES)} devices in batches of {BATCH} (median of {rounds} rounds)")
    print(f"  {'cwpublish update_envelope':<30} {med['ours'] * 1000:8.1f} ms")
    print(f"  {'plain lxml (floor)':<30} {med['lxml'] * 1000:8.1f} ms")
    print(f"  {'zeep serializer (reference)':<30} {med['zeep'] * 1000:8.1f} ms")
    ratio = med["ours"] / med["lxml"]
    print(f"  {verdict(ratio, TARGET, False)}")
    return ratio <= TARGET


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
