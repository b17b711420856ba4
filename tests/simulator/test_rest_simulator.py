"""The simulator's REST API v3.0 side, over real HTTP on loopback: ConnectWise's rules, strictly."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest

from cwpublish.simulator import SimulatorServer, format_configuration_tab

PRIVATE = "Priv-Key-9f8e7d"  # must never show up in /_sim/state
CLIENT_ID = "5d1d8b5e-6a43-4a4f-9a38-2b8f1f5c9a01"
BASE = "/v4_6_release/apis/3.0"
ACCEPT = "application/vnd.connectwise.com+json; version=2025.1"


def _tenant(company_id: str, companies: list[dict], **rest: Any) -> dict:
    return {
        "company_id": company_id,
        "integrator_username": "rcloud",
        "integrator_password": "soap-secret",
        "management_it_names": ["rCloud Backup"],
        "companies": companies,
        "rest": {"public_key": "Pub123", "private_key": PRIVATE, "client_ids": [CLIENT_ID],
                 **rest},
    }


ACME = _tenant(
    "acme",
    [
        {"name": "Law Office of R. Smith", "managed_id": "LAWSMITH", "device_type": "Backup Stats"},
        {"name": "Contoso Dental", "managed_id": "CONTOSO-01", "device_type": "Backup Stats"},
        {"name": "Old Client", "managed_id": "OLD", "identifier": "OLDCO", "deleted": True},
    ],
    configuration_types=["Backup Stats", "Server"],
    catalog=[{"identifier": "RCLOUD-GB", "description": "rCloud backup GB"},
             {"identifier": "LEGACY-GB", "inactive": True}],
    agreements=[
        {"company": "LAWSMITH", "name": "Backup 2026", "type": "Managed Services",
         "additions": [{"product": "RCLOUD-GB", "quantity": 10, "status": "Active"}]},
        {"company": "CONTOSO-01", "name": "Old deal", "status": "Cancelled"},
        {"company": "CONTOSO-01", "name": "Backup 2026", "type": "Managed Services"},
    ],
    configurations=[{"company": "LAWSMITH", "type": "Backup Stats", "name": "rCloud LAWSMITH",
                     "device_identifier": "rcloud-LAWSMITH", "backup_billable_space_gb": 1,
                     "backup_year": 2026, "backup_month": 1}],
)
BIG = _tenant("big", [{"name": f"Client {i}", "managed_id": f"C{i:05d}"} for i in range(1200)])
LIMITED = _tenant("limited", [{"name": "X", "managed_id": "X"}], permissions=["company", "system"])
SOAP_ONLY = {"company_id": "soaponly", "integrator_username": "u", "integrator_password": "p",
             "companies": []}


@pytest.fixture(scope="module")
def running():
    srv = SimulatorServer({"tenants": [ACME, BIG, LIMITED, SOAP_ONLY]}).start()
    yield srv
    srv.stop()


@pytest.fixture
def server(running):
    """The module's simulator, reset: fresh data, no requests, no faults."""
    control(running, "reset")
    return running


def auth(company: str = "acme", public: str = "Pub123", private: str = PRIVATE) -> str:
    return "Basic " + base64.b64encode(f"{company}+{public}:{private}".encode()).decode()


def call(server, method: str, path: str, body: Any = None, headers: dict | None = None,
         company: str = "acme", raw: bytes | None = None) -> tuple[int, Any, Any]:
    """(status, headers, JSON or text) of one request; `headers` values of None are left out."""
    sent = {"Authorization": auth(company), "clientId": CLIENT_ID, "Accept": ACCEPT}
    if body is not None:
        sent["Content-Type"] = "application/json"
    sent.update(headers or {})
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, method=method,
                                 headers={k: v for k, v in sent.items() if v is not None})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, got, text = resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, got, text = e.code, e.headers, e.read().decode()
    try:
        return status, got, json.loads(text)
    except ValueError:
        return status, got, text


def api(server, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, Any]:
    return call(server, method, BASE + path, body, **kw)


def state(server) -> dict:
    with urllib.request.urlopen(f"{server.url}/_sim/state", timeout=5) as r:
        return json.load(r)


def control(server, what: str, payload: Any = None) -> None:
    req = urllib.request.Request(f"{server.url}/_sim/{what}", method="POST",
                                 data=json.dumps(payload).encode() if payload else b"")
    urllib.request.urlopen(req, timeout=5).close()


