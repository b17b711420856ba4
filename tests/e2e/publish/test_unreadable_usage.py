"""Issue 21, item 4: a usage file that cannot be read fails the partner with one error: no
per-client table, no `--retry` hint, still recorded (with the clients, for --retry) and
emailed, saying what to fix and the exact command to publish again."""

from __future__ import annotations

import json
from datetime import date

from conftest import CLIENTS, read_history, soap_requests

THIS = f"{date.today():%Y-%m}"
AGAIN = f"cwpublish publish --partner acme --month {THIS}"


def test_missing_usage_file_is_one_error_not_a_table(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url)  # no usage file at all
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2
    out = result.stdout
    assert "CLIENT" not in out and "not sent" not in out  # no per-client table
    assert "--retry" not in out
    assert f"Fix {tmp_path / 'usage'}" in out and AGAIN in out
    assert out.count("next:") == 1
    assert soap_requests(sim) == []
    [entry] = read_history(tmp_path)  # recorded, with every client, for --retry
    assert entry["usage_unreadable"] is True and entry["status"] == "failed"
    assert [c["managed_id"] for c in entry["clients"]] == [c["managed_id"] for c in CLIENTS]
    shown = run(config, "history", "show", entry["id"])
    assert "CLIENT" not in shown.stdout and entry["error"] in shown.stdout


def test_json_keeps_the_clients_and_says_unreadable(sim, make_config, password, run):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": ""})
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 2
    [entry] = json.loads(result.stdout)["entries"]
    assert entry["usage_unreadable"] is True and "empty" in entry["error"]
    assert {c["kind"] for c in entry["clients"]} == {"not-sent"}


def test_retry_after_fixing_the_file_publishes_every_client(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url)
    assert run(config, "publish", "--yes").exit_code == 2
    [entry] = read_history(tmp_path)
    usage = "client,billable_gb\n" + "".join(f"{c['name']},1\n" for c in CLIENTS)
    (tmp_path / "usage").mkdir()
    (tmp_path / "usage" / f"acme-{THIS}.csv").write_text(usage, encoding="utf-8")
    result = run(config, "publish", "--retry", entry["id"], "--yes", "--json")
    assert result.exit_code == 0, result.output
    [published] = json.loads(result.stdout)["entries"]
    assert [c["status"] for c in published["clients"]] == ["published"] * len(CLIENTS)
    assert soap_requests(sim, "UpdateManagedDevices")


def test_dry_run_shows_the_error_not_a_table(sim, make_config, password, run):
    config = make_config(sim.url)
    result = run(config, "publish", "--dry-run")
    assert result.exit_code == 2
    assert "CLIENT" not in result.stdout and "--retry" not in result.stdout
    assert AGAIN in result.stdout


def test_email_names_the_error_and_the_fix_without_a_table(
    sim, make_config, password, run, smtp_server, smtp_password, tmp_path
):
    config = make_config(sim.url, smtp=smtp_server.config)
    assert run(config, "publish", "--yes").exit_code == 2
    [(_, _, message)] = smtp_server.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "What went wrong:" in text and AGAIN in text and "--retry" not in text
    assert "CLIENT" not in text and "not sent" not in text
    assert "<th" not in html and AGAIN in html
    assert read_history(tmp_path)[0]["notification"]["status"] == "sent"
