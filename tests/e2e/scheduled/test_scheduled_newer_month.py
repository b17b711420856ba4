"""The nightly run never replaces a newer month a person published by hand (issue 19, gap b):
with `schedule.period: previous`, a manual publish of the current month and then the nightly
run of last month. A scheduled run cannot ask, so those clients fail (kind newer-held) and keep
the newer month; through the CLI against the simulator, with frozen nights."""

from __future__ import annotations

import json

from freezegun import freeze_time

from conftest import USAGE, partner_config, read_history, sim_state

USAGES = {
    "acme-2026-11.csv": USAGE,
    "acme-2026-12.csv": USAGE.replace("1250.456", "1400"),
}


def held(sim) -> dict[str, tuple[int, int]]:
    return {k: (v["year"], v["month"]) for k, v in sim_state(sim)["configurations"]["acme"].items()}


def test_the_nightly_previous_month_never_replaces_a_newer_manual_month(
    sim, make_config, password, run, tmp_path
):
    partner = partner_config(
        sim.url, schedule={"day": 5, "timezone": "America/New_York", "period": "previous"}
    )
    config = make_config(partners=[partner], usage=USAGES)
    with freeze_time("2026-12-03 15:00:00", tick=True):
        by_hand = run(config, "publish", "--month", "2026-12", "--client", "LAWSMITH", "--yes")
    assert by_hand.exit_code == 0, by_hand.stderr
    with freeze_time("2026-12-05 07:00:00", tick=True):
        nightly = run(config, "publish", "--scheduled", "--json")
    assert nightly.exit_code == 3, nightly.stdout + nightly.stderr
    doc = json.loads(nightly.stdout)
    assert (doc["status"], doc["exit_code"]) == ("partial", 3)
    [entry] = doc["entries"]
    assert entry["period"] == "2026-11" and entry["mode"] == "automatic"
    rows = {c["managed_id"]: c for c in entry["clients"]}
    assert rows["LAWSMITH"]["status"] == "failed" and rows["LAWSMITH"]["kind"] == "newer-held"
    assert "ConnectWise holds 2026-12" in rows["LAWSMITH"]["error"]
    assert "--client LAWSMITH --month 2026-11 --force" in rows["LAWSMITH"]["error"]
    assert {rows[k]["status"] for k in ("CONTOSO-01", "NORTHWIND")} == {"published"}
    assert held(sim) == {
        "LAWSMITH": (2026, 12), "CONTOSO-01": (2026, 11), "NORTHWIND": (2026, 11)
    }
    assert entry["scheduled_retry"]["next_try"] == "2026-12-06"
    assert [e["period"] for e in read_history(tmp_path)] == ["2026-11", "2026-12"]


def test_every_client_newer_fails_the_night_not_a_usage_error(
    sim, make_config, password, run, tmp_path
):
    partner = partner_config(
        sim.url, schedule={"day": 5, "timezone": "America/New_York", "period": "previous"}
    )
    config = make_config(partners=[partner], usage=USAGES)
    with freeze_time("2026-12-03 15:00:00", tick=True):
        assert run(config, "publish", "--month", "2026-12", "--yes").exit_code == 0
    with freeze_time("2026-12-05 07:00:00", tick=True):
        nightly = run(config, "publish", "--scheduled", "--json")
    assert nightly.exit_code == 1, nightly.stdout + nightly.stderr
    [entry] = json.loads(nightly.stdout)["entries"]
    assert {c["kind"] for c in entry["clients"]} == {"newer-held"}
    assert "no selected client has usage" not in (entry["error"] or "")
    assert set(held(sim).values()) == {(2026, 12)}
    with freeze_time("2026-12-06 07:00:00", tick=True):
        forced = run(config, "publish", "--scheduled", "--force", "--json")
    assert forced.exit_code == 0, forced.stdout + forced.stderr
    assert set(held(sim).values()) == {(2026, 11)}