def cond(text: str) -> str:
    return quote(text, safe="")


# -- connection: companyinfo, keys, clientId, Accept, permissions ------------------------------


def test_companyinfo_answers_the_codebase_without_auth(server):
    status, _, body = call(server, "GET", "/login/companyinfo/ACME", headers={
        "Authorization": None, "clientId": None, "Accept": None})
    assert status == 200
    assert body["Codebase"] == "v4_6_release/" and body["CompanyID"] == "acme"
    assert body["VersionCode"] == "v2025.1" and body["IsCloud"] is False
    for unknown in ("nobody", "soaponly"):
        status, _, body = call(server, "GET", f"/login/companyinfo/{unknown}")
        assert status == 404 and body["code"] == "NotFound"


def test_system_info_needs_the_right_keys_and_a_registered_client_id(server):
    status, _, body = api(server, "GET", "/system/info")
    assert status == 200 and body["version"].startswith("v2025.1.")
    assert body["isCloud"] is False and body["cloudRegion"] is None
    for bad in (auth(private="wrong"), auth(public="nope"), auth(company="other"), "Bearer x"):
        status, headers, body = api(server, "GET", "/system/info", headers={"Authorization": bad})
        assert (status, body["code"]) == (401, "Unauthorized")
        assert PRIVATE not in json.dumps(body)
    status, _, body = api(server, "GET", "/system/info", headers={"Authorization": None})
    assert status == 401
    status, _, body = api(server, "GET", "/system/info", headers={"clientId": None})
    assert status == 401 and "clientId" in body["message"]
    status, _, body = api(server, "GET", "/system/info", headers={"clientId": "not-registered"})
    assert status == 401 and "clientId" in body["message"]


def test_accept_pins_a_version_the_site_serves(server):
    old = "application/vnd.connectwise.com+json; version=2019.1"
    status, _, body = api(server, "GET", "/system/info", headers={"Accept": old})
    assert status == 400 and "2019.1" in body["message"]
    assert api(server, "GET", "/system/info", headers={
        "Accept": "application/vnd.connectwise.com+json; version=2026.4"})[0] == 200
    assert api(server, "GET", "/system/info", headers={"Accept": "application/json"})[0] == 200
    assert api(server, "GET", "/system/info", headers={"Accept": "text/xml"})[0] == 406
    accepts = [r["accept"] for r in state(server)["requests"] if r.get("api") == "rest"]
    assert accepts[0].endswith("version=2019.1") and accepts[1].endswith("version=2026.4")


def test_a_missing_permission_is_403_naming_the_area(server):
    status, _, body = api(server, "GET", "/finance/agreements", company="limited")
    assert status == 403 and "finance" in body["message"]
    assert api(server, "GET", "/company/companies", company="limited")[0] == 200


def test_wrong_codebase_unknown_endpoint_and_wrong_method(server):
    assert call(server, "GET", "/v2099_1/apis/3.0/system/info")[0] == 404
    status, _, body = api(server, "GET", "/company/nothing")
    assert status == 404 and body["code"] == "NotFound"
    status, headers, body = api(server, "DELETE", "/company/configurations/1000")
    assert status == 405 and headers["Allow"] == "GET, PATCH"
    assert api(server, "GET", "/company/companies/99999")[0] == 404


# -- lists: paging, conditions, fields -----------------------------------------------------------


def test_page_size_limits_and_link_header(server):
    status, headers, body = api(server, "GET", "/company/companies?pageSize=1000", company="big")
    assert status == 200 and len(body) == 1000
    assert 'rel="next"' in headers["Link"] and "page=2" in headers["Link"]
    assert 'rel="last"' in headers["Link"]
    status, headers, body = api(server, "GET", "/company/companies?pageSize=1000&page=2",
                                company="big")
    assert len(body) == 200 and 'rel="next"' not in headers.get("Link", "")
    assert 'rel="first"' in headers["Link"]
    for bad in ("1001", "0", "-1", "ten", ""):
        status, _, body = api(server, "GET", f"/company/companies?pageSize={bad}", company="big")
        assert status == 400, bad
    assert len(api(server, "GET", "/company/companies", company="big")[2]) == 25  # the default


