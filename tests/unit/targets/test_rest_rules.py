"""The REST target's pure decisions: which addition bills a period, names cut to ConnectWise's
lengths, look-up queries chunked by bytes, what a write must have kept, which company is
usable, and answers of the wrong shape."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from cwpublish.config.model import Client
from cwpublish.domain.period import Period
from cwpublish.errors import ConnectWiseError
from cwpublish.targets.connectwise_rest import lookups
from cwpublish.targets.connectwise_rest.answers import parse_json, records
from cwpublish.targets.connectwise_rest.client import PAGE_SIZE, quoted
from cwpublish.targets.connectwise_rest.rules import (
    configuration_name,
    cut,
    in_effect,
    not_kept,
)
from cwpublish.targets.connectwise_rest.settings import client_problem

DEC = Period(2026, 12)


@pytest.mark.parametrize(
    ("effective", "cancelled", "billing"),
    [
        ("2026-01-01T00:00:00Z", None, True),  # long running
        ("2026-12-01T00:00:00Z", None, True),  # from the first day
        ("2026-12-31T00:00:00Z", None, True),  # from the last day: bills part of it
        ("2027-01-01T00:00:00Z", None, False),  # only from next month
        ("2026-01-01T00:00:00Z", "2027-03-31T00:00:00Z", True),  # cancelled in the future
        ("2026-01-01T00:00:00Z", "2026-12-15T00:00:00Z", True),  # cancelled within it
        ("2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z", True),  # cancelled on its first day
        ("2026-01-01T00:00:00Z", "2026-11-30T00:00:00Z", False),  # cancelled before it
        (None, None, True),  # no dates: counts
        ("not a date", None, True),  # unreadable: counts (never taken for gone)
        ("2026-01-01", "garbage", True),
    ],
)
def test_an_addition_bills_the_period_by_its_dates(effective, cancelled, billing):
    addition = {"id": 1, "effectiveDate": effective, "cancelledDate": cancelled,
                "agreementStatus": "Cancelled"}  # the status word decides nothing
    assert in_effect(addition, DEC) is billing


def test_in_effect_knows_month_ends():
    feb = Period(2028, 2)  # a leap year
    assert in_effect({"effectiveDate": "2028-02-29"}, feb)
    assert not in_effect({"effectiveDate": "2028-03-01"}, feb)
    assert not in_effect({"cancelledDate": "2028-01-31"}, feb)


def test_a_long_client_name_is_cut_to_100_keeping_the_prefix_and_its_start():
    name = "Law Office of " + "Reginald " * 12 + "Smith"  # 122 characters
    cut_name = configuration_name(name)
    assert len(cut_name) == 100 and cut_name.endswith("…")
    assert cut_name.startswith("rCloud Backup - Law Office of Reginald")
    assert configuration_name("Contoso Dental") == "rCloud Backup - Contoso Dental"
    assert len(configuration_name("x" * 84)) == 100 and "…" not in configuration_name("x" * 84)
    assert cut("abc", 3) == "abc" and cut("abcd", 3) == "ab…"


def test_a_record_identifier_over_100_characters_is_a_config_problem():
    def cw(mode: str) -> SimpleNamespace:
        return SimpleNamespace(settings=SimpleNamespace(publish_to=mode))

    fits = Client(name="Acme", managed_id="A" * 93)
    too_long = Client(name="Acme", managed_id="A" * 94)
    assert client_problem(cw("configuration"), fits) is None  # 7 + 93
    problem = client_problem(cw("configuration"), too_long)
    assert problem and "client 'Acme'" in problem and "101 characters" in problem
    assert "at most 100" in problem
    # an addition is found by its agreement and product: no identifier to hold
    assert client_problem(cw("agreement_addition"), too_long) is None


def _query(chunk: list[str], condition) -> int:
    return len(urlencode({"conditions": condition(", ".join(chunk)), "fields": "id,name",
                          "page": 1, "pageSize": PAGE_SIZE}))


def test_look_up_queries_are_chunked_by_bytes_as_well_as_by_count():
    condition = lambda listed: f"type/id=12 and deviceIdentifier in ({listed})"  # noqa: E731
    ids = [str(1000 + i) for i in range(250)]  # company ids: 100 fit in a request
    assert [len(c) for c in lookups.chunks(ids, condition, "id,name")] == [100, 100, 50]
    idents = [quoted(f"rcloud-C{i:03d}") for i in range(250)]  # 100 of these would not
    parts = lookups.chunks(idents, condition, "id,name")
    assert [len(c) for c in parts] == [90, 90, 70]
    assert _query(parts[0], condition) <= 2000 < _query(parts[0] + [idents[90]], condition)
    long = [quoted(f"rcloud-{'Ä' * 40}{i}") for i in range(120)]
    parts = lookups.chunks(long, condition, "id,name")
    assert [v for part in parts for v in part] == long  # all, once, in order
    assert len(parts) == 18  # ~260 bytes encoded each: 7 a request
    assert all(_query(p, condition) <= lookups.MAX_QUERY for p in parts)
    assert all(_query(p + [long[0]], condition) > lookups.MAX_QUERY for p in parts[:-1])
    assert lookups.chunks([quoted("a"), quoted("a")], condition, "id") == [[quoted("a")]]


def test_what_connectwise_did_not_keep_is_named():
    sent = {"backupBillableSpaceGb": Decimal("90.50"), "backupYear": 2026, "backupMonth": 12,
            "deviceIdentifier": "rcloud-LAW"}
    held = {"id": 1, "backupBillableSpaceGb": 90.5, "backupYear": 2026, "backupMonth": 12,
            "deviceIdentifier": "RCLOUD-law"}
    assert not_kept(held, sent) is None
    old = {**held, "backupBillableSpaceGb": 87}
    assert not_kept(old, sent) == "ConnectWise kept backupBillableSpaceGb 87 (sent 90.50)"
    assert "backupMonth '12'" in not_kept({**held, "backupMonth": "12"}, sent)
    assert "quantity nothing" in not_kept({}, {"quantity": Decimal("1.00")})


def test_a_company_is_usable_by_its_status_flag_not_its_name():
    statuses = {1: {"id": 1, "name": "Current", "inactiveFlag": False},
                2: {"id": 2, "name": "Active - Net 15", "inactiveFlag": False},
                3: {"id": 3, "name": "Active", "inactiveFlag": True}}
    company = lambda sid, name, **kw: {"id": 9, "status": {"id": sid, "name": name}, **kw}  # noqa: E731
    assert lookups.company_problem(company(1, "Current"), statuses) is None
    assert lookups.company_problem(company(2, "Active - Net 15"), statuses) is None
    assert "is inactive (status 'Active')" in lookups.company_problem(company(3, "Active"),
                                                                     statuses)
    assert lookups.company_problem(company(1, "Current", deletedFlag=True), statuses) == (
        "is deleted")
    assert "does not list" in lookups.company_problem(company(7, "Gone"), statuses)
    # the status list unreadable (403): only "Active" by name, and saying why
    assert lookups.company_problem(company(3, "Active"), None) is None
    why = lookups.company_problem(company(1, "Current"), None)
    assert "'Current'" in why and "/company/companies/statuses" in why


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "nested too deep"),
        (b"{not json", "invalid JSON"),
        (b"\xff\xfe\x00", "invalid JSON"),
    ],
)
def test_json_that_cannot_be_read_is_a_response_error(body, needle):
    with pytest.raises(ConnectWiseError) as e:
        parse_json("GET /x", "cw.example", body)
    assert e.value.kind == "response" and needle in str(e.value) and "GET /x" in str(e.value)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"id": 1}, "an object where a list"),
        (["x"], "a string where an object"),
        ([{"id": "12a"}], "id is a string, not a number"),
        ([{"id": True}], "id is a boolean"),
        ([{"name": "no id"}], "id is null"),
    ],
)
def test_answers_of_the_wrong_shape_are_response_errors(value, needle):
    with pytest.raises(ConnectWiseError) as e:
        records("GET /company/companies", "cw.example", value)
    assert e.value.kind == "response" and needle in str(e.value)
    assert records("op", "h", [{"id": 3, "name": "ok"}]) == [{"id": 3, "name": "ok"}]
