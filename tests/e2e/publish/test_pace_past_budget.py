"""A configured pace too slow for the time budget (`max_requests_per_second: 0.01`, a turn
every 100 s, with `retry_max_seconds: 5`): the run ends at once, the clients `not sent`, and
the error names the pace and its key, not a Retry-After the site never sent."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest

from conftest import USAGE, rest_data, rest_partner_config, tenant
from cwpublish.simulator import SimulatorServer
from cwpublish.targets import pacing


@pytest.fixture
def rest_server(monkeypatch):
    monkeypatch.setattr(pacing, "_sites", {})  # a fresh pacer for this run's site
    server = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    yield server
    server.stop()


def test_a_pace_slower_than_the_budget_ends_the_run_naming_the_pace(
    rest_server, make_config, rest_key, run
):
    partner = rest_partner_config(rest_server.url)
    partner["connectwise"].update(max_requests_per_second=0.01, retry_max_seconds=5)
    config = make_config(partners=[partner],
                         usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    started = time.monotonic()
    result = run(config, "publish", "--yes", "--json")
    assert time.monotonic() - started < 3, "a turn 100 s away is not waited for"
    assert result.exit_code == 1, result.stderr
    entry = json.loads(result.stdout)["entries"][0]
    assert "go at 0.01 a second (connectwise.max_requests_per_second)" in entry["error"]
    assert "past the time budget (connectwise.retry_max_seconds: 5)" in entry["error"]
    assert "Retry-After" not in entry["error"]
    assert {c["kind"] for c in entry["clients"]} == {"not-sent"}
    assert [r for r in rest_server.sim.state()["requests"]
            if r.get("method") in ("POST", "PATCH")] == []