def test_forward_only_pagination_follows_page_id(server):
    seen: list[int] = []
    path = BASE + "/company/companies?pageSize=500"
    while path:
        status, headers, body = call(server, "GET", path, company="big",
                                     headers={"pagination-type": "forward-only"})
        assert status == 200
        seen += [c["id"] for c in body]
        link = headers.get("Link", "")
        assert "page=" not in link.replace("pageId=", "").replace("pageSize=", "")
        path = link[link.index(server.url) + len(server.url):link.index(">")] if link else ""
        if path:
            assert f"pageId={body[-1]['id']}" in path
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 1200


def test_conditions_compare_strings_case_insensitively(server):
    status, _, body = api(server, "GET", "/company/companies?conditions="
                          + cond('identifier="lawsmith"'))
    assert status == 200 and [c["identifier"] for c in body] == ["LAWSMITH"]
    body = api(server, "GET", "/company/companies?conditions=" + cond('identifier="LAWSMITH "'))[2]
    assert [c["identifier"] for c in body] == ["LAWSMITH"]  # trailing spaces, as SQL Server
    body = api(server, "GET", "/company/companies?conditions=" + cond('name like "%DENT%"'))[2]
    assert [c["identifier"] for c in body] == ["CONTOSO-01"]
    body = api(server, "GET", "/company/companies?conditions=" + cond('name contains "smith"'))[2]
    assert [c["identifier"] for c in body] == ["LAWSMITH"]


def test_conditions_and_or_parentheses_and_not_in(server):
    text = '(identifier="LAWSMITH" or identifier="OLDCO") and deletedFlag=false'
    body = api(server, "GET", "/company/companies?conditions=" + cond(text))[2]
    assert [c["identifier"] for c in body] == ["LAWSMITH"]
    text = 'identifier="OLDCO" OR identifier="CONTOSO-01" AND deletedFlag=true'  # and binds first
    body = api(server, "GET", "/company/companies?conditions=" + cond(text))[2]
    assert [c["identifier"] for c in body] == ["OLDCO"]
    text = 'identifier not in ("lawsmith", "oldco")'
    body = api(server, "GET", "/company/companies?conditions=" + cond(text))[2]
    assert [c["identifier"] for c in body] == ["CONTOSO-01"]


def test_a_thousand_value_in_list_in_a_long_request_line(server):
    wanted = [f"C{i:05d}" for i in range(0, 1200, 2)][:500]
    values = wanted + [f"NO-SUCH-COMPANY-IDENTIFIER-PADDED-OUT-TO-BE-LONG-{i:05d}"
                       for i in range(500)]
    text = "identifier in (" + ", ".join(f'"{v}"' for v in values) + ")"
    path = f"/company/companies?pageSize=1000&conditions={cond(text)}"
    assert len(values) == 1000 and len(BASE + path) > 40_000
    status, _, body = api(server, "GET", path, company="big")
    assert status == 200 and sorted(c["identifier"] for c in body) == wanted


def test_nested_fields_reach_into_objects(server):
    text = 'company/identifier="LAWSMITH" and type/name like "backup%"'
    status, _, body = api(server, "GET", "/company/configurations?conditions=" + cond(text))
    assert status == 200 and [c["deviceIdentifier"] for c in body] == ["rcloud-LAWSMITH"]
    body = api(server, "GET", "/finance/agreements?conditions=" + cond(
        'company/identifier="contoso-01" and agreementStatus="Active"'))[2]
    assert [a["name"] for a in body] == ["Backup 2026"] and body[0]["cancelledFlag"] is False
    additions = api(server, "GET", f"/finance/agreements/{body[0]['id'] - 2}/additions"
                    "?conditions=" + cond('product/identifier="rcloud-gb"'))[2]
    assert [a["quantity"] for a in additions] == [10]


@pytest.mark.parametrize("text", [
    'identifier = ', 'identifier == "A"', 'identifier="A" and', '(identifier="A"',
    'nosuchfield="A"', 'id="250"', 'identifier=250', 'identifier="unterminated',
    'identifier in ()', 'deletedFlag > true',
])
def test_a_bad_condition_is_400_invalid_object(server, text):
    status, _, body = api(server, "GET", "/company/companies?conditions=" + cond(text))
    assert status == 400 and body["code"] == "InvalidObject" and body["message"]


