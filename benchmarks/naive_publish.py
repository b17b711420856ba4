"""What a user would write by hand: zeep with the live WSDL, one call per client.

    python naive_publish.py URL PASSWORD mapping.csv   (client,managed_id,billable_gb)
"""

import csv
import sys

import zeep

url, password, mapping = sys.argv[1:4]
client = zeep.Client(f"{url}/v4_6_release/apis/2.0/ManagedDeviceApi.asmx?wsdl")
credentials = {"CompanyId": "bench", "IntegratorLoginId": "rcloud",
               "IntegratorPassword": password}
with open(mapping, newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        error = client.service.UpdateManagedDevices(
            credentials=credentials, managementSolutionName="rCloud Backup",
            managedDevices={"ManagedDevice": [{
                "Type": "Backup Stats", "ManagedIdentifier": row["managed_id"],
                "Device": {"DeviceName": row["client"], "DeviceIdentifier": row["managed_id"],
                           "BackupBillableSpaceGb": float(row["billable_gb"]),
                           "BackupYear": 2026, "BackupMonth": 11}}]})
        if error:
            sys.exit(f"{row['client']}: {error}")
