"""`publish --scheduled` through the CLI with frozen time, against the simulator."""

from __future__ import annotations

import json

from freezegun import freeze_time

from conftest import USAGE, partner_config, read_history, sim_faults, sim_state, soap_requests

NOV = {"acme-2026-11.csv": USAGE}


def scheduled_partner(url: str, **schedule) -> dict:
    return partner_config(url, schedule={"day": 5, "timezone": "America/New_York", **schedule})


def test_nothing_due_prints_nothing_and_exits_0(sim, make_config, password, run):
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    with freeze_time("2026-11-24 12:00:00"):
        result = run(config, "publish", "--scheduled")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""
    assert soap_requests(sim) == []
    with freeze_time("2026-11-24 12:00:00"):
        verbose = run(config, "-v", "publish", "--scheduled")
    assert verbose.stderr == "cwpublish: acme: next automatic publish on 2026-12-05\n"


def test_due_day_publishes_automatically_once(sim, make_config, password, run, tmp_path):
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    with freeze_time("2026-11-05 07:00:00", tick=True):  # 02:00 in New York
        first = run(config, "publish", "--scheduled")
        second = run(config, "publish", "--scheduled")
    assert first.exit_code == 0, first.stdout + first.stderr
    assert "published 3 of 3 clients" in first.stdout
    [entry] = read_history(tmp_path)
    assert entry["mode"] == "automatic" and entry["period"] == "2026-11"
    assert second.exit_code == 0 and second.stdout == ""
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1
    got = sim_state(sim)["configurations"]["acme"]
    assert {(v["year"], v["month"]) for v in got.values()} == {(2026, 11)}


def test_a_manual_publish_does_not_count_as_the_automatic_one(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    with freeze_time("2026-11-03 15:00:00", tick=True):
        assert run(config, "publish", "--yes").exit_code == 0
    with freeze_time("2026-11-05 15:00:00", tick=True):
        assert run(config, "publish", "--scheduled").exit_code == 0
    assert [e["mode"] for e in read_history(tmp_path)] == ["automatic", "manual"]


def test_partial_then_only_the_rest(sim, make_config, password, run, tmp_path):
    companies = sim.sim.tenants["acme"]["companies"]
    contoso = companies.pop(1)
    config = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    with freeze_time("2026-11-05 15:00:00", tick=True):
        first = run(config, "publish", "--scheduled")
        assert first.exit_code == 3
        companies.append(contoso)  # the partner fixes the Managed ID in ConnectWise
        second = run(config, "publish", "--scheduled")
        third = run(config, "publish", "--scheduled")
    assert second.exit_code == 0, second.stdout
    last = soap_requests(sim, "UpdateManagedDevices")[-1]
    assert [d["managed_id"] for d in last["devices"]] == ["CONTOSO-01"]
    entry = read_history(tmp_path)[0]
    assert {c["managed_id"]: c["status"] for c in entry["clients"]} == {
        "LAWSMITH": "skipped",
        "NORTHWIND": "skipped",
        "CONTOSO-01": "published",
    }
    assert entry["status"] == "success"
    assert third.stdout == "" and len(read_history(tmp_path)) == 2


def test_catch_up_publishes_a_missed_day(sim, make_config, password, run, tmp_path):
    off = make_config(partners=[scheduled_partner(sim.url)], usage=NOV)
    with freeze_time("2026-11-04 15:00:00"):
        run(off, "publish", "--scheduled")  # the schedule is seen before the day
    with freeze_time("2026-11-07 15:00:00", tick=True):
        assert run(off, "publish", "--scheduled").stdout == ""  # missed the 5th
    on = make_config(partners=[scheduled_partner(sim.url, catch_up_days=3)], usage=NOV)
    with freeze_time("2026-11-07 15:00:00", tick=True):
        result = run(on, "-v", "publish", "--scheduled")
    assert result.exit_code == 0 and "2 days late, catch-up" in result.stderr
    assert read_history(tmp_path)[0]["mode"] == "automatic"


def test_force_publishes_a_done_period_again_and_partner_limits(sim, make_config, password, run):
    partner = scheduled_partner(sim.url)
    partner["clients"].append({"name": "Not Billed Here", "managed_id": "SKIP-1",
                               "publish": False})
    config = make_config(partners=[partner], usage=NOV)
    with freeze_time("2026-11-05 15:00:00", tick=True):
        run(config, "publish", "--scheduled")
        assert run(config, "publish", "--scheduled").stdout == ""
        forced = run(config, "publish", "--scheduled", "--force", "--partner", "acme")
    assert forced.exit_code == 0 and "published 3 of 3" in forced.stdout
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 2
    assert "SKIP-1" not in forced.stdout  # publish: false stays out, --force or not


def test_one_failing_partner_does_not_stop_the_others(sim, make_config, password, run):
    broken = scheduled_partner("http://127.0.0.1:9")
    broken["name"] = "broken"
    import keyring

    keyring.set_password("cwpublish", "connectwise:broken", "x")
    config = make_config(partners=[broken, scheduled_partner(sim.url)], usage=NOV)
    with freeze_time("2026-11-05 15:00:00", tick=True):
        result = run(config, "publish", "--scheduled")
    assert result.exit_code == 3  # one partner published, one failed: partial (one rule)
    assert "published 3 of 3 clients" in result.stdout
    assert "broken 2026-11: FAILED" in result.stdout


def test_scheduled_refuses_manual_options(make_config, run):
    result = run(make_config(), "publish", "--scheduled", "--client", "x")
    assert result.exit_code == 2 and "--scheduled publishes whole partners" in result.stderr


def test_pings_start_success_and_fail(sim, make_config, password, run, ping_server):
    url = f"http://127.0.0.1:{ping_server.server_address[1]}/ping/abc"
    config = make_config(
        partners=[scheduled_partner(sim.url, ping_url=url)],
        usage={**NOV, "acme-2026-12.csv": USAGE},
    )
    with freeze_time("2026-11-04 15:00:00"):
        assert run(config, "publish", "--scheduled").stdout == ""
    with freeze_time("2026-11-05 15:00:00", tick=True):
        run(config, "publish", "--scheduled")
    assert ping_server.paths == ["/ping/abc", "/ping/abc/start", "/ping/abc/0"]
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "http_status": 503}])
    with freeze_time("2026-12-05 15:00:00", tick=True):
        assert run(config, "publish", "--scheduled").exit_code == 1
    assert ping_server.paths[-2:] == ["/ping/abc/start", "/ping/abc/1"]  # the exit code


