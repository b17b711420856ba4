"""`publish --scheduled --dry-run` previews what tonight's run does, decided as that run decides:
a manual publish before the day does not count as done, and on a retry night a client published
by hand since the first try is not sent again. The preview and the real night agree on the
clients sent and on the exit code (the manual dry run's duplicate refusal is not the night's)."""

from __future__ import annotations

import json

from freezegun import freeze_time
from test_scheduled_retries import DOWN, NOV, night, scheduled_partner

from conftest import sim_faults

ALL = ["CONTOSO-01", "LAWSMITH", "NORTHWIND"]


def _preview(run, config, when: str):
    with freeze_time(when, tick=True):
        return run(config, "publish", "--scheduled", "--dry-run", "--json")


def _sending(entry: dict) -> list[str]:
    return sorted(c["managed_id"] for c in entry["clients"] if c["status"] == "would-publish")


def _published(entry: dict) -> list[str]:
    return sorted(c["managed_id"] for c in entry["clients"] if c["status"] == "published")


def test_a_manual_publish_before_the_day_is_previewed_as_the_night_sends_it(
    sim, make_config, password, run
):
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    with freeze_time("2026-11-03 15:00:00"):  # an early on-demand publish of one client
        early = run(config, "publish", "--client", "LAWSMITH", "--month", "2026-11", "--yes")
    assert early.exit_code == 0, early.stdout + early.stderr
    preview = _preview(run, config, "2026-11-05 07:00:00")
    assert preview.exit_code == 0, preview.stdout + preview.stderr
    [entry] = json.loads(preview.stdout)["entries"]
    assert entry["mode"] == "automatic"
    assert _sending(entry) == ALL  # a manual publish does not count: the night sends all three
    real = night(run, config, "2026-11-05 07:00:00")
    assert real.exit_code == 0, real.stdout + real.stderr
    assert _published(json.loads(real.stdout)["entries"][0]) == ALL


def test_a_retry_night_preview_leaves_out_a_client_published_by_hand_since_the_first_try(
    sim, make_config, password, run
):
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    sim_faults(sim, DOWN)
    assert night(run, config, "2026-11-05 07:00:00").exit_code == 1  # the first try fails
    sim_faults(sim, [])
    with freeze_time("2026-11-05 15:00:00"):  # a person publishes one client by hand
        by_hand = run(config, "publish", "--client", "LAWSMITH", "--month", "2026-11", "--yes")
    assert by_hand.exit_code == 0, by_hand.stdout + by_hand.stderr
    preview = _preview(run, config, "2026-11-06 07:00:00")
    assert preview.exit_code == 0, preview.stdout + preview.stderr
    [entry] = json.loads(preview.stdout)["entries"]
    assert _sending(entry) == ["CONTOSO-01", "NORTHWIND"]
    real = night(run, config, "2026-11-06 07:00:00")
    assert real.exit_code == 0, real.stdout + real.stderr
    assert _published(json.loads(real.stdout)["entries"][0]) == ["CONTOSO-01", "NORTHWIND"]


def test_a_newer_month_held_is_previewed_as_the_nights_failure_not_a_refusal(
    sim, make_config, password, run
):
    partner = scheduled_partner(sim.url, period="previous")
    usage = {**NOV, "acme-2026-12.csv": NOV["acme-2026-11.csv"]}
    config = make_config(partners=[partner], usage=usage)
    with freeze_time("2026-12-03 15:00:00"):
        by_hand = run(config, "publish", "--month", "2026-12", "--client", "LAWSMITH", "--yes")
    assert by_hand.exit_code == 0, by_hand.stdout + by_hand.stderr
    preview = _preview(run, config, "2026-12-05 07:00:00")
    assert preview.exit_code == 3, preview.stdout + preview.stderr  # as the night: partial
    [entry] = json.loads(preview.stdout)["entries"]
    assert entry["period"] == "2026-11"
    assert _sending(entry) == ["CONTOSO-01", "NORTHWIND"]
    [law] = [c for c in entry["clients"] if c["managed_id"] == "LAWSMITH"]
    assert law["kind"] == "newer-held"
    real = night(run, config, "2026-12-05 07:00:00")
    assert real.exit_code == 3, real.stdout + real.stderr
    assert _published(json.loads(real.stdout)["entries"][0]) == ["CONTOSO-01", "NORTHWIND"]
