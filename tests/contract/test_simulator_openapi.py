"""The bundled simulator against ConnectWise's published OpenAPI schemas (issue 18).

Requests are built from the schemas copied into the package (cwpublish/simulator/
openapi_schemas.json): a valid body with every field the schema has (strings at their maximum
length), then one mutation per field (wrong type, one character too long, a bad enum value,
a required field missing, a name the schema lacks). The simulator must take the valid ones and
refuse each invalid one with ConnectWise's 400 shape, storing nothing. Every GET path it serves
must be a path of the OpenAPI document, and every object it answers must fit that path's schema
(required fields included), so a client generated from the document can list, create and patch.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from conftest import REST_CLIENT_ID, REST_PRIVATE_KEY, rest_data, tenant
from cwpublish.simulator import SimulatorServer
from cwpublish.simulator.rest_http import SERVED
from cwpublish.simulator.rest_schema import READ_ONLY, check, document, schema

BASE = "/v4_6_release/apis/3.0"
# References the simulator resolves to its own objects: the valid body names real ones.
RESOLVED = ("type", "company", "status", "product")


def _data() -> dict:
    extra = rest_data(
        company_statuses=[{"name": "Current", "default": True},
                          {"name": "Not Approved", "inactive": True}],
        configurations=[{"company": "LAWSMITH", "type": "Backup Stats", "name": "rCloud",
                         "device_identifier": "rcloud-LAWSMITH"}])
    extra["agreements"][0].update(invoices=[{"date": "2026-10-31", "number": "1031"}],
                                  additions=[{"product": "RCLOUD-GB", "quantity": 3}])
    return {"tenants": [tenant(rest=extra)]}


@pytest.fixture(scope="module")
def site():
    server = SimulatorServer(_data()).start()
    yield server
    server.stop()


def api(site, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    token = base64.b64encode(f"acme+AbC123xYz:{REST_PRIVATE_KEY}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "clientId": REST_CLIENT_ID,
               "Accept": "application/vnd.connectwise.com+json; version=2026.4"}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(site.url + BASE + path, data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


# -- building requests from the schemas ----------------------------------------------------------


def valid(prop: dict, field: str = "") -> Any:
    """A value the property allows (a string at its maximum length)."""
    if "ref" in prop:
        return {k: valid(p, k) for k, p in schema(prop["ref"])["properties"].items()
                if k not in READ_ONLY}
    kind = prop.get("type")
    if kind == "string":
        if "enum" in prop:
            return prop["enum"][0]
        fmt = prop.get("format")
        if fmt == "date-time":
            return "2026-11-01T00:00:00Z"
        if fmt == "uuid":
            return "3f0c5a2e-1b2c-4d5e-8f90-123456789abc"
        return "x" * prop.get("maxLength", 8)
    if kind == "integer":
        return 11 if field == "backupMonth" else 2026
    if kind == "number":
        return 12.5
    if kind == "boolean":
        return True
    if kind == "array":
        return [valid(prop["items"])]
    return {}


def wrong_type(prop: dict) -> Any:
    kind = "ref" if "ref" in prop else prop.get("type")
    return {"ref": "not an object", "string": 12345, "integer": "12", "number": "12.5",
            "boolean": "true", "array": {"not": "a list"}}.get(kind or "")


def valid_body(name: str, resolved: dict) -> dict:
    """Every field of schema `name` with a valid value; references the simulator resolves
    name its real objects."""
    props = schema(name)["properties"]
    body = {k: valid(p, k) for k, p in props.items() if k not in READ_ONLY}
    body.update({k: v for k, v in resolved.items() if k in props})
    body.pop("agreementId", None)
    return body


def mutations(name: str, body: dict) -> list[tuple[str, str, dict]]:
    """(what, field, body) per field: wrong type, too long, bad enum, required missing, and
    one unknown name."""
    out = []
    props = schema(name)["properties"]
    for field, prop in props.items():
        if field not in body:
            continue
        bad = wrong_type(prop)
        if bad is not None:
            out.append(("wrong type", field, {**body, field: bad}))
        if "maxLength" in prop:
            out.append(("too long", field, {**body, field: "y" * (prop["maxLength"] + 1)}))
        if "enum" in prop:
            out.append(("bad enum", field, {**body, field: "NotInTheEnum"}))
    for field in schema(name)["required"]:
        out.append(("missing", field, {k: v for k, v in body.items() if k != field}))
    out.append(("unknown", "notAField", {**body, "notAField": 1}))
    return out


def _resolved(site) -> dict:
    types = api(site, "GET", "/company/configurations/types")[1]
    company = api(site, "GET", "/company/companies")[1][1]
    return {"type": {"id": types[0]["id"]}, "company": {"id": company["id"]},
            "status": {"name": "Active"}, "product": {"identifier": "RCLOUD-GB"}}


def _agreement(site) -> int:
    return api(site, "GET", "/finance/agreements")[1][0]["id"]  # it has an addition


WRITES = [("Configuration", "configuration", lambda site: "/company/configurations"),
          ("Addition", "addition",
           lambda site: f"/finance/agreements/{_agreement(site)}/additions")]


@pytest.mark.parametrize("name,resource,where", WRITES, ids=[w[0] for w in WRITES])
def test_post_takes_a_valid_body_and_refuses_each_mutation(site, name, resource, where):
    path = where(site)
    body = valid_body(name, _resolved(site))
    status, created = api(site, "POST", path, body)
    assert status == 201, created
    assert check(name, created, resource) == []
    for field, value in body.items():
        if field not in RESOLVED:
            assert created[field] == value, field
    count = api(site, "GET", path + "/count")[1]["count"]
    refused = 0
    for what, field, bad in mutations(name, body):
        status, answer = api(site, "POST", path, bad)
        assert status == 400 and answer["code"] == "InvalidObject", (what, field, answer)
        errors = answer["errors"]
        assert [e["field"].split("/")[0] for e in errors] == [field], (what, field, errors)
        assert errors[0]["resource"] == resource and errors[0]["message"]
        expected = {"too long": "MaxLengthField", "missing": "NullValue",
                    "unknown": "UnknownField"}.get(what)
        assert expected is None or errors[0]["code"] == expected, (what, field, errors)
        refused += 1
    assert refused > 30  # every field of the schema had its mutations
    assert api(site, "GET", path + "/count")[1]["count"] == count  # nothing stored


@pytest.mark.parametrize("name,resource,where", WRITES, ids=[w[0] for w in WRITES])
def test_patch_takes_valid_values_and_refuses_each_mutation(site, name, resource, where):
    path = where(site)
    status, created = api(site, "POST", path, valid_body(name, _resolved(site)))
    assert status == 201
    one = f"{path}/{created['id']}"
    props = schema(name)["properties"]
    fields = [f for f in props if f not in READ_ONLY + RESOLVED + ("agreementId",)]
    ops = [{"op": "replace", "path": f, "value": valid(props[f], f)} for f in fields]
    status, patched = api(site, "PATCH", one, ops)
    assert status == 200 and check(name, patched, resource) == []
    for what, field, bad in mutations(name, patched):
        if what == "missing":
            op = {"op": "remove", "path": field}
        elif what == "unknown" or field in READ_ONLY:
            continue
        else:
            op = {"op": "replace", "path": field, "value": bad[field]}
        status, answer = api(site, "PATCH", one, [op])
        assert status == 400 and answer["code"] == "InvalidObject", (what, field, answer)
        assert answer["errors"][0]["field"].split("/")[0] == field
    assert api(site, "GET", one)[1] == patched  # nothing of a refused patch was kept


def _fill(path: str, site) -> str:
    """A served path with its ids filled in from the site's own lists."""
    agreement = _agreement(site)
    if "{parentId}" in path:
        path = path.replace("{parentId}", str(agreement))
    if "{id}" in path:
        listed = api(site, "GET", path.rsplit("/", 1)[0])[1]
        path = path.replace("{id}", str(listed[0]["id"]))
    return path


def test_every_get_path_is_connectwises_and_answers_fit_its_schema(site):
    paths = document()["paths"]
    served = {p for p, methods in SERVED.items() if "GET" in methods}
    assert served - set(paths) == {"/system/info"}  # not in the public document
    checked = 0
    for path in sorted(served - {"/system/info"}):
        status, answer = api(site, "GET", _fill(path, site))
        assert status == 200, (path, answer)
        items = answer if isinstance(answer, list) else [answer]
        assert items, path  # the data gives every list something to check
        for item in items:
            assert check(paths[path], item, path) == [], (path, item)
            checked += 1
    assert checked > 30