def test_fields_trims_objects_and_ignores_unknown_names(server):
    status, _, body = api(server, "GET", "/company/companies?fields=id,identifier,bogus")
    assert status == 200 and all(set(c) == {"id", "identifier"} for c in body)
    body = api(server, "GET", "/company/configurations?fields=id,company/identifier")[2]
    assert body == [{"id": body[0]["id"], "company": {"identifier": "LAWSMITH"}}]
    one = api(server, "GET", f"/company/configurations/{body[0]['id']}?fields=backupYear")[2]
    assert one == {"backupYear": 2026}


def test_order_by_and_count(server):
    body = api(server, "GET", "/company/companies?orderBy=" + quote("identifier desc"))[2]
    assert [c["identifier"] for c in body] == ["OLDCO", "LAWSMITH", "CONTOSO-01"]
    assert api(server, "GET", "/company/companies?orderBy=bogus")[0] == 400
    body = api(server, "GET", "/company/companies/count?conditions=" + cond("deletedFlag=false"))[2]
    assert body == {"count": 2}


# -- configurations: POST and PATCH ------------------------------------------------------------


def _types(server) -> dict[str, int]:
    return {t["name"]: t["id"] for t in api(server, "GET", "/company/configurations/types")[2]}


def test_post_configuration_requires_name_type_and_company(server):
    status, _, body = api(server, "POST", "/company/configurations", {})
    assert status == 400 and body["code"] == "InvalidObject"
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("name", "NullValue"), ("type", "NullValue"), ("company", "NullValue")}
    assert all(e["resource"] == "configuration" for e in body["errors"])
    bad = {"name": "x", "type": {"name": "No Such Type"}, "company": {"identifier": "OLDCO"},
           "backupMonth": 13, "backupYear": "2026", "backupBillableSpaceGb": "12"}
    status, _, body = api(server, "POST", "/company/configurations", bad)
    assert status == 400
    assert {e["field"] for e in body["errors"]} == {
        "type", "company", "backupMonth", "backupYear", "backupBillableSpaceGb"}
    assert "deleted" in json.dumps(body)


def test_post_configuration_creates_it(server):
    good = {"name": "rCloud CONTOSO", "type": {"id": _types(server)["Backup Stats"]},
            "company": {"identifier": "contoso-01"}, "deviceIdentifier": "rcloud-CONTOSO-01",
            "backupBillableSpaceGb": 310.5, "backupYear": 2026, "backupMonth": 2}
    status, headers, body = api(server, "POST", "/company/configurations", good)
    assert status == 201 and body["company"]["identifier"] == "CONTOSO-01"
    assert body["type"]["name"] == "Backup Stats" and body["backupBillableSpaceGb"] == 310.5
    assert headers["Location"].endswith(f"/company/configurations/{body['id']}")
    assert api(server, "GET", f"/company/configurations/{body['id']}")[2] == body
    held = state(server)["rest"]["acme"]["CONTOSO-01"]["configurations"]
    assert held == [{"id": body["id"], "name": "rCloud CONTOSO", "type": "Backup Stats",
                     "deviceIdentifier": "rcloud-CONTOSO-01", "backupBillableSpaceGb": 310.5,
                     "backupYear": 2026, "backupMonth": 2}]


def test_patch_configuration_applies_json_patch_all_or_nothing(server):
    config = api(server, "GET", "/company/configurations")[2][0]
    path = f"/company/configurations/{config['id']}"
    ops = [{"op": "replace", "path": "/backupBillableSpaceGb", "value": 42.5},
           {"op": "replace", "path": "backupMonth", "value": 2}]
    status, _, body = api(server, "PATCH", path, ops)
    assert status == 200 and (body["backupBillableSpaceGb"], body["backupMonth"]) == (42.5, 2)
    for bad in ([{"op": "replace", "path": "backupMonth", "value": 3},
                 {"op": "replace", "path": "nope", "value": 1}],
                [{"op": "replace", "path": "backupYear", "value": "2027"}],
                [{"op": "move", "path": "backupYear", "from": "x"}],
                [{"op": "remove", "path": "name"}],
                {"op": "replace", "path": "backupMonth", "value": 3}):
        status, _, body = api(server, "PATCH", path, bad)
        assert status == 400 and body["code"] == "InvalidObject", bad
    assert api(server, "GET", path)[2]["backupMonth"] == 2  # nothing of a bad patch applied
    assert api(server, "PATCH", "/company/configurations/99999", ops)[0] == 404


