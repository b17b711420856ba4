"""Issue 21, item 5: `history` shows every time in one zone, labelled (never one row in Paris
and the next in New York); `history show` gives its times in the partner's zone."""

from __future__ import annotations

import json
import time

import pytest
from freezegun import freeze_time

from conftest import USAGE, partner_config, tenant
from cwpublish.simulator import SimulatorServer

NOW = "2026-11-05 15:00:00"  # UTC


@pytest.fixture
def two():
    """A site with two integrator companies, acme and beta."""
    server = SimulatorServer({"tenants": [tenant(), tenant(company_id="beta")]}).start()
    yield server
    server.stop()


def publish_two(make_config, run, monkeypatch, sim, zones: tuple[str, str]):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    paris = partner_config(sim.url, schedule={"day": 28, "timezone": zones[0]})
    york = partner_config(sim.url, name="beta", schedule={"day": 28, "timezone": zones[1]},
                          usage={"csv": "usage/beta-{year}-{month:02d}.csv"})
    york["connectwise"]["company_id"] = "beta"
    config = make_config(partners=[paris, york],
                         usage={"acme-2026-11.csv": USAGE, "beta-2026-11.csv": USAGE})
    with freeze_time(NOW, tick=True):
        result = run(config, "publish", "--yes", "--json", "--month", "2026-11")
    assert result.exit_code == 0, result.output
    return config, json.loads(result.stdout)["entries"]


def test_partners_in_two_zones_are_listed_in_one(
    two, make_config, password, run, monkeypatch
):
    import keyring

    keyring.set_password("cwpublish", "connectwise:beta", password)
    config, entries = publish_two(make_config, run, monkeypatch, two,
                                  ("Europe/Paris", "America/New_York"))
    assert {e["partner"] for e in entries} == {"acme", "beta"}
    lines = run(config, "history").stdout.splitlines()
    rows = [line for line in lines if line.split()[0] in {e["id"] for e in entries}]
    assert len(rows) == 2 and all("2026-11-05 15:00" in r and " UTC " in r for r in rows), rows
    assert lines[-1] == "(times in the machine's time zone)"
    shown = run(config, "history", "show", entries[0]["id"]).stdout
    zone_of = {"acme": ("16:00", "CET"), "beta": ("10:00", "EST")}[entries[0]["partner"]]
    started = next(line for line in shown.splitlines() if line.startswith("Started:"))
    assert zone_of[0] in started and started.endswith(zone_of[1])


def test_one_zone_for_all_partners_is_the_view_zone(two, make_config, password, run, monkeypatch):
    import keyring

    keyring.set_password("cwpublish", "connectwise:beta", password)
    config, _ = publish_two(make_config, run, monkeypatch, two,
                            ("America/New_York", "America/New_York"))
    lines = run(config, "history").stdout.splitlines()
    assert lines[-1] == "(times in America/New_York)"
    assert sum("2026-11-05 10:00" in line and "EST" in line for line in lines) == 2