def test_a_failed_ping_is_only_a_warning(sim, make_config, password, run):
    config = make_config(
        partners=[scheduled_partner(sim.url, ping_url="http://127.0.0.1:9/ping")], usage=NOV
    )
    with freeze_time("2026-11-05 15:00:00", tick=True):
        result = run(config, "publish", "--scheduled")
    assert result.exit_code == 0
    assert "cwpublish: warning: ping http://127.0.0.1:9/ping/start failed" in result.stderr


def test_schedule_state_remembers_the_day_and_when_it_changed(
    sim, make_config, password, run, tmp_path
):
    config = make_config(partners=[scheduled_partner(sim.url, day=6)], usage=NOV)
    with freeze_time("2026-10-20 15:00:00"):
        run(config, "publish", "--scheduled")
    config = make_config(partners=[scheduled_partner(sim.url, day=1)], usage=NOV)
    with freeze_time("2026-11-03 15:00:00"):
        verbose = run(config, "-v", "publish", "--scheduled")
    assert "next automatic publish on 2026-12-01" in verbose.stderr
    state = json.loads((tmp_path / "state" / "schedule.json").read_text())
    from cwpublish.config.load import load_config
    from cwpublish.config.model import state_key

    key = state_key(load_config(config).partners[0])  # the partner on this site and company
    assert key.startswith("acme@http+127.0.0.1_") and key.endswith("~acme")
    assert state == {key: {"day": 1, "since": "2026-11-03"}}


def test_nothing_due_imports_no_heavy_module(make_config, tmp_path):
    """The nightly no-op must stay cheap: no zeep, lxml, requests, jinja2 or keyring; and once
    the file is in the parse cache, no yaml and not one Client built (nothing per client)."""
    import subprocess
    import sys
    from datetime import date

    quiet = (date.today().day + 13) % 28 + 1  # neither today nor tomorrow, in any time zone
    config = make_config(partners=[scheduled_partner("https://cw.example.com", day=quiet)])
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "cwpublish", "-c",
                           str(config), "publish", "--scheduled"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == ""
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "cwpublish" in imported
    assert imported.isdisjoint({"zeep", "lxml", "requests", "jinja2", "keyring", "urllib3"})
    # nor any publishing, state-writing or other command's code: a CLI command loads its use
    # case only when it runs (cli/migrate.py once pulled plan, credentials and decimal in)
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:")}
    loaded = sorted(m for m in modules if m.startswith(("cwpublish.publish.",
                    "cwpublish.usecases.", "cwpublish.render.", "cwpublish.targets.connectwise")))
    assert loaded == ["cwpublish.usecases.scheduled_publish"]
    assert "decimal" not in modules
    # nor the record's types (an empty RunResult needs none), signal's enums (only a publish
    # traps signals) or calendar (only a day past 28 warns)
    assert modules.isdisjoint({"cwpublish.domain.record", "signal", "calendar"})
    counting = f"""
import atexit, sys
from cwpublish.config.model import Client
made = []
init = Client.__init__
Client.__init__ = lambda self, *a, **k: made.append(1) or init(self, *a, **k)
from cwpublish.text import sanitize  # its patterns: compiled only when something is said
atexit.register(lambda: print(len(made), "yaml" in sys.modules,
                              sanitize._patterns.cache_info().currsize, file=sys.stderr))
sys.argv = ["cwpublish", "-c", {str(config)!r}, "publish", "--scheduled"]
from cwpublish.cli import main
main()
"""
    again = subprocess.run([sys.executable, "-c", counting], capture_output=True, text=True,
                           timeout=60)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "0 False 0\n")
