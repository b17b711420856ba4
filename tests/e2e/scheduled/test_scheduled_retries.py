"""A failed scheduled period is tried again on the following nights, never silently dropped;
and configurations sharing a state_dir keep each other's schedule. Through the CLI
(`publish --scheduled`) with frozen nights, the simulator's fault injection, real files and a
real SMTP server on loopback."""

from __future__ import annotations

import json

import keyring
import yaml
from freezegun import freeze_time

from conftest import (
    USAGE,
    partner_config,
    read_history,
    sim_faults,
    sim_state,
    soap_requests,
)
from cwpublish.config.load import load_config
from cwpublish.config.model import state_key
from cwpublish.state.ledger import Ledger

NOV = {"acme-2026-11.csv": USAGE}
DOWN = [{"operation": "UpdateManagedDevices", "http_status": 503}]
ALL = {"LAWSMITH", "CONTOSO-01", "NORTHWIND"}


def scheduled_partner(url: str, **schedule) -> dict:
    return partner_config(url, schedule={"day": 5, "timezone": "America/New_York", **schedule})


def night(run, config, when: str, *args: str):
    """One nightly cron run at `when` (UTC), with --json."""
    with freeze_time(when, tick=True):
        return run(config, "publish", "--scheduled", "--json", *args)


def schedule_json(tmp_path) -> dict:
    return json.loads((tmp_path / "state" / "schedule.json").read_text())


def automatic(tmp_path, config, period: str) -> set[str]:
    """The Managed IDs the ledger holds as published automatically for `period`."""
    key = state_key(load_config(config).partners[0])
    ledger = Ledger(tmp_path / "state")
    return {m for m in ALL if "automatic" in ledger.published(key, period, m)}


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_fail_on_the_day_succeed_the_next_night_then_nothing(
    sim, make_config, password, run, tmp_path, smtp_server, smtp_password
):
    config = make_config(
        partners=[scheduled_partner(sim.url)], usage=NOV, smtp=smtp_server.config
    )
    sim_faults(sim, DOWN)
    failed = night(run, config, "2026-11-05 07:00:00")  # 02:00 in New York
    assert failed.exit_code == 1, failed.stdout + failed.stderr
    out = json.loads(failed.stdout)
    assert out["status"] == "failed" and out["exit_code"] == 1
    [entry] = out["entries"]
    assert entry["mode"] == "automatic" and entry["period"] == "2026-11"
    assert entry["scheduled_retry"] == {
        "first_try": "2026-11-05",
        "next_try": "2026-11-06",
        "last_try": "2026-12-04",
    }
    assert entry["notification"]["status"] == "sent", entry["notification"]
    [(_, _, mail)] = smtp_server.messages
    body = " ".join(text_of(mail).split())
    assert "tries the 3 clients not published again on 2026-11-06" in body
    assert "its last try is on 2026-12-04" in body
    assert "Publish again once it answers" not in body  # the schedule does, and says when
    assert "The schedule publishes it again on 2026-11-06" in body
    assert schedule_json(tmp_path)[state_key(load_config(config).partners[0])]["attempted"] == {
        "period": "2026-11", "first_try": "2026-11-05", "tried": "2026-11-05", "open": True
    }
    [recorded] = read_history(tmp_path)
    assert recorded["status"] == "failed" and recorded["exit_code"] == 1
    assert recorded["scheduled_retry"] == entry["scheduled_retry"]
    assert automatic(tmp_path, config, "2026-11") == set()
    assert sim_state(sim)["configurations"].get("acme", {}) == {}

    sim_faults(sim, [])  # ConnectWise answers again
    retried = night(run, config, "2026-11-06 07:00:00")
    assert retried.exit_code == 0, retried.stdout + retried.stderr
    [entry] = json.loads(retried.stdout)["entries"]
    assert entry["status"] == "success" and entry["period"] == "2026-11"
    assert entry["mode"] == "automatic" and entry["scheduled_retry"] is None
    assert automatic(tmp_path, config, "2026-11") == ALL
    got = sim_state(sim)["configurations"]["acme"]
    assert {(v["year"], v["month"]) for v in got.values()} == {(2026, 11)} and len(got) == 3
    assert "published 3 of 3 clients" in smtp_server.messages[1][2]["Subject"]
    key = state_key(load_config(config).partners[0])
    assert schedule_json(tmp_path)[key]["attempted"]["open"] is False

    with freeze_time("2026-11-07 07:00:00", tick=True):
        quiet = run(config, "-v", "publish", "--scheduled")
    assert quiet.exit_code == 0 and quiet.stdout == ""
    assert "next automatic publish on 2026-12-05" in quiet.stderr
    assert [e["status"] for e in read_history(tmp_path)] == ["success", "failed"]
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1 + 4  # today's, then 4 on the 5th
    assert len(smtp_server.messages) == 2


