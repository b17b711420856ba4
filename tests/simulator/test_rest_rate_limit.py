"""The simulator's rate limit, like Cloudflare's in front of a cloud ConnectWise: at most N
requests served per rolling second per tenant, the rest answered 429 `error code: 1015` in
plain text (with the configured Retry-After); set by data or POST /_sim/rate_limit."""

from __future__ import annotations

import urllib.error

import pytest
from freezegun import freeze_time

from cwpublish.simulator import SimulatorServer

from .test_rest_simulator import ACME, _tenant, api, call, control, state

OTHER = _tenant("other", [])


@pytest.fixture
def server():
    srv = SimulatorServer({"tenants": [
        {**ACME, "rest": {**ACME["rest"], "rate_limit": {"requests_per_second": 3,
                                                         "retry_after": 2}}},
        OTHER]}).start()
    yield srv
    srv.stop()


def test_past_n_a_second_cloudflare_refuses_until_the_second_rolls_on(server):
    with freeze_time("2026-11-30 12:00:00") as clock:
        assert [api(server, "GET", "/system/info")[0] for _ in range(3)] == [200] * 3
        status, headers, body = api(server, "GET", "/system/info")
        assert (status, body) == (429, "error code: 1015")
        assert headers["Content-Type"].startswith("text/plain")
        assert headers["Retry-After"] == "2"
        assert api(server, "GET", "/system/info", company="other")[0] == 200  # per tenant
        clock.tick(1.01)
        assert api(server, "GET", "/system/info")[0] == 200
    assert [r["status"] for r in state(server)["requests"]] == [200, 200, 200, 429, 200, 200]


def test_companyinfo_counts_for_its_company(server):
    with freeze_time("2026-11-30 12:00:00"):
        for _ in range(3):
            call(server, "GET", "/login/companyinfo/acme")
        assert call(server, "GET", "/login/companyinfo/acme")[0] == 429


def test_the_limit_is_set_and_lifted_by_the_control_endpoint(server):
    with freeze_time("2026-11-30 12:00:00"):
        control(server, "rate_limit", {"tenant": "other", "requests_per_second": 1})
        assert api(server, "GET", "/system/info", company="other")[0] == 200
        status, headers, _ = api(server, "GET", "/system/info", company="other")
        assert status == 429 and "Retry-After" not in headers
        control(server, "rate_limit", {"requests_per_second": None})  # every tenant: none
        assert [api(server, "GET", "/system/info")[0] for _ in range(5)] == [200] * 5
        with pytest.raises(urllib.error.HTTPError) as e:
            control(server, "rate_limit", {"requests_per_second": -1})
        assert e.value.code == 400
