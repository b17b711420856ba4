"""Invoice-aware publishing against the simulator over loopback: an agreement invoiced after
the day a period was to be published stops the write (a scheduled run: kind `invoiced` and the
email says what to do; a script: exit 2 unless --force; a person: asked at a real terminal),
and the plan, --dry-run, check-config --online and history show each agreement's dates."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from freezegun import freeze_time
from helpers import ADDITION_CLIENTS, additions, invoice

from conftest import read_history, rest_data, rest_partner_config, tenant
from cwpublish.simulator import SimulatorServer

USAGE = "client,billable_gb\nLaw Office of R. Smith,1250.456\nNorthwind Traders,87\n" \
        "Contoso Dental,310.5\n"
CLIENTS = ADDITION_CLIENTS
SCHEDULE = {"day": 5, "timezone": "America/New_York", "catch_up_days": 5}
LATE = "2026-11-07 15:00:00"  # two days after acme's day 5 for 2026-11


@pytest.fixture
def server():
    s = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    yield s
    s.stop()


def config_for(make_config, url: str, month: str = "2026-11", schedule=SCHEDULE, **top):
    extra = {"schedule": schedule} if schedule else {}
    partner = rest_partner_config(url, "agreement_addition", clients=CLIENTS, **extra)
    return make_config(partners=[partner], usage={f"acme-{month}.csv": USAGE}, **top)


def test_scheduled_run_after_the_invoice_fails_those_clients_as_invoiced(
    server, make_config, rest_key, run, tmp_path, smtp_server, smtp_password
):
    config = config_for(make_config, server.url, smtp=smtp_server.config)
    with freeze_time("2026-11-04 15:00:00"):  # cron ran before the day (machine off on it)
        assert run(config, "publish", "--scheduled").exit_code == 0
    with freeze_time(LATE, tick=True):
        invoice(server, "LAWSMITH", "2026-11-06")  # the night of the 5th failed; then this
        result = run(config, "publish", "--scheduled", "--json")
    assert result.exit_code == 3, result.stdout + result.stderr
    assert additions(server) == {"CONTOSO-01": [310.5]}  # nothing written on LAWSMITH's
    [entry] = json.loads(result.stdout)["entries"]
    rows = {c["managed_id"]: c for c in entry["clients"]}
    assert rows["LAW-A"]["kind"] == rows["LAW-B"]["kind"] == "invoiced"
    assert rows["LAW-A"]["status"] == "failed"
    assert "missed the invoice of 2026-11-06" in rows["LAW-A"]["error"]
    assert rows["CONTOSO-01"]["status"] == "published"
    dates = {i["agreement"]: i["last_invoice_date"] for i in entry["invoices"]}
    assert dates["MSA LAWSMITH"] == "2026-11-06" and dates["MSA CONTOSO-01"] is None
    assert read_history(tmp_path)[0]["invoices"] == entry["invoices"]
    [(_, _, message)] = smtp_server.messages
    text = message.get_body(("plain",)).get_content()
    assert "invoice went out before 2026-11's usage of 2 clients" in text
    assert "--force" in text and "bill it by hand" in text
    # --force publishes it deliberately
    with freeze_time(LATE, tick=True):
        forced = run(config, "publish", "--scheduled", "--force", "--json")
    assert forced.exit_code == 0, forced.stdout
    assert additions(server)["LAWSMITH"] == [1337.46]


def test_a_script_is_refused_without_force_and_publishes_with_force(
    server, make_config, rest_key, run, tmp_path
):
    config = config_for(make_config, server.url)
    with freeze_time(LATE, tick=True):
        invoice(server, "LAWSMITH", "2026-11-05")  # on the day itself: counts
        refused = run(config, "publish", "--yes", "--json")
        assert additions(server) == {} and read_history(tmp_path) == []  # nothing sent
        dry = run(config, "publish", "--dry-run", "--json")
        forced = run(config, "publish", "--yes", "--force", "--json")
    assert refused.exit_code == 2, refused.stdout
    doc = json.loads(refused.stdout)
    assert doc["status"] == "error" and "Add --force" in doc["error"]
    assert "LAW-A, LAW-B on agreement 'MSA LAWSMITH', invoiced 2026-11-05" in doc["error"]
    assert dry.exit_code == 2
    [preview] = json.loads(dry.stdout)["entries"]
    assert {c["managed_id"]: c["status"] for c in preview["clients"]} == {
        "LAW-A": "invoiced", "LAW-B": "invoiced", "CONTOSO-01": "would-publish"}
    assert {i["agreement"]: i["last_invoice_date"] for i in preview["invoices"]}[
        "MSA LAWSMITH"] == "2026-11-05"
    assert forced.exit_code == 0, forced.stdout
    assert additions(server) == {"LAWSMITH": [1337.46], "CONTOSO-01": [310.5]}
    [entry] = read_history(tmp_path)
    assert entry["status"] == "success"
    assert {i["agreement"]: i["next_invoice_date"] for i in entry["invoices"]}[
        "MSA LAWSMITH"] is not None


def test_no_guard_before_the_day_or_without_a_schedule_but_dates_shown(
    server, make_config, rest_key, run, tmp_path
):
    with freeze_time("2026-11-04 15:00:00", tick=True):  # the day is still ahead
        invoice(server, "LAWSMITH", "2026-11-03")
        result = run(config_for(make_config, server.url), "publish", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "agreement 'MSA LAWSMITH': last invoice 2026-11-03" in result.stdout
    with freeze_time(LATE, tick=True):  # no schedule: no such day, no guard
        invoice(server, "LAWSMITH", "2026-11-06")
        result = run(config_for(make_config, server.url, schedule=None), "publish", "--yes",
                     "--force")
    assert result.exit_code == 0 and "last invoice 2026-11-06" in result.stdout


def test_check_config_shows_invoice_dates_and_what_each_mode_bills(
    server, make_config, rest_key, run
):
    with freeze_time(LATE, tick=True):
        invoice(server, "LAWSMITH", "2026-11-06")
        result = run(config_for(make_config, server.url), "check-config", "--online", "--json")
    checks = [c["message"] for c in json.loads(result.stdout)["checks"]]
    assert any(m.startswith("bills: publish_to agreement_addition") for m in checks)
    assert "invoices: agreement 'MSA LAWSMITH' (id " in "\n".join(checks)
    assert any("last invoice 2026-11-06, next invoice" in m for m in checks)
    assert any("invoiced 2026-11-06 without 2026-11's usage" in m for m in checks)
    partner = rest_partner_config(server.url)  # configuration mode: says it does not bill
    with freeze_time(LATE, tick=True):
        result = run(make_config(partners=[partner], usage={"acme-2026-11.csv": USAGE}),
                     "check-config")
    assert result.exit_code == 0
    assert "does not bill by itself" in result.stdout and "Configuration tab" in result.stdout


def test_a_person_is_asked_at_a_terminal(server, make_config, rest_key, tmp_path):
    from test_terminal import Terminal

    today = date.today()
    if today.day == 1:
        pytest.skip("needs a scheduled day before today in this month")
    config = config_for(make_config, server.url, month=f"{today:%Y-%m}",
                        schedule={"day": today.day - 1})
    invoice(server, "LAWSMITH", (today - timedelta(days=1)).isoformat())
    term = Terminal("-c", str(config), "publish")
    term.expect("Publish these clients anyway?")
    assert "LAW-A, LAW-B on agreement 'MSA LAWSMITH'" in term.screen
    term.send("n")  # leave them out: the rest is still offered
    term.expect("Publish to ConnectWise?")
    term.send("y")
    assert term.finish() == 0, term.screen
    assert additions(server) == {"CONTOSO-01": [310.5]}
    [entry] = read_history(tmp_path)
    assert [c["managed_id"] for c in entry["clients"]] == ["CONTOSO-01"]