def test_a_period_that_never_succeeds_is_reported_not_published_on_its_last_try(
    sim, make_config, password, run, tmp_path, smtp_server, smtp_password
):
    config = make_config(
        partners=[scheduled_partner(sim.url)],
        usage={**NOV, "acme-2026-12.csv": USAGE},
        smtp=smtp_server.config,
    )
    sim_faults(sim, DOWN)
    assert night(run, config, "2026-11-05 07:00:00").exit_code == 1
    with freeze_time("2026-11-20 07:00:00", tick=True):  # a night in between, in human form
        middle = run(config, "publish", "--scheduled")
    assert middle.exit_code == 1
    printed = " ".join(middle.stdout.split())
    assert "tries the 3 clients not published again on 2026-11-21" in printed

    last = night(run, config, "2026-12-04 07:00:00")  # the night before December's run date
    assert last.exit_code == 1
    [entry] = json.loads(last.stdout)["entries"]
    assert entry["period"] == "2026-11"
    assert entry["scheduled_retry"] == {
        "first_try": "2026-11-05", "next_try": None, "last_try": "2026-12-04"
    }
    assert smtp_server.messages[-1][2]["Subject"].startswith(
        "[cwpublish] acme 2026-11 (last automatic try) FAILED: "
    )
    assert "last automatic try" not in smtp_server.messages[0][2]["Subject"]
    body = " ".join(text_of(smtp_server.messages[-1][2]).split())
    assert (
        "This was the last automatic try: 2026-11 is NOT published for 3 clients, and the "
        f"schedule will not try again. Publish it: cwpublish publish --retry {entry['id']}"
    ) in body
    assert "The schedule publishes it again" not in body

    sim_faults(sim, [])
    december = night(run, config, "2026-12-05 07:00:00")
    assert december.exit_code == 0, december.stdout + december.stderr
    assert [e["period"] for e in json.loads(december.stdout)["entries"]] == ["2026-12"]
    assert "NOT published" not in december.stderr  # its last try already said so
    assert automatic(tmp_path, config, "2026-11") == set()
    assert automatic(tmp_path, config, "2026-12") == ALL
    got = sim_state(sim)["configurations"]["acme"]
    assert {(v["year"], v["month"]) for v in got.values()} == {(2026, 12)}
    assert [e["period"] for e in read_history(tmp_path)] == ["2026-12"] + ["2026-11"] * 3


