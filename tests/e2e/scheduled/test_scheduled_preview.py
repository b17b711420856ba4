"""Issue 21, item 5: `publish --scheduled --dry-run` previews tonight's run: what is due, sent
nowhere, recorded nowhere (tonight's real run still publishes)."""

from __future__ import annotations

import json

from freezegun import freeze_time

from conftest import USAGE, partner_config, read_history, soap_requests

NOV = {"acme-2026-11.csv": USAGE}


def _scheduled(url: str) -> dict:
    return partner_config(url, schedule={"day": 5, "timezone": "America/New_York"})


def test_scheduled_dry_run_previews_tonight_and_changes_nothing(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[_scheduled(sim.url)], usage=NOV)
    with freeze_time("2026-11-05 07:00:00", tick=True):  # 02:00 in New York: acme is due
        preview = run(config, "publish", "--scheduled", "--dry-run", "--json")
        assert preview.exit_code == 0, preview.stdout + preview.stderr
        doc = json.loads(preview.stdout)
        assert doc["status"] == "dry-run"
        [entry] = doc["entries"]
        assert (entry["partner"], entry["period"]) == ("acme", "2026-11")
        assert len(entry["clients"]) == 3
        assert soap_requests(sim) == [] and read_history(tmp_path) == []
        real = run(config, "publish", "--scheduled")  # the preview did not use up the night
    assert real.exit_code == 0 and "published 3 of 3 clients" in real.stdout


def test_scheduled_dry_run_with_nothing_due_says_so(sim, make_config, password, run):
    config = make_config(partners=[_scheduled(sim.url)], usage=NOV)
    with freeze_time("2026-11-24 12:00:00"):
        result = run(config, "publish", "--scheduled", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout == "" and "nothing is due tonight" in result.stderr
    assert soap_requests(sim) == []
