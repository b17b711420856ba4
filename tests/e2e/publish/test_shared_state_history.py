"""Two configurations sharing a state_dir with the same partner name (rehearsal and production
on different sites) never delete each other's history entries (issue 19, gap a): compaction
keeps ten per partner state key, and entries written before entries carried it are still read.
Through the CLI against the simulator (two site spellings of it), real files."""

from __future__ import annotations

import json
import shutil

import pytest
from freezegun import freeze_time
from helpers import DAY, NOV, OLD_ID, key_of, scheduled

from conftest import USAGE, partner_config, sim_state, soap_requests, tenant
from cwpublish.simulator import SimulatorServer
from cwpublish.state import history, journal
from cwpublish.state.history import entry_from_dict
from cwpublish.state.ledger import Ledger


@pytest.fixture(autouse=True)
def small_log(monkeypatch):
    """Compaction from the first doubling (the 64 KB floor would need ~200 publishes)."""
    monkeypatch.setattr(history, "COMPACT_FLOOR", 1)


def two_configs(sim, make_config, tmp_path):
    usage = {"acme-2026-12.csv": USAGE}
    production = make_config(partners=[partner_config(sim.url)], usage=usage)
    production = production.rename(tmp_path / "production.yaml")
    rehearsal_site = sim.url.replace("127.0.0.1", "localhost")
    rehearsal = make_config(partners=[partner_config(rehearsal_site)], usage=usage)
    return production, rehearsal


def test_eleven_rehearsals_keep_the_production_entry(sim, make_config, password, run, tmp_path):
    production, rehearsal = two_configs(sim, make_config, tmp_path)
    with freeze_time("2026-12-15 12:00:00", tick=True):
        first = run(production, "publish", "--yes", "--json")
        assert first.exit_code == 0, first.stderr
        [prod] = json.loads(first.stdout)["entries"]
        assert prod["state_key"].startswith("acme@http+127.0.0.1_")
        for _ in range(12):
            assert run(rehearsal, "publish", "--yes", "--force").exit_code == 0
        shown = json.loads(run(production, "history", "--json").stdout)
    assert (tmp_path / "state" / "history" / f"{prod['id']}.json").exists()
    assert prod["id"] in [e["id"] for e in shown]
    assert len(shown) == 11  # ten rehearsals (their own key) + the production entry
    assert run(production, "history", "show", prod["id"], "--json").exit_code == 0
    files = list((tmp_path / "state" / "history").glob("*.json"))
    assert len(files) <= 11 + 10  # compaction still prunes the rehearsals' own entries


def test_entries_without_a_state_key_count_with_the_newest_of_their_site(
    sim, make_config, password, run, tmp_path
):
    production, rehearsal = two_configs(sim, make_config, tmp_path)
    with freeze_time("2026-12-15 12:00:00", tick=True):
        assert run(production, "publish", "--yes").exit_code == 0
        assert run(rehearsal, "publish", "--yes", "--force").exit_code == 0
        # written before entries carried their key: strip it from both (files and log)
        state = tmp_path / "state"
        for path in (state / "history").glob("*.json"):
            data = json.loads(path.read_text())
            data.pop("state_key")
            path.write_text(json.dumps(data))
        log = state / "history.log"
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        for line in lines[1:]:
            line["entry"].pop("state_key")
        log.write_text("".join(json.dumps(line) + "\n" for line in lines))
        for _ in range(10):
            assert run(rehearsal, "publish", "--yes", "--force").exit_code == 0
        shown = json.loads(run(production, "history", "--json").stdout)
    sites = [e["site"] for e in shown]
    assert sites.count(sim.url) == 1  # the old production entry survives
    assert len(shown) == 11  # the old rehearsal entry is the 11th of the rehearsal key: gone


def test_a_deleted_history_log_is_rebuilt_from_the_entry_files(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage={"acme-2026-12.csv": USAGE})
    with freeze_time("2026-12-15 12:00:00", tick=True):
        first = run(config, "publish", "--yes", "--json")
        [entry] = json.loads(first.stdout)["entries"]
        (tmp_path / "state" / "history.log").unlink()  # an operator tidying up
        again = run(config, "publish", "--yes", "--force")
        assert again.exit_code == 0, again.stderr
        shown = json.loads(run(config, "history", "--json").stdout)
    assert len(shown) == 2 and shown[1]["id"] == entry["id"]
    assert (tmp_path / "state" / "history" / f"{entry['id']}.json").exists()


