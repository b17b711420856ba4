"""Recording is one step that cannot half-happen (issue 19, item 4): when the history, the
ledger or the journal cannot be written after ConnectWise accepted the data, the run exits 4
naming what was not recorded; the next run records it as it is (never as killed), catches the
ledger up, and neither re-sends nor rewrites it. A damaged history.log (the first line too) is
moved aside and rebuilt, never truncated.

The tests run as root in CI, where chmod does not stop writes: a file where a folder should be
makes a write fail instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from freezegun import freeze_time

from conftest import USAGE, read_history, sim_state, soap_requests
from cwpublish.config.load import load_config
from cwpublish.config.model import state_key

MONTHS = {"acme-2026-11.csv": USAGE.replace("1250.456", "1111"), "acme-2026-12.csv": USAGE}


@pytest.fixture(autouse=True)
def frozen():
    with freeze_time("2026-12-15 12:00:00", tick=True):
        yield


def in_the_way(path: Path) -> None:
    """A file where a folder should be: writing under it fails, even as root."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a folder")


def updates(sim) -> int:
    return len(soap_requests(sim, "UpdateManagedDevices"))


def ledger_ids(state: Path, key: str, period: str) -> list[str]:
    data = json.loads((state / "ledger" / key / f"{period}.json").read_text())
    return [p["entry_id"] for p in data["publishes"]]


def test_a_ledger_that_cannot_be_written_is_caught_up_by_the_next_run(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage=MONTHS)
    state = tmp_path / "state"
    key = state_key(load_config(config).partners[0])
    in_the_way(state / "ledger" / key)
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 4, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["status"], doc["exit_code"]) == ("not-recorded", 4)
    assert "ledger" in doc["not_recorded"] and "history" not in doc["not_recorded"]
    assert "was published as shown, but not recorded in: ledger" in result.stderr
    [entry] = doc["entries"]
    assert entry["status"] == "success" and entry["exit_code"] == 0
    assert sim_state(sim)["configurations"]["acme"]["LAWSMITH"]["month"] == 12
    journal = json.loads((state / "runs" / f"{entry['id']}.json").read_text())
    assert journal["finished"]["status"] == "success" and journal["key"] == key
    sent = updates(sim)
    blocked = run(config, "publish", "--yes", "--month", "2026-11")  # still not writable
    assert blocked.exit_code == 1
    assert "not published: an earlier publish is still not recorded" in blocked.stderr
    assert entry["id"] in blocked.stderr and updates(sim) == sent

    (state / "ledger" / key).unlink()  # the disk is fixed
    again = run(config, "publish", "--yes")
    assert again.exit_code == 2 and "already published" in again.stderr  # caught up first
    assert updates(sim) == sent  # nothing re-sent blindly
    [kept] = read_history(tmp_path)
    assert (kept["id"], kept["status"], kept["exit_code"]) == (entry["id"], "success", 0)
    assert {c["status"] for c in kept["clients"]} == {"published"}
    assert ledger_ids(state, key, "2026-12") == [entry["id"]]
    assert list((state / "runs").glob("*.json")) == []


def test_a_history_that_cannot_be_written_is_recorded_by_the_next_run(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage=MONTHS)
    state = tmp_path / "state"
    key = state_key(load_config(config).partners[0])
    in_the_way(state / "history")
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 4
    doc = json.loads(result.stdout)
    assert doc["status"] == "not-recorded" and "history" in doc["not_recorded"]
    entry_id = doc["entries"][0]["id"]
    assert ledger_ids(state, key, "2026-12") == [entry_id]  # the ledger was still written

    (state / "history").unlink()
    sent = updates(sim)
    again = run(config, "publish", "--yes")
    assert again.exit_code == 2 and "already published" in again.stderr
    assert updates(sim) == sent
    [kept] = read_history(tmp_path)
    assert (kept["id"], kept["status"], kept["period"]) == (entry_id, "success", "2026-12")
    assert "not recorded in: history" in " ".join(kept["warnings"])
    assert ledger_ids(state, key, "2026-12") == [entry_id]  # not recorded twice


def test_history_ledger_and_journal_all_unwritable_names_all_three(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage=MONTHS)
    state = tmp_path / "state"
    key = state_key(load_config(config).partners[0])
    for folder in ("history", f"ledger/{key}", "runs"):
        in_the_way(state / folder)
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 4
    missing = json.loads(result.stdout)["not_recorded"]
    assert all(word in missing for word in ("history", "ledger", "journal"))
    assert "the next run records it" not in result.stderr  # it cannot: said so, not promised


