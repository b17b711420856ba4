"""What a user would write by hand over REST: per client, look up the company, look up its
configuration, patch it, one request at a time (keep-alive session, as requests gives).

    python naive_rest.py BASE_URL AUTH_HEADER CLIENT_ID mapping.csv  (client,company,billable_gb)
"""

import csv
import sys

import requests

base, auth, client_id, mapping = sys.argv[1:5]
session = requests.Session()
session.headers.update({"Authorization": auth, "clientId": client_id,
                        "Accept": "application/vnd.connectwise.com+json; version=2025.1"})
with open(mapping, newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        [company] = session.get(f"{base}/company/companies", params={
            "conditions": f'identifier="{row["company"]}"'}).json()
        [config] = session.get(f"{base}/company/configurations", params={
            "conditions": f'deviceIdentifier="rcloud-{row["company"]}" and '
                          f'company/id={company["id"]}'}).json()
        r = session.patch(f"{base}/company/configurations/{config['id']}", json=[
            {"op": "replace", "path": "backupBillableSpaceGb", "value": float(row["billable_gb"])},
            {"op": "replace", "path": "backupYear", "value": 2026},
            {"op": "replace", "path": "backupMonth", "value": 11}])
        r.raise_for_status()