def test_a_killed_runs_entry_reaches_its_own_configs_ledger(
    sim, make_config, password, run, tmp_path
):
    """Killed after its history write, before the ledger: the next run -- of the OTHER
    configuration sharing the state_dir -- records it under the key it was sent under."""
    production, rehearsal = two_configs(sim, make_config, tmp_path)
    state = tmp_path / "state"
    with freeze_time("2026-12-15 12:00:00", tick=True):
        first = run(production, "publish", "--yes", "--json")
        [sent] = json.loads(first.stdout)["entries"]
        key = sent["state_key"]
        # what the kill leaves: the entry in history, not in the ledger, its journal begun
        shutil.rmtree(state / "ledger" / key)
        journal.begin(state, entry_from_dict(sent), [], entry_from_dict(sent).clients)
        assert run(rehearsal, "publish", "--yes", "--force").exit_code == 0
    ledger = Ledger(state)
    assert ledger.has_entry(key, "2026-12", sent["id"])
    [other] = [k for k in (p.name for p in (state / "ledger").iterdir()) if k != key]
    assert not ledger.has_entry(other, "2026-12", sent["id"])
    assert not list((state / "runs").glob("*.json"))


def test_rehearsal_and_production_sharing_a_state_dir_both_publish(
    sim, make_config, password, run, tmp_path
):
    production_sim = SimulatorServer({"tenants": [tenant()]}).start()
    try:
        rehearsal = make_config(partners=[scheduled(sim.url)], usage=NOV)
        rehearsal = rehearsal.rename(tmp_path / "rehearsal.yaml")
        production = make_config(partners=[scheduled(production_sim.url)], usage=NOV)
        with freeze_time(DAY, tick=True):
            rehearsed = run(rehearsal, "publish", "--scheduled")
            published = run(production, "publish", "--scheduled")
            repeats = [run(c, "publish", "--scheduled") for c in (rehearsal, production)]
        assert rehearsed.exit_code == published.exit_code == 0
        assert "published 3 of 3 clients" in published.stdout  # not silently skipped
        assert all(r.exit_code == 0 and r.stdout == "" for r in repeats)
        for server in (sim, production_sim):
            assert len(soap_requests(server, "UpdateManagedDevices")) == 1
            assert len(sim_state(server)["configurations"]["acme"]) == 3
        schedule = json.loads((tmp_path / "state" / "schedule.json").read_text())
        assert set(schedule) == {key_of(rehearsal), key_of(production)}  # neither forgotten
    finally:
        production_sim.stop()


def test_name_keyed_state_is_adopted_on_upgrade_without_publishing_again(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[scheduled(sim.url)], usage=NOV)
    state = tmp_path / "state"
    legacy = state / "ledger" / "acme"
    legacy.mkdir(parents=True)
    record = {"automatic": {"at": "2026-11-05T07:00:00+00:00", "by": "cron", "billable_gb": 1.0,
                            "entry_id": OLD_ID}}
    ids = ["LAWSMITH", "CONTOSO-01", "NORTHWIND"]
    (legacy / "2026-11.json").write_text(json.dumps({i: record for i in ids}))
    (state / "schedule.json").write_text(json.dumps({"acme": {"day": 5, "since": "2026-10-01"}}))
    with freeze_time(DAY, tick=True):
        scheduled_run = run(config, "-v", "publish", "--scheduled")
        manual = run(config, "publish", "--yes", "--month", "2026-11")
    assert scheduled_run.exit_code == 0 and scheduled_run.stdout == ""
    assert "2026-11 was already published automatically" in scheduled_run.stderr
    assert manual.exit_code == 2 and "3 client(s) were already published" in manual.stderr
    assert soap_requests(sim) == []
    key = key_of(config)
    assert not legacy.exists() and (state / "ledger" / key / "2026-11.json").exists()
    assert json.loads((state / "schedule.json").read_text()) == {
        key: {"day": 5, "since": "2026-10-01"}
    }
