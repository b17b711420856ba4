"""The REST simulator as strict as ConnectWise (issue 18): Accept, quotes, statuses, invoicing,
schema checks, and the faults a real site produces (lost answers, Cloudflare's 429, ...)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from datetime import date
from typing import Any

import pytest
from freezegun import freeze_time

from cwpublish.simulator import SimulatorServer, format_configuration_tab
from cwpublish.simulator.rest_site import RestSite

from .test_rest_simulator import BASE, _tenant, api, call, cond, control, state

ACME = _tenant(
    "acme",
    [
        {"name": "Law Office of R. Smith", "managed_id": "LAWSMITH", "status": "Current"},
        {"name": "Contoso Dental", "managed_id": "CONTOSO-01", "status": "Not Approved"},
        {"name": "Legacy Data", "managed_id": "LEGACY", "status": "Active"},
    ],
    company_statuses=[{"name": "Current", "default": True},
                      {"name": "Not Approved", "inactive": True}],
    configuration_statuses=[{"name": "Active", "default": True},
                            {"name": "Retired", "closed": True}],
    configuration_types=["Backup Stats"],
    catalog=[{"identifier": "RCLOUD-GB", "description": "rCloud backup GB", "price": 0.5,
              "cost": 0.1}],
    agreements=[
        {"company": "LAWSMITH", "name": "Backup 2026", "billing_cycle": "Monthly",
         "next_invoice_date": "2026-11-30", "invoices": [{"date": "2026-10-31",
                                                          "number": "INV-1031", "amount": 50}],
         "additions": [{"product": "RCLOUD-GB", "quantity": 120, "less_included": 20,
                        "unit_price": 0.5, "unit_cost": 0.1, "effective_date": "2026-01-01",
                        "billed_quantity": 100}]},
        {"company": "CONTOSO-01", "name": "Backup 2026"},
    ],
    configurations=[{"company": "LAWSMITH", "type": "Backup Stats", "name": "rCloud LAWSMITH",
                     "device_identifier": "rcloud-LAWSMITH", "backup_billable_space_gb": 1,
                     "backup_year": 2026, "backup_month": 1}],
)


@pytest.fixture(scope="module")
def running():
    srv = SimulatorServer({"tenants": [ACME]}).start()
    yield srv
    srv.stop()


@pytest.fixture
def server(running):
    control(running, "reset")
    return running


def faults(server, *rules: dict) -> None:
    control(server, "faults", list(rules))


def invoice(server, payload: Any) -> tuple[int, Any]:
    req = urllib.request.Request(f"{server.url}/_sim/invoice", method="POST",
                                 data=json.dumps(payload).encode())
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _law_agreement(server) -> dict:
    text = "company/identifier='LAWSMITH'"
    return api(server, "GET", "/finance/agreements?conditions=" + cond(text))[2][0]


# -- Accept and conditions as real sites take them ---------------------------------------------


@pytest.mark.parametrize("accept,status", [
    ("*/*", 200), ("application/json", 200), (None, 200),
    ("application/json, text/html", 200), ("*/*; q=0.8", 200),
    ("application/vnd.connectwise.com+json", 200),
    ("text/html, application/json", 406), ("text/xml", 406),
    ("application/vnd.connectwise.com+json; version=2019.1, application/json", 400),
])
def test_accept_honours_the_first_media_type(server, accept, status):
    assert api(server, "GET", "/system/info", headers={"Accept": accept})[0] == status


def test_conditions_take_single_quoted_strings(server):
    body = api(server, "GET", "/company/companies?conditions=" + cond(
        "identifier='lawsmith' or name like 'Contoso%'"))[2]
    assert sorted(c["identifier"] for c in body) == ["CONTOSO-01", "LAWSMITH"]
    body = api(server, "GET", "/company/companies?conditions=" + cond(
        r"name='Law Office of R. Smith' and identifier!='it\'s'"))[2]
    assert [c["identifier"] for c in body] == ["LAWSMITH"]
    status, _, body = api(server, "GET", "/company/companies?conditions=" + cond("name='x"))
    assert status == 400 and "unterminated" in body["message"]


# -- statuses ------------------------------------------------------------------------------------


def test_company_statuses_are_a_list_companies_refer_to(server):
    statuses = api(server, "GET", "/company/companies/statuses")[2]
    by_name = {s["name"]: s for s in statuses}
    assert set(by_name) == {"Current", "Not Approved", "Active"}  # Active: named by a company
    assert by_name["Not Approved"]["inactiveFlag"] is True
    assert by_name["Current"]["inactiveFlag"] is False and by_name["Current"]["defaultFlag"]
    companies = {c["identifier"]: c for c in api(server, "GET", "/company/companies")[2]}
    assert companies["CONTOSO-01"]["status"] == {"id": by_name["Not Approved"]["id"],
                                                 "name": "Not Approved"}
    one = api(server, "GET", f"/company/companies/statuses/{by_name['Current']['id']}")[2]
    assert one == by_name["Current"]
    inactive = api(server, "GET", "/company/companies/statuses?conditions=" + cond(
        "inactiveFlag=true"))[2]
    assert [s["name"] for s in inactive] == ["Not Approved"]
    assert api(server, "GET", "/company/companies/statuses/count")[2] == {"count": 3}


def test_configuration_statuses_and_a_configuration_status_by_name(server):
    statuses = api(server, "GET", "/company/configurations/statuses")[2]
    assert [(s["description"], s["closedFlag"]) for s in statuses] == [
        ("Active", False), ("Retired", True)]
    config = api(server, "GET", "/company/configurations")[2][0]
    assert config["status"]["name"] == "Active"
    status, _, body = api(server, "PATCH", f"/company/configurations/{config['id']}",
                          [{"op": "replace", "path": "status", "value": {"name": "Retired"}}])
    assert status == 200 and body["status"] == {"id": statuses[1]["id"], "name": "Retired"}
    status, _, body = api(server, "PATCH", f"/company/configurations/{config['id']}",
                          [{"op": "replace", "path": "status/name", "value": "Gone"}])
    assert status == 400 and body["errors"][0]["field"] == "status"


# -- additions, recaps, invoices -----------------------------------------------------------------


def test_additions_carry_the_billing_fields(server):
    agreement = _law_agreement(server)
    [loaded] = api(server, "GET", f"/finance/agreements/{agreement['id']}/additions")[2]
    assert (loaded["quantity"], loaded["lessIncluded"], loaded["unitPrice"],
            loaded["unitCost"], loaded["billedQuantity"]) == (120, 20, 0.5, 0.1, 100)
    assert loaded["effectiveDate"] == "2026-01-01T00:00:00Z" and loaded["cancelledDate"] is None
    status, _, added = api(server, "POST", f"/finance/agreements/{agreement['id']}/additions", {
        "product": {"identifier": "RCLOUD-GB"}, "billCustomer": "Billable", "quantity": 5,
        "effectiveDate": "2026-12-01T00:00:00Z", "cancelledDate": "2027-01-01T00:00:00Z",
        "invoiceDescription": "rCloud GB, December"})
    assert status == 201 and added["unitPrice"] == 0.5 and added["unitCost"] == 0.1
    assert added["cancelledDate"] == "2027-01-01T00:00:00Z"
    assert added["invoiceDescription"] == "rCloud GB, December"  # a schema field, kept


def test_recap_and_generating_an_invoice(server):
    agreement = _law_agreement(server)
    assert agreement["billingCycle"]["name"] == "Monthly"
    assert agreement["nextInvoiceDate"] == "2026-11-30T00:00:00Z"
    recap = api(server, "GET", f"/finance/agreementrecap/{agreement['id']}")[2]
    assert (recap["lastInvoiceDate"], recap["lastInvoiceNumber"]) == (
        "2026-10-31T00:00:00Z", "INV-1031")
    assert recap["nextInvoiceDate"] == "2026-11-30T00:00:00Z"
    assert recap["nextInvoiceAmount"] == 50.0  # (120 - 20 included) x 0.50
    path = f"/finance/agreements/{agreement['id']}/additions"
    [addition] = api(server, "GET", path)[2]
    api(server, "PATCH", f"{path}/{addition['id']}",
        [{"op": "replace", "path": "quantity", "value": 320}])
    status, answer = invoice(server, {"agreement": agreement["id"], "date": "2026-11-30"})
    assert status == 200 and answer["lines"][0]["quantity"] == 320
    assert answer["invoice"]["total"] == 150.0
    assert api(server, "GET", f"{path}/{addition['id']}")[2]["billedQuantity"] == 320
    recap = api(server, "GET", f"/finance/agreementrecap/{agreement['id']}")[2]
    assert recap["lastInvoiceDate"] == "2026-11-30T00:00:00Z"
    assert recap["lastInvoiceNumber"] == answer["invoice"]["invoiceNumber"]
    assert recap["nextInvoiceDate"] == "2026-12-30T00:00:00Z"
    assert _law_agreement(server)["nextInvoiceDate"] == "2026-12-30T00:00:00Z"
    listed = api(server, "GET", "/finance/invoices?conditions=" + cond(
        f"agreement/id={agreement['id']} and date>[2026-11-01T00:00:00Z]"))[2]
    assert [i["id"] for i in listed] == [answer["invoice"]["id"]]
    assert listed[0]["type"] == "Agreement" and listed[0]["company"]["identifier"] == "LAWSMITH"
    held = state(server)["rest"]["acme"]["LAWSMITH"]["invoices"]
    assert [i["number"] for i in held] == ["INV-1031", answer["invoice"]["invoiceNumber"]]
    assert held[1]["lines"][0]["quantity"] == 320


@pytest.mark.parametrize("payload,status", [
    ({"agreement": 99999, "date": "2026-11-30"}, 404),
    ({"agreement": 300, "date": "30/11/2026"}, 400),
    ({"date": "2026-11-30"}, 400),
])
def test_invoice_control_refuses_bad_requests(server, payload, status):
    assert invoice(server, payload)[0] == status


def test_recaps_list_every_agreement(server):
    recaps = api(server, "GET", "/finance/agreementrecap")[2]
    assert [r["name"] for r in recaps] == ["Backup 2026", "Backup 2026"]
    assert recaps[1]["lastInvoiceDate"] is None and recaps[1]["nextInvoiceAmount"] == 0


# -- schema strictness ---------------------------------------------------------------------------


def _new_config(**extra: Any) -> dict:
    return {"name": "rCloud X", "type": {"name": "Backup Stats"},
            "company": {"identifier": "CONTOSO-01"}, **extra}


@pytest.mark.parametrize("extra,field,code", [
    ({"name": "n" * 101}, "name", "MaxLengthField"),
    ({"deviceIdentifier": "d" * 101}, "deviceIdentifier", "MaxLengthField"),
    ({"backupServerName": "s" * 51}, "backupServerName", "MaxLengthField"),
    ({"colour": "red"}, "colour", "UnknownField"),
    ({"billFlag": "yes"}, "billFlag", "InvalidField"),
    ({"backupYear": 2026.5}, "backupYear", "InvalidField"),
    ({"purchaseDate": "yesterday"}, "purchaseDate", "InvalidField"),
    ({"company": {"identifier": "CONTOSO-01", "colour": "red"}}, "company/colour",
     "UnknownField"),
    ({"questions": [{"fieldType": "Bogus"}]}, "questions[0]/fieldType", "InvalidField"),
    ({"name": None}, "name", "NullValue"),
])
def test_a_body_the_schema_refuses_is_a_400_naming_the_field(server, extra, field, code):
    status, _, body = api(server, "POST", "/company/configurations", _new_config(**extra))
    assert status == 400 and body["code"] == "InvalidObject"
    assert [(e["field"], e["code"], e["resource"]) for e in body["errors"]] == [
        (field, code, "configuration")]
    assert state(server)["rest"]["acme"]["CONTOSO-01"]["configurations"] == []


def test_exactly_the_maximum_length_and_schema_fields_are_kept(server):
    status, _, body = api(server, "POST", "/company/configurations", _new_config(
        name="n" * 100, deviceIdentifier="d" * 100, serialNumber="SN-1", id=5, ipAddress=None))
    assert status == 201 and body["serialNumber"] == "SN-1" and body["id"] != 5
    status, _, body = api(server, "PATCH", f"/company/configurations/{body['id']}",
                          [{"op": "replace", "path": "modelNumber", "value": "m" * 51}])
    assert status == 400 and body["errors"][0]["code"] == "MaxLengthField"
    status, _, body = api(server, "PATCH", "/company/configurations/1000",
                          [{"op": "replace", "path": "id", "value": 7}])
    assert status == 400 and body["errors"][0]["message"].endswith("id is read-only")


# -- faults --------------------------------------------------------------------------------------


def test_lose_answer_stores_the_write_and_drops_the_connection(server):
    agreement = _law_agreement(server)
    faults(server, {"operation": "POST /finance/agreements", "times": 1, "lose_answer": True})
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, ConnectionError)):
        api(server, "POST", f"/finance/agreements/{agreement['id']}/additions", {
            "product": {"identifier": "RCLOUD-GB"}, "billCustomer": "Billable", "quantity": 7})
    held = state(server)["rest"]["acme"]["LAWSMITH"]["additions"]
    assert sorted(a["quantity"] for a in held) == [7, 120]  # the write happened


def test_store_then_status_answers_504_after_the_change(server):
    faults(server, {"operation": "PATCH /company/configurations", "times": 1,
                    "store_then_status": 504})
    ops = [{"op": "replace", "path": "backupMonth", "value": 9}]
    status, _, body = api(server, "PATCH", "/company/configurations/1000", ops)
    assert status == 504 and body["code"] == "GatewayTimeout"
    assert api(server, "GET", "/company/configurations/1000")[2]["backupMonth"] == 9


def test_cloudflare_429_is_plain_text_with_retry_after(server):
    faults(server, {"operation": "GET /company", "times": 1, "cloudflare": True,
                    "retry_after": 600},
           {"operation": "GET /company", "times": 1, "http_status": 429,
            "body": "error code: 1015"})
    for expected_retry in ("600", None):
        status, headers, body = api(server, "GET", "/company/companies")
        assert (status, body) == (429, "error code: 1015")
        assert headers["Content-Type"].startswith("text/plain")
        assert headers.get("Retry-After") == expected_retry
    assert api(server, "GET", "/company/companies")[0] == 200


def test_keep_old_answers_the_patch_but_keeps_nothing(server):
    faults(server, {"operation": "PATCH", "times": 1, "keep_old": True})
    status, _, body = api(server, "PATCH", "/company/configurations/1000",
                          [{"op": "replace", "path": "backupBillableSpaceGb", "value": 77}])
    assert status == 200 and body["backupBillableSpaceGb"] == 1
    assert api(server, "GET", "/company/configurations/1000")[2]["backupBillableSpaceGb"] == 1


@pytest.mark.parametrize("forward", [False, True])
def test_ignore_page_is_an_endless_pager(server, forward):
    faults(server, {"operation": "GET /company/companies", "ignore_page": True})
    headers = {"pagination-type": "forward-only"} if forward else {}
    first = api(server, "GET", "/company/companies?pageSize=2", headers=headers)
    query = "pageId=999" if forward else "page=7"
    later = api(server, "GET", f"/company/companies?pageSize=2&{query}", headers=headers)
    assert first[2] == later[2] and len(later[2]) == 2
    assert 'rel="next"' in later[1]["Link"]


def test_bad_id_and_nest(server):
    faults(server, {"operation": "GET /company/companies", "times": 1, "bad_id": True},
           {"operation": "GET /company/companies", "times": 1, "bad_id": None},
           {"operation": "GET /system/info", "times": 1, "nest": 60})
    assert [c["id"] for c in api(server, "GET", "/company/companies")[2]] == [
        "250x", "251x", "252x"]
    assert [c["id"] for c in api(server, "GET", "/company/companies")[2]] == [None] * 3
    status, _, body = call(server, "GET", BASE + "/system/info")
    assert status == 200 and json.dumps(body).replace(" ", "") == "[" * 60 + "]" * 60


# -- data file: invoicing defaults and mistakes --------------------------------------------------


def _one_agreement(**agreement: Any) -> dict:
    return _tenant("solo", [{"name": "A", "managed_id": "A"}], catalog=[{"identifier": "GB"}],
                   agreements=[{"company": "A", "name": "MSA", **agreement}])


@freeze_time("2026-12-05 10:00:00")
def test_next_invoice_date_defaults():
    [first] = RestSite([_one_agreement()]).tenants["solo"].agreements
    assert first["nextInvoiceDate"] == "2027-01-01T00:00:00Z"  # the 1st of next month
    rest = RestSite([_one_agreement(billing_cycle="Quarterly",
                                    invoices=[{"date": date(2026, 10, 31), "number": "7"}])])
    tenant = rest.tenants["solo"]
    [agreement] = tenant.agreements
    assert agreement["nextInvoiceDate"] == "2027-01-31T00:00:00Z"  # one quarter later
    answer = tenant.generate_invoice(agreement["id"], "2027-02-03")  # late: after the day
    assert answer["lines"] == [] and answer["invoice"]["date"] == "2027-02-03T00:00:00Z"
    assert agreement["nextInvoiceDate"] == "2027-04-30T00:00:00Z"


@pytest.mark.parametrize("agreement,message", [
    ({"invoices": [{"date": "soon"}]}, "invoice date"),
    ({"additions": [{"product": "GB", "unit_price": "cheap"}]}, "unitPrice"),
    ({"additions": [{"product": "GB", "bill_customer": "Sometimes"}]}, "billCustomer"),
])
def test_bad_billing_data_is_refused_at_start(agreement, message):
    with pytest.raises(ValueError, match=message):
        SimulatorServer({"tenants": [_one_agreement(**agreement)]})


def test_show_lists_billed_quantities_and_invoices(server):
    agreement = _law_agreement(server)
    assert invoice(server, {"agreement": agreement["id"], "date": "2026-11-30",
                            "number": "INV-1130"})[0] == 200
    text = format_configuration_tab(state(server))
    invoices = text.split("REST API v3.0 invoices")[1]
    assert "INV-1031" in invoices and "INV-1130" in invoices and "2026-11-30" in invoices
    [row] = [line for line in text.splitlines() if "RCLOUD-GB / Backup 2026" in line]
    assert row.split()[3:5] == ["120.00", "120.00"]  # quantity, and what the invoice billed