def test_bodies_need_json_content_type_and_valid_json(server):
    path = "/company/configurations/1000"
    ops = json.dumps([{"op": "replace", "path": "backupMonth", "value": 3}]).encode()
    status, _, body = api(server, "PATCH", path, raw=ops, headers={"Content-Type": "text/plain"})
    assert status == 415 and body["code"] == "UnsupportedMediaType"
    status, _, body = api(server, "PATCH", path, raw=b"[{not json",
                          headers={"Content-Type": "application/json"})
    assert status == 400


# -- agreement additions -----------------------------------------------------------------------


def _agreement(server, company: str, name: str = "Backup 2026") -> dict:
    text = f'company/identifier="{company}" and name="{name}"'
    return api(server, "GET", "/finance/agreements?conditions=" + cond(text))[2][0]


def test_additions_post_and_patch(server):
    agreement = _agreement(server, "CONTOSO-01")
    path = f"/finance/agreements/{agreement['id']}/additions"
    status, _, body = api(server, "POST", path, {"product": {"identifier": "RCLOUD-GB"}})
    assert status == 400 and [e["field"] for e in body["errors"]] == ["billCustomer"]
    status, _, body = api(server, "POST", path, {"product": {"identifier": "LEGACY-GB"},
                                                 "billCustomer": "Billable"})
    assert status == 400 and "inactive" in body["message"]
    status, _, body = api(server, "POST", path, {"product": {"identifier": "RCLOUD-GB"},
                                                 "billCustomer": "Bill", "quantity": -1})
    assert {e["field"] for e in body["errors"]} == {"billCustomer", "quantity"}
    status, _, added = api(server, "POST", path, {
        "product": {"identifier": "rcloud-gb"}, "billCustomer": "Billable", "quantity": 310.5,
        "effectiveDate": "2026-02-01T00:00:00Z"})
    assert status == 201 and added["agreementId"] == agreement["id"]
    assert added["product"]["identifier"] == "RCLOUD-GB" and added["quantity"] == 310.5
    status, _, patched = api(server, "PATCH", f"{path}/{added['id']}",
                             [{"op": "replace", "path": "quantity", "value": 12}])
    assert status == 200 and patched["quantity"] == 12
    assert api(server, "PATCH", f"{path}/{added['id']}",
               [{"op": "replace", "path": "quantity", "value": "12"}])[0] == 400
    held = state(server)["rest"]["acme"]["CONTOSO-01"]["additions"]
    assert held == [{"agreement": "Backup 2026", "agreement_id": agreement["id"],
                     "product": "RCLOUD-GB", "quantity": 12, "id": added["id"],
                     "billedQuantity": 0, "effectiveDate": "2026-02-01T00:00:00Z",
                     "cancelledDate": None}]
    assert api(server, "POST", "/finance/agreements/99999/additions",
               {"product": {"identifier": "RCLOUD-GB"}, "billCustomer": "Billable"})[0] == 404


def test_a_cancelled_agreement_takes_no_additions(server):
    cancelled = _agreement(server, "CONTOSO-01", "Old deal")
    assert cancelled["agreementStatus"] == "Cancelled" and cancelled["cancelledFlag"] is True
    status, _, body = api(server, "POST", f"/finance/agreements/{cancelled['id']}/additions",
                          {"product": {"identifier": "RCLOUD-GB"}, "billCustomer": "Billable"})
    assert status == 400 and "cancelled" in body["message"]
    assert state(server)["rest"]["acme"]["CONTOSO-01"]["additions"] == []


# -- faults, recording, state, reset, show ---------------------------------------------------


def test_a_429_fault_with_retry_after_then_through(server):
    control(server, "faults", [{"operation": "PATCH /company/configurations", "times": 2,
                                "http_status": 429, "retry_after": 1},
                               {"operation": "UpdateManagedDevices", "http_status": 503}])
    ops = [{"op": "replace", "path": "backupMonth", "value": 5}]
    assert api(server, "GET", "/company/configurations/1000")[0] == 200  # other operations pass
    for _ in range(2):
        status, headers, body = api(server, "PATCH", "/company/configurations/1000", ops)
        assert (status, headers["Retry-After"], body["code"]) == (429, "1", "TooManyRequests")
    assert api(server, "PATCH", "/company/configurations/1000", ops)[0] == 200
    faulted = [r for r in state(server)["requests"] if r.get("fault")]
    assert [r["status"] for r in faulted] == [429, 429]


