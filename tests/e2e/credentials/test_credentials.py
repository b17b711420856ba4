"""Credentials in a real keyring backend (keyrings.alt file backend in a temp dir)."""

from __future__ import annotations

import json
from datetime import date

import keyring

from conftest import SECRET, USAGE, partner_config


def test_set_from_stdin_status_and_delete(make_config, run, tmp_path):
    config = make_config()
    result = run(config, "credentials", "set", "--partner", "acme", input=SECRET + "\n")
    assert result.exit_code == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert keyring.get_password("cwpublish", "connectwise:acme") == SECRET
    stored = list((tmp_path / "xdg-data").rglob("*.cfg"))
    assert stored, "the file keyring lives in the test's XDG_DATA_HOME"

    status = run(config, "credentials", "status", "--json")
    assert status.exit_code == 0
    data = json.loads(status.stdout)
    assert data["credentials"] == [{"name": "partner:acme", "present": True, "source": "keyring"}]
    assert data["backend"].endswith("PlaintextKeyring")
    assert SECRET not in status.stdout

    assert run(config, "credentials", "delete", "--partner", "acme").exit_code == 0
    assert keyring.get_password("cwpublish", "connectwise:acme") is None
    missing = run(config, "credentials", "status")
    assert missing.exit_code == 2 and "✗ partner:acme: missing" in missing.stdout
    again = run(config, "credentials", "delete", "--partner", "acme")
    assert again.exit_code == 2 and "was not in the keyring" in again.stderr


def test_smtp_password(make_config, run):
    config = make_config(
        smtp={
            "host": "127.0.0.1",
            "port": 2525,
            "security": "none",
            "username": "billing@example.com",
            "sender": "billing@example.com",
        }
    )
    assert run(config, "credentials", "set", "--smtp", input="mailpw\n").exit_code == 0
    assert keyring.get_password("cwpublish", "smtp:billing@example.com@127.0.0.1") == "mailpw"


def test_set_needs_exactly_one_target(make_config, run):
    result = run(make_config(), "credentials", "set", input="x\n")
    assert result.exit_code == 2 and "exactly one of --partner NAME or --smtp" in result.stderr
    result = run(make_config(), "credentials", "set", "--partner", "nope", input="x\n")
    assert result.exit_code == 2 and "--partner: unknown partner 'nope'" in result.stderr


def test_empty_password_is_refused(make_config, run):
    result = run(make_config(), "credentials", "set", "--partner", "acme", input="\n")
    assert result.exit_code == 2 and "empty password" in result.stderr


def test_no_keyring_backend_gives_the_fix_not_a_traceback(make_config, run, monkeypatch, sim):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core._keyring_backend = None
    config = make_config(
        sim.url, partners=[partner_config(sim.url)], usage={f"acme-{date.today():%Y-%m}.csv": USAGE}
    )
    result = run(config, "credentials", "status")
    assert result.exit_code == 2
    assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in result.stderr
    assert "Traceback" not in result.stderr
    publish = run(config, "publish", "--yes")
    assert publish.exit_code == 2 and "no usable keyring backend" in publish.stdout
    check = run(config, "check-config")
    assert check.exit_code == 2 and "✗ [acme] keyring: no usable keyring backend" in check.stdout