def test_an_entry_already_in_history_is_never_rewritten_as_killed(
    sim, make_config, password, run, tmp_path
):
    """What older versions left: the entry in history, the ledger not, the journal open."""
    config = make_config(sim.url, usage=MONTHS)
    state = tmp_path / "state"
    key = state_key(load_config(config).partners[0])
    assert run(config, "publish", "--yes").exit_code == 0
    [entry] = read_history(tmp_path)
    (state / "ledger" / key / "2026-12.json").unlink()
    (state / "runs").mkdir(exist_ok=True)
    (state / "runs" / f"{entry['id']}.json").write_text(json.dumps({  # as begin() writes it
        **{k: entry[k] for k in ("id", "partner", "mode", "initiated_by", "period",
                                 "started_at", "site")},
        "pid": 1, "sending": [[c["name"], c["managed_id"], c["billable_gb"]]
                              for c in entry["clients"]], "clients": [],
    }))
    sent = updates(sim)
    again = run(config, "publish", "--yes")
    assert again.exit_code == 2 and "already published" in again.stderr
    assert updates(sim) == sent
    [kept] = read_history(tmp_path)
    assert (kept["id"], kept["status"]) == (entry["id"], "success")
    assert ledger_ids(state, key, "2026-12") == [entry["id"]]


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: b"\x00\xffgarbage" + raw[raw.index(b"\n"):],  # the first line damaged
        lambda raw: b'{"history": 3, "ke',  # one torn line, no line break at all
        lambda raw: raw + b"not json\n" + b'{"op":"add"}\n',  # a line in the middle
    ],
)
def test_a_damaged_history_log_is_moved_aside_and_rebuilt_never_truncated(
    sim, make_config, password, run, tmp_path, damage
):
    config = make_config(sim.url, usage=MONTHS)
    state = tmp_path / "state"
    assert run(config, "publish", "--yes", "--month", "2026-11").exit_code == 0
    log = state / "history.log"
    damaged = damage(log.read_bytes())
    log.write_bytes(damaged)
    with freeze_time("2026-12-15 12:05:00", tick=True):  # a later start: a rebuild's order
        result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(run(config, "history", "--json").stdout)
    assert [e["period"] for e in listed] == ["2026-12", "2026-11"]
    [aside] = state.glob("history.log.corrupt-*")
    assert aside.read_bytes().startswith(damaged)  # whole, as it was found


def test_a_scheduled_run_catches_the_ledger_up_before_deciding_what_is_due(
    make_config, password, run, tmp_path
):
    from conftest import CLIENTS, partner_config, tenant
    from cwpublish.simulator import SimulatorServer

    known = [{"name": c["name"], "managed_id": c["managed_id"], "device_type": "Backup Stats"}
             for c in CLIENTS if c["managed_id"] != "CONTOSO-01"]  # one client fails
    sim = SimulatorServer({"tenants": [tenant(known)]}).start()
    try:
        partner = partner_config(sim.url, schedule={"day": 15, "timezone": "UTC"})
        config = make_config(partners=[partner], usage=MONTHS)
        state = tmp_path / "state"
        key = state_key(load_config(config).partners[0])
        in_the_way(state / "ledger" / key)
        first = run(config, "publish", "--scheduled", "--json")
        assert first.exit_code == 4, first.stdout + first.stderr
        assert json.loads(first.stdout)["status"] == "not-recorded"
        (state / "ledger" / key).unlink()
        with freeze_time("2026-12-16 12:00:00", tick=True):  # the retry night
            second = run(config, "publish", "--scheduled", "--json")
        sent = [d["managed_id"] for r in soap_requests(sim, "UpdateManagedDevices")
                for d in r["devices"]]
    finally:
        sim.stop()
    assert second.exit_code == 1, second.stdout + second.stderr  # CONTOSO-01 fails again
    assert sorted(sent) == ["LAWSMITH", "NORTHWIND"]  # caught up: not sent again blindly
    first_id = json.loads(first.stdout)["entries"][0]["id"]
    assert ledger_ids(state, key, "2026-12") == [first_id]
    assert [e["status"] for e in read_history(tmp_path)] == ["failed", "partial"]