def test_retries_missed_by_a_machine_that_was_off_are_reported_once(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    sim_faults(sim, DOWN)
    assert night(run, config, "2026-11-05 07:00:00").exit_code == 1
    sim_faults(sim, [])
    with freeze_time("2026-12-06 07:00:00", tick=True):  # off from 6 Nov to 5 Dec
        back = run(config, "publish", "--scheduled")
        again = run(config, "publish", "--scheduled")
    assert back.exit_code == 0 and back.stdout == ""
    assert (
        "cwpublish: warning: acme: 2026-11 was NOT published automatically: it failed on "
        "2026-11-05, was last tried on 2026-11-05, and its retries have ended; publish it "
        "with: cwpublish publish --partner acme --month 2026-11\n"
    ) in back.stderr
    assert again.stderr == "" and again.stdout == ""  # said once
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 4  # the 5th's, retried inside


def test_a_partly_failed_night_retries_only_the_clients_left(
    sim, make_config, password, run, tmp_path
):
    companies = sim.sim.tenants["acme"]["companies"]
    contoso = companies.pop(1)  # its Managed ID is not set up in ConnectWise yet
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    partial = night(run, config, "2026-11-05 07:00:00")
    assert partial.exit_code == 3
    assert json.loads(partial.stdout)["entries"][0]["scheduled_retry"]["next_try"] == "2026-11-06"
    companies.append(contoso)
    retried = night(run, config, "2026-11-06 07:00:00")
    assert retried.exit_code == 0
    [entry] = json.loads(retried.stdout)["entries"]
    assert {c["managed_id"]: c["status"] for c in entry["clients"]} == {
        "LAWSMITH": "skipped", "NORTHWIND": "skipped", "CONTOSO-01": "published"
    }
    assert [d["managed_id"] for d in soap_requests(sim, "UpdateManagedDevices")[-1]["devices"]] == [
        "CONTOSO-01"
    ]
    assert automatic(tmp_path, config, "2026-11") == ALL


def write_config(tmp_path, name: str, partner: dict):
    path = tmp_path / f"{name}.yaml"
    data = {"state_dir": str(tmp_path / "state"), "partners": [partner]}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_two_configs_sharing_a_state_dir_keep_each_others_schedule(
    sim, make_config, password, run, tmp_path
):
    make_config(usage=NOV)  # the usage file, beside both configs
    keyring.set_password("cwpublish", "connectwise:billing", keyring.get_password(
        "cwpublish", "connectwise:acme"))
    first = write_config(tmp_path, "first", scheduled_partner(sim.url, catch_up_days=3))
    second_partner = scheduled_partner(sim.url, catch_up_days=3)
    second_partner["name"] = "billing"  # same site and company, another configuration
    second = write_config(tmp_path, "second", second_partner)
    for config in (first, second):
        with freeze_time("2026-11-01 07:00:00"):
            assert run(config, "publish", "--scheduled").exit_code == 0
    keys = {state_key(load_config(c).partners[0]) for c in (first, second)}
    assert set(schedule_json(tmp_path)) == keys
    # the machine was off on the 5th and 6th; each config's run keeps the other's entry
    for config in (first, second, first, second):
        with freeze_time("2026-11-07 07:00:00", tick=True):
            result = run(config, "publish", "--scheduled", "--json")
        assert result.exit_code == 0, result.stdout + result.stderr
    assert set(schedule_json(tmp_path)) == keys
    assert all(v["since"] == "2026-11-01" for v in schedule_json(tmp_path).values())
    partners = [e["partner"] for e in read_history(tmp_path)]
    assert sorted(partners) == ["acme", "billing"]  # each caught up once
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 2


def test_a_day_without_its_usage_file_is_published_the_night_it_arrives(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[scheduled_partner(sim.url)])  # no usage file yet
    missing = night(run, config, "2026-11-05 07:00:00")
    assert missing.exit_code == 2, missing.stdout + missing.stderr
    [entry] = json.loads(missing.stdout)["entries"]
    assert entry["scheduled_retry"]["next_try"] == "2026-11-06"
    assert soap_requests(sim, "UpdateManagedDevices") == []
    (tmp_path / "usage").mkdir(exist_ok=True)
    (tmp_path / "usage" / "acme-2026-11.csv").write_text(USAGE, encoding="utf-8")
    arrived = night(run, config, "2026-11-06 07:00:00")
    assert arrived.exit_code == 0, arrived.stdout + arrived.stderr
    assert json.loads(arrived.stdout)["entries"][0]["status"] == "success"
    assert automatic(tmp_path, config, "2026-11") == ALL
