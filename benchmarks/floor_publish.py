"""The floor of a publish on this stack: what any client must do for it, and nothing else.

    python floor_publish.py URL mapping.csv usage.csv

The same imports as cwpublish (click, yaml, keyring, requests, lxml), the password from the
keyring, the usage CSV read, the two pre-flight calls, then UpdateManagedDevices in batches of
200, two in flight, every answer parsed, a line printed per client. No config, validation,
state, duplicate guard, history or retries: no tool can be faster than this against the same
simulator, so naive/floor is the best ratio any implementation on this stack can reach.
"""

import csv
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import click  # noqa: F401 - imported because every CLI on this stack imports it
import keyring
import requests
import yaml  # noqa: F401 - as above: the config is YAML
from lxml import etree

NS, ENV = "http://connectwise.com", "http://schemas.xmlsoap.org/soap/envelope/"
url, mapping, usage = sys.argv[1:4]
endpoint = f"{url}/v4_6_release/apis/2.0/ManagedDeviceApi.asmx"
password = keyring.get_password("cwpublish", "connectwise:bench")
with open(usage, newline="", encoding="utf-8") as f:
    gb = {row["client"]: Decimal(row["billable_gb"]) for row in csv.DictReader(f)}
with open(mapping, newline="", encoding="utf-8") as f:
    clients = [(row["client"], row["managed_id"]) for row in csv.DictReader(f)]
session = requests.Session()
login = (
    "<ns0:credentials><ns0:CompanyId>bench</ns0:CompanyId><ns0:IntegratorLoginId>rcloud"
    f"</ns0:IntegratorLoginId><ns0:IntegratorPassword>{password}</ns0:IntegratorPassword>"
    "</ns0:credentials><ns0:managementSolutionName>rCloud Backup</ns0:managementSolutionName>"
)


def call(operation: str, inner: str = ""):
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><soap-env:Envelope xmlns:soap-env="{ENV}">'
        f'<soap-env:Body><ns0:{operation} xmlns:ns0="{NS}">{login}{inner}</ns0:{operation}>'
        "</soap-env:Body></soap-env:Envelope>"
    ).encode()
    headers = {"SOAPAction": f'"{NS}/{operation}"', "Content-Type": "text/xml; charset=utf-8"}
    response = session.post(endpoint, data=body, headers=headers, timeout=30)
    if response.status_code != 200:
        sys.exit(f"{operation}: HTTP {response.status_code}")
    return etree.fromstring(response.content)


def batch(chunk: list) -> None:
    devices = "".join(
        f"<ns0:ManagedDevice><ns0:Type>Backup Stats</ns0:Type><ns0:ManagedIdentifier>{m}"
        f"</ns0:ManagedIdentifier><ns0:Device><ns0:DeviceName>rCloud Backup - {n}"
        f"</ns0:DeviceName><ns0:DeviceIdentifier>rcloud-{m}</ns0:DeviceIdentifier>"
        f"<ns0:BackupBillableSpaceGb>{gb[n]}</ns0:BackupBillableSpaceGb><ns0:BackupYear>2026"
        "</ns0:BackupYear><ns0:BackupMonth>11</ns0:BackupMonth></ns0:Device></ns0:ManagedDevice>"
        for n, m in chunk
    )
    answer = call("UpdateManagedDevices", f"<ns0:managedDevices>{devices}</ns0:managedDevices>")
    if answer.findtext(f".//{{{NS}}}UpdateManagedDevicesResult"):
        sys.exit("a batch was refused")


with ThreadPoolExecutor(2) as pool:
    setup = pool.submit(call, "GetManagementItSetupsName")
    groups = call("GetManagedGroup", "<ns0:managementItSetupName>rCloud Backup"
                  "</ns0:managementItSetupName>")
    setup.result()
known = {el.text for el in groups.iter(f"{{{NS}}}GroupIdentifier")}
assert all(m in known for _, m in clients)
with ThreadPoolExecutor(2) as pool:
    list(pool.map(batch, [clients[i : i + 200] for i in range(0, len(clients), 200)]))
print("\n".join(f"{n}  {m}  {gb[n]}  published" for n, m in clients))
