"""Backfill and the operator's terminal: --month/--from/--to, duplicates, --dry-run, --json."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from conftest import (
    SECRET,
    USAGE,
    partner_config,
    read_history,
    sim_faults,
    sim_state,
    soap_requests,
)
from cwpublish.config.load import load_config
from cwpublish.config.model import state_key

THIS = f"{date.today():%Y-%m}"


MONTHS = {
    "acme-2026-08.csv": USAGE,
    "acme-2026-09.csv": USAGE.replace("1250.456", "1300"),
    "acme-2026-10.csv": USAGE.replace("1250.456", "1400.5"),
}


def sent_values(sim) -> list[tuple[str, str, str, str]]:
    return [
        (d["managed_id"], d["year"], d["month"], d["billable_gb"])
        for r in soap_requests(sim, "UpdateManagedDevices")
        for d in r["devices"]
    ]


def key_of(config: Path) -> str:
    return state_key(load_config(config).partners[0])


def test_backfill_three_months_for_one_client(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage=MONTHS)
    result = run(
        config,
        "publish",
        "--client",
        "Law Office of R. Smith",
        "--from",
        "2026-08",
        "--to",
        "2026-10",
        "--yes",
        "--json",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "success" and doc["exit_code"] == 0
    assert [e["period"] for e in doc["entries"]] == ["2026-08", "2026-09", "2026-10"]
    assert sent_values(sim) == [
        ("LAWSMITH", "2026", "8", "1250.46"),
        ("LAWSMITH", "2026", "9", "1300.00"),
        ("LAWSMITH", "2026", "10", "1400.50"),
    ]
    last = sim_state(sim)["configurations"]["acme"]
    assert set(last) == {"LAWSMITH"} and (last["LAWSMITH"]["year"], last["LAWSMITH"]["month"]) == (
        2026,
        10,
    )
    entries = read_history(tmp_path)
    assert [(e["period"], e["mode"], e["status"]) for e in entries] == [
        ("2026-10", "manual", "success"),
        ("2026-09", "manual", "success"),
        ("2026-08", "manual", "success"),
    ]
    assert all([c["managed_id"] for c in e["clients"]] == ["LAWSMITH"] for e in entries)


def test_backfill_stops_at_the_first_month_that_fails_entirely(
    sim, make_config, password, run, tmp_path
):
    sim_faults(sim, [{"operation": "GetManagementItSetupsName", "after": 1, "http_status": 503}])
    config = make_config(sim.url, usage=MONTHS)
    result = run(config, "publish", "--from", "2026-08", "--to", "2026-10", "--yes", "--json")
    assert result.exit_code == 3  # August published: partial, never "nothing published"
    doc = json.loads(result.stdout)
    assert (doc["status"], doc["exit_code"]) == ("partial", 3)
    assert doc["not_attempted"] == [{"partner": "acme", "period": "2026-10"}]
    assert [(e["period"], e["status"]) for e in read_history(tmp_path)] == [
        ("2026-09", "failed"),
        ("2026-08", "success"),
    ]
    assert {m for _, _, m, _ in sent_values(sim)} == {"8"}


def test_backfill_with_a_missing_month_sends_nothing(sim, make_config, password, run, tmp_path):
    months = dict(MONTHS)
    del months["acme-2026-09.csv"]
    config = make_config(sim.url, usage=months)
    result = run(config, "publish", "--from", "2026-08", "--to", "2026-10", "--yes")
    assert result.exit_code == 2
    assert "backfill refused, nothing was sent: 1 month(s)" in result.stderr
    assert "acme 2026-09:" in result.stderr and "usage file not found" in result.stderr
    assert soap_requests(sim) == [] and not (tmp_path / "state" / "history.log").exists()


def test_range_options_are_checked(make_config, run):
    config = make_config()
    for args, message in [
        (["--from", "2026-10", "--to", "2026-08"], "--from 2026-10 is after --to 2026-08"),
        (["--month", "2026-10", "--from", "2026-08"], "--month cannot be combined"),
        (["--to", "2026-08"], "--to needs --from"),
        (["--from", "2999-01"], "--from: 2999-01 is in the future"),
        (["--from", "2020-01", "--to", "2026-01"], "at most 60 at once"),
    ]:
        result = run(config, "publish", "--yes", *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)


def test_dry_run_sends_and_writes_nothing(
    sim, make_config, password, run, tmp_path, smtp_server, smtp_password
):
    config = make_config(
        sim.url, smtp=smtp_server.config, usage={f"acme-{THIS}.csv": USAGE + "Fabrikam,3\n"}
    )
    result = run(config, "-v", "publish", "--dry-run")
    assert result.exit_code == 0, result.stdout
    assert "would-publish" in result.stdout and "Fabrikam" in result.stdout
    assert "acme " + THIS + ": would publish 3 of 3 clients" in result.stdout  # conditional
    assert "published 0 of" not in result.stdout
    assert "<ns0:BackupBillableSpaceGb>1250.46</ns0:BackupBillableSpaceGb>" in result.stdout
    assert "<ns0:IntegratorPassword>********</ns0:IntegratorPassword>" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    as_json = json.loads(run(config, "publish", "--dry-run", "--json").stdout)
    assert as_json["status"] == "dry-run" and as_json["exit_code"] == 0
    assert [c["status"] for c in as_json["entries"][0]["clients"]] == ["would-publish"] * 3
    assert sim_state(sim)["request_count"] == 0
    assert not (tmp_path / "state").exists() and smtp_server.messages == []


def test_dry_run_exit_code_reflects_what_would_happen(sim, make_config, password, run):
    config = make_config(
        sim.url, usage={f"acme-{THIS}.csv": "client,billable_gb\nContoso Dental,1\n"}
    )
    result = run(config, "publish", "--dry-run", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 3 and doc["exit_code"] == 3  # two clients have no usage
    assert sim_state(sim)["request_count"] == 0


def test_publish_json_shape(sim, make_config, password, run):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    doc = json.loads(run(config, "publish", "--yes", "--json").stdout)
    assert set(doc) == {"status", "exit_code", "entries", "not_attempted"}
    [entry] = doc["entries"]
    assert {
        "id",
        "partner",
        "mode",
        "initiated_by",
        "started_at",
        "finished_at",
        "period",
        "status",
        "clients",
        "notification",
        "exit_code",
        "error",
        "unmapped",
    } <= set(entry)
    assert set(entry["clients"][0]) == {
        "name", "managed_id", "billable_gb", "status", "error", "kind"
    }


def test_errors_are_json_too_with_json(make_config, run):
    result = run(make_config(), "publish", "--yes", "--json", "--client", "nobody")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["status"] == "error" and doc["exit_code"] == 2 and "nobody" in doc["error"]


def test_scheduled_json_when_nothing_is_due(make_config, run):
    doc = json.loads(run(make_config(), "publish", "--scheduled", "--json").stdout)
    assert doc == {"status": "nothing-due", "exit_code": 0, "entries": [], "not_attempted": []}


def test_no_progress_bar_or_colour_in_pipes(sim, make_config, password, run):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    result = run(config, "publish", "--yes")
    assert "\x1b[" not in result.stdout + result.stderr
    assert result.stderr == ""


def test_init_writes_a_skeleton_once(tmp_path, run):
    target = tmp_path / "new" / "cwpublish.yaml"
    result = run(target, "init")
    assert result.exit_code == 0
    assert "credentials set --partner acme" in result.stdout
    assert "check-config --online" in result.stdout
    from conftest import ROOT

    assert target.read_text() == (ROOT / "config.example.yaml").read_text()
    again = run(target, "init")
    assert again.exit_code == 2 and "already exists; not overwritten" in again.stderr


def test_shell_completion_offers_partner_and_client_names(make_config, monkeypatch):
    from click.testing import CliRunner

    from cwpublish.cli import cli

    config = make_config()
    env = {
        "_CWPUBLISH_COMPLETE": "bash_complete",
        "COMP_WORDS": f"cwpublish -c {config} publish --partner ",
        "COMP_CWORD": "5",
    }
    result = CliRunner(env=env).invoke(cli, [], prog_name="cwpublish")
    assert "plain,acme" in result.output
    env["COMP_WORDS"] = f"cwpublish -c {config} publish --client Con"
    result = CliRunner(env=env).invoke(cli, [], prog_name="cwpublish")
    assert "plain,Contoso Dental" in result.output


def test_report_csv_html_and_email(
    sim, make_config, password, run, tmp_path, smtp_server, smtp_password
):
    config = make_config(
        sim.url, smtp=smtp_server.config, usage={"acme-2026-09.csv": USAGE + "Fabrikam,3\n"}
    )
    run(config, "publish", "--yes", "--month", "2026-09", "--client", "LAWSMITH", "--no-email")
    csv_out = run(config, "report", "--partner", "acme", "--month", "2026-09")
    assert csv_out.exit_code == 0
    lines = csv_out.stdout.splitlines()
    # columns are only ever added at the end (scripts read them by position)
    assert lines[0] == "client,managed_id,billable_gb,period,in_connectwise,in_connectwise_gb"
    assert lines[1].startswith('Law Office of R. Smith,LAWSMITH,1250.46,2026-09,"yes, ')
    assert lines[1].endswith(",1250.46")
    assert lines[2] == "Contoso Dental,CONTOSO-01,310.50,2026-09,no,"
    assert lines[4] == "Fabrikam,,3.00,2026-09,no (unmapped: no client in the config),"
    out = tmp_path / "r.html"
    html = run(
        config,
        "report",
        "--partner",
        "acme",
        "--month",
        "2026-09",
        "--format",
        "html",
        "--output",
        str(out),
    )
    page = out.read_text()
    assert html.exit_code == 0 and "<td" in page and "1,250.46" in page  # as in the emails
    assert "Total billable" in page and "1,647.96" in page  # the clients, not Fabrikam's 3 GB
    assert "Unmapped (no client in the config, not billed)" in page
    mail = run(config, "report", "--partner", "acme", "--month", "2026-09", "--email")
    assert mail.exit_code == 0
    [(_, recipients, message)] = smtp_server.messages
    assert message["Subject"] == "[cwpublish] rCloud usage report: acme 2026-09"
    text = message.get_body(("plain",)).get_content()
    assert "Total billable: 1,647.96 GB" in text and "not billed): 3.00 GB" in text
    assert "T" not in text.split("yes, ", 1)[1][:12]  # a local time, not a raw ISO string
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "acme-2026-09-usage.csv"
    assert "Contoso Dental,CONTOSO-01,310.50" in attachment.get_content()


def test_dry_run_checks_that_the_password_is_there(sim, make_config, run):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    result = run(config, "publish", "--dry-run")
    assert result.exit_code == 2
    assert "cwpublish credentials set --partner acme" in result.stdout
    assert sim_state(sim)["request_count"] == 0


def test_history_and_credentials_errors_are_json_with_json(tmp_path, run):
    missing = tmp_path / "missing.yaml"
    for args in (["history", "--json"], ["history", "show", "x", "--json"],
                 ["credentials", "status", "--json"]):
        result = run(missing, *args)
        assert result.exit_code == 2
        doc = json.loads(result.stdout)
        assert doc["status"] == "error" and "missing.yaml: file not found" in doc["error"]


def test_report_email_says_which_is_missing(sim, make_config, run, smtp_server):
    usage = {"acme-2026-09.csv": USAGE}
    no_smtp = run(make_config(sim.url, usage=usage), "report", "--partner", "acme", "--month",
                  "2026-09", "--email")
    assert no_smtp.exit_code == 2 and "has no smtp section" in no_smtp.stderr
    partner = partner_config(sim.url, managers=[])
    no_managers = run(make_config(partners=[partner], usage=usage, smtp=smtp_server.config),
                      "report", "--partner", "acme", "--month", "2026-09", "--email")
    assert no_managers.exit_code == 2
    assert "partner acme has no managers (partners[].managers)" in no_managers.stderr


def test_another_month_from_a_source_without_placeholders_is_refused(sim, make_config,
                                                                      password, run):
    partner = partner_config(sim.url, usage={"csv": "usage/current.csv"})
    config = make_config(partners=[partner], usage={"current.csv": USAGE})
    result = run(config, "publish", "--yes", "--month", "2026-01")
    assert result.exit_code == 2 and "has no {year}/{month} placeholder" in result.stderr
    assert soap_requests(sim) == []
    assert run(config, "publish", "--yes").exit_code == 0  # its own month still publishes


def test_backfilling_an_old_month_keeps_its_ledger_record(
    sim, make_config, password, run, tmp_path
):
    from cwpublish.state.ledger import LEDGER_PERIODS

    year, month = date.today().year, date.today().month
    oy, om = divmod(year * 12 + month - 1 - (LEDGER_PERIODS - 1), 12)
    oldest = f"{oy:04d}-{om + 1:02d}"  # the oldest month a publish may write
    config = make_config(sim.url, usage={f"acme-{oldest}.csv": USAGE})
    folder = tmp_path / "state" / "ledger" / key_of(config)
    folder.mkdir(parents=True)
    for back in range(LEDGER_PERIODS - 1):  # every newer period, up to this month
        y, m = divmod(year * 12 + month - 1 - back, 12)
        (folder / f"{y:04d}-{m + 1:02d}.json").write_text("{}")
    first = run(config, "publish", "--yes", "--month", oldest)
    assert first.exit_code == 0, first.stderr
    assert (folder / f"{oldest}.json").exists()
    assert len(list(folder.glob("*.json"))) == LEDGER_PERIODS
    again = run(config, "publish", "--yes", "--month", oldest)
    assert again.exit_code == 2 and "3 client(s) were already published" in again.stderr
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1