def test_raw_and_html_faults(server):
    control(server, "faults", [{"operation": "GET /system/info", "times": 1, "raw": "oops",
                                "http_status": 500},
                               {"operation": "GET /system/info", "times": 1, "html": True}])
    status, headers, body = api(server, "GET", "/system/info")
    assert (status, body) == (500, "oops") and headers["Content-Type"].startswith("text/plain")
    status, headers, body = api(server, "GET", "/system/info")
    assert status == 502 and "Bad Gateway" in body and headers["Content-Type"] == "text/html"


def test_requests_are_recorded_without_credentials(server):
    api(server, "GET", "/company/companies?conditions=" + cond('identifier="LAWSMITH"'))
    api(server, "PATCH", "/company/configurations/1000",
        [{"op": "replace", "path": "backupMonth", "value": 4}])
    api(server, "GET", "/system/info", headers={"Authorization": auth(private="typo-" + PRIVATE)})
    records = [r for r in state(server)["requests"] if r.get("api") == "rest"]
    first, patch = records[0], records[1]
    assert first["operation"] == "GET /company/companies" and first["status"] == 200
    assert first["query"] == {"conditions": 'identifier="LAWSMITH"'}
    assert first["client_id"] == CLIENT_ID and first["accept"] == ACCEPT
    assert patch["operation"] == "PATCH /company/configurations/1000"
    assert patch["body"] == [{"op": "replace", "path": "backupMonth", "value": 4}]
    assert records[2]["status"] == 401
    with urllib.request.urlopen(f"{server.url}/_sim/state", timeout=5) as r:
        text = r.read().decode()
    assert PRIVATE not in text and "Authorization" not in text
    assert auth().split()[1] not in text and "Basic" not in text


def test_reset_restores_the_rest_data(server):
    api(server, "PATCH", "/company/configurations/1000",
        [{"op": "replace", "path": "backupBillableSpaceGb", "value": 99}])
    assert state(server)["rest"]["acme"]["LAWSMITH"]["configurations"][0][
        "backupBillableSpaceGb"] == 99
    control(server, "reset")
    after = state(server)
    assert after["rest"]["acme"]["LAWSMITH"]["configurations"][0]["backupBillableSpaceGb"] == 1
    assert after["requests"] == [] and after["configurations"] == {}


def test_show_lists_rest_records_after_the_soap_table(server):
    api(server, "PATCH", "/company/configurations/1000",
        [{"op": "replace", "path": "backupBillableSpaceGb", "value": 123.25}])
    text = format_configuration_tab(state(server))
    soap, rest = text.split("\n\n", 1)
    assert soap.splitlines()[1] == "(nothing received yet)"
    assert "LAWSMITH" in rest and "123.25" in rest and "10.00" in rest and "RCLOUD-GB" in rest
    soap_only = {"configurations": {}, "rest": {}}
    assert format_configuration_tab(soap_only).splitlines()[-1] == "(nothing received yet)"
    with urllib.request.urlopen(f"{server.url}/", timeout=5) as r:
        assert "123.25" in r.read().decode()


def test_concurrent_patches_are_all_applied(server):
    agreement = _agreement(server, "LAWSMITH")
    path = f"/finance/agreements/{agreement['id']}/additions"
    results: list[int] = []

    def create(i: int) -> None:
        results.append(api(server, "POST", path, {"product": {"identifier": "RCLOUD-GB"},
                                                  "billCustomer": "Billable", "quantity": i})[0])

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 16
    held = state(server)["rest"]["acme"]["LAWSMITH"]["additions"]
    assert sorted(a["quantity"] for a in held) == sorted([10, *range(16)])
    assert len({a["id"] for a in held}) == 17


def test_latency_applies_to_rest_answers():
    srv = SimulatorServer({"tenants": [ACME], "latency": 0.3}).start()
    try:
        started = time.perf_counter()
        assert call(srv, "GET", BASE + "/system/info")[0] == 200
        assert time.perf_counter() - started >= 0.3
    finally:
        srv.stop()


def test_bad_rest_data_is_refused_at_start():
    broken = _tenant("acme", [{"name": "A", "managed_id": "A"}],
                     configurations=[{"company": "A", "type": "Unknown Type", "name": "x"}])
    with pytest.raises(ValueError, match="type"):
        SimulatorServer({"tenants": [broken]})
