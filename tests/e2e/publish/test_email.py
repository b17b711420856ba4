"""Emails to the managers through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
from datetime import date

import keyring
from freezegun import freeze_time

from conftest import SECRET, USAGE, partner_config, read_history

PERIOD = f"{date.today():%Y-%m}"
USAGE_FILE = f"acme-{PERIOD}.csv"


def parts(message) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_publish_emails_the_managers_over_starttls_with_login(
    sim, make_config, password, run, smtp_server, smtp_password, tmp_path
):
    config = make_config(sim.url, smtp=smtp_server.config, usage={USAGE_FILE: USAGE + "X,1\n"})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0
    assert "email: sent to billing@acme.example" in result.stdout
    assert smtp_server.logins == [("billing@example.com", "mail-secret")]
    [(sender, recipients, message)] = smtp_server.messages
    assert sender == "billing@example.com" and recipients == ["billing@acme.example"]
    assert message["Subject"] == f"[cwpublish] acme {PERIOD}: published 3 of 3 clients"
    assert message["To"] == "billing@acme.example"
    text, html = parts(message)
    for body in (text, html):
        assert "Law Office of R. Smith" in body and "LAWSMITH" in body and "1,250.46" in body
        assert "tester@example.com" in body and sim.url in body
        assert SECRET not in body and "mail-secret" not in body
    assert "Unmapped usage rows" in text and "X: 1.00 GB" in text
    assert "manual" in text and "Started:" in text
    entry = read_history(tmp_path)[0]
    assert entry["notification"] == {
        "status": "sent",
        "recipients": ["billing@acme.example"],
        "error": None,
    }
    assert "sent" in run(config, "history").stdout.splitlines()[1]


def test_failed_publish_email_says_why_and_what_to_do(
    sim, make_config, run, smtp_server, smtp_password
):
    keyring.set_password("cwpublish", "connectwise:acme", "wrong")
    config = make_config(sim.url, smtp=smtp_server.config, usage={USAGE_FILE: USAGE})
    assert run(config, "publish", "--yes").exit_code == 12
    [(_, _, message)] = smtp_server.messages
    assert message["Subject"] == (
        f"[cwpublish] acme {PERIOD} FAILED: ConnectWise rejected the "
        "login or the Management IT Name"
    )
    text, html = parts(message)
    assert "What to do next:" in text
    assert "cwpublish credentials set --partner acme" in text
    assert "cwpublish check-config --online --partner acme" in html
    assert "wrong" not in text.replace("What went wrong", "")


def test_html_part_escapes_client_names(
    sim, make_config, password, run, smtp_server, smtp_password
):
    partner = partner_config(sim.url)
    partner["clients"][0]["name"] = "<script>alert(1)</script> & Co"
    usage = USAGE.replace("Law Office of R. Smith", '"<script>alert(1)</script> & Co"')
    config = make_config(partners=[partner], smtp=smtp_server.config, usage={USAGE_FILE: usage})
    run(config, "publish", "--yes")
    text, html = parts(smtp_server.messages[0][2])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "<script>alert(1)</script> & Co" in text


def test_smtp_down_does_not_change_the_publish(
    sim, make_config, password, run, tmp_path, smtp_password
):
    from conftest import free_port

    smtp = {
        "host": "127.0.0.1",
        "port": free_port(),
        "security": "none",
        "sender": "billing@example.com",
    }
    config = make_config(sim.url, smtp=smtp, usage={USAGE_FILE: USAGE})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0
    assert "the email to billing@acme.example was not sent" in result.stderr
    entry = read_history(tmp_path)[0]
    assert entry["status"] == "success"
    assert entry["notification"]["status"] == "failed"
    assert "connection refused" in entry["notification"]["error"]
    assert "failed" in run(config, "history").stdout.splitlines()[1]


def test_a_silent_smtp_server_times_out(sim, make_config, password, run, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    smtp = {
        "host": "127.0.0.1",
        "port": listener.getsockname()[1],
        "security": "none",
        "sender": "billing@example.com",
        "timeout": 1,
    }
    config = make_config(sim.url, smtp=smtp, usage={USAGE_FILE: USAGE})
    try:
        assert run(config, "publish", "--yes").exit_code == 0
    finally:
        listener.close()
    note = read_history(tmp_path)[0]["notification"]
    assert note["status"] == "failed" and "did not answer within 1s" in note["error"]


def test_wrong_smtp_password(sim, make_config, password, run, tmp_path, smtp_server):
    keyring.set_password("cwpublish", "smtp:billing@example.com@127.0.0.1", "nope")
    config = make_config(sim.url, smtp=smtp_server.config, usage={USAGE_FILE: USAGE})
    assert run(config, "publish", "--yes").exit_code == 0
    note = read_history(tmp_path)[0]["notification"]
    assert "refused the login of billing@example.com (535)" in note["error"]
    assert smtp_server.messages == []


def test_no_email_option(sim, make_config, password, run, tmp_path, smtp_server, smtp_password):
    config = make_config(sim.url, smtp=smtp_server.config, usage={USAGE_FILE: USAGE})
    assert run(config, "publish", "--yes", "--no-email").exit_code == 0
    assert smtp_server.messages == []
    assert read_history(tmp_path)[0]["notification"]["status"] == "disabled"


def test_not_configured_without_smtp(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    run(config, "publish", "--yes")
    assert read_history(tmp_path)[0]["notification"]["status"] == "not-configured"


def test_user_templates_override_and_missing_variables_are_caught(
    sim, make_config, password, run, tmp_path, smtp_server, smtp_password
):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "publish.txt").write_text("Hello {{ entry.partner }}: {{ headline }}\n")
    config = make_config(
        sim.url, smtp=smtp_server.config, templates_dir="templates", usage={USAGE_FILE: USAGE}
    )
    assert run(config, "check-config").exit_code == 0
    run(config, "publish", "--yes")
    text, _ = parts(smtp_server.messages[0][2])
    assert text.rstrip() == f"Hello acme: acme {PERIOD}: published 3 of 3 clients"
    (templates / "publish.html").write_text("<p>{{ no_such_variable }}</p>")
    check = run(config, "check-config")
    assert check.exit_code == 2
    assert "✗ [templates] email template publish.html" in check.stdout
    assert "'no_such_variable' is undefined" in check.stdout
    assert run(config, "publish", "--yes", "--force").exit_code == 0  # publish unaffected
    note = read_history(tmp_path)[0]["notification"]
    assert note["status"] == "failed" and "no_such_variable" in note["error"]
    assert len(smtp_server.messages) == 1  # no half-empty email


def test_check_config_online_logs_in_to_smtp_without_sending(
    sim, make_config, password, run, smtp_server, smtp_password
):
    config = make_config(sim.url, smtp=smtp_server.config, usage={USAGE_FILE: USAGE})
    result = run(config, "check-config", "--online")
    assert result.exit_code == 0, result.stdout
    assert "✓ [smtp] connected to 127.0.0.1" in result.stdout
    assert "logged in as billing@example.com (nothing sent)" in result.stdout
    assert smtp_server.logins and smtp_server.messages == []


def test_preflight_the_night_before_warns_the_managers_once(
    sim, make_config, run, smtp_server, smtp_password
):
    keyring.set_password("cwpublish", "connectwise:acme", "changed-in-connectwise")
    partner = partner_config(sim.url, schedule={"day": 5, "timezone": "America/New_York"})
    config = make_config(
        partners=[partner], smtp=smtp_server.config, usage={"acme-2026-11.csv": USAGE}
    )
    with freeze_time("2026-11-03 15:00:00", tick=True):
        assert run(config, "publish", "--scheduled").stderr == ""  # two nights before
    with freeze_time("2026-11-04 15:00:00", tick=True):
        first = run(config, "publish", "--scheduled")
        second = run(config, "publish", "--scheduled")
    assert first.exit_code == 0 and first.stdout == ""
    assert "tomorrow's automatic publish (2026-11) would fail" in first.stderr
    assert second.stderr == ""
    [(_, recipients, message)] = smtp_server.messages
    assert recipients == ["billing@acme.example"]
    assert message["Subject"] == (
        "[cwpublish] acme 2026-11: tomorrow's automatic publish would fail"
    )
    text, _ = parts(message)
    assert "Login failed" in text and "cwpublish credentials set --partner acme" in text
    assert "changed-in-connectwise" not in text
