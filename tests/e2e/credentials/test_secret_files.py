"""Secrets from files in $CREDENTIALS_DIRECTORY (systemd LoadCredential=, Kubernetes, Docker).

Real files with real modes, owners and symlinks; the CLI in-process and as a real process
against the simulator. A file wins over the keyring; an unsafe or malformed file is refused in
one line naming it and the fix (exit 2); the secret never appears in any output.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import keyring
import pytest

from conftest import SECRET, USAGE, run_subprocess, sim_state

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SMTP = {
    "host": "127.0.0.1",
    "port": 2525,
    "security": "none",
    "username": "billing@example.com",
    "sender": "billing@example.com",
}


@pytest.fixture
def creds_dir(tmp_path, monkeypatch) -> Path:
    """An empty 0700 $CREDENTIALS_DIRECTORY, as systemd makes one."""
    folder = tmp_path / "credentials"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    return folder


def write_secret(path: Path, content: str | bytes, mode: int = 0o600) -> Path:
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(data)
    path.chmod(mode)
    return path


def usage_config(make_config, sim=None, **top):
    """A config whose usage file for this month exists (so only the secret can fail)."""
    site = sim.url if sim else "http://127.0.0.1:9"
    return make_config(site, usage={f"acme-{date.today():%Y-%m}.csv": USAGE}, **top)


def one_error_line(result, *needles: str) -> None:
    """Exit 2, exactly one `cwpublish: error:` line holding every needle, no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("cwpublish: error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_publish_uses_the_file_without_any_keyring_entry(sim, make_config, creds_dir):
    """A real process, -vv: the file's secret (less its final newline) logs in; never shown."""
    write_secret(creds_dir / "partner.acme", SECRET + "\n", 0o400)
    assert keyring.get_password("cwpublish", "connectwise:acme") is None
    config = usage_config(make_config, sim)
    proc = run_subprocess("-c", str(config), "-vv", "publish", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "published 3 of 3 clients" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
    assert len(sim_state(sim)["configurations"]["acme"]) == 3


def test_the_file_takes_precedence_over_the_keyring(sim, make_config, creds_dir, password, run):
    file_secret = "Wr0ng-From-File-pw"
    write_secret(creds_dir / "partner.acme", file_secret)
    result = run(usage_config(make_config, sim), "publish", "--yes")
    assert result.exit_code == 12  # the file's (wrong) password was used, not the keyring's
    assert file_secret not in result.output and SECRET not in result.output


def test_crlf_line_ending_is_removed(sim, make_config, creds_dir, run):
    write_secret(creds_dir / "partner.acme", SECRET + "\r\n")
    result = run(usage_config(make_config, sim), "publish", "--yes")
    assert result.exit_code == 0, result.output


def test_status_and_check_config_say_where_each_secret_is(make_config, creds_dir, run):
    path = write_secret(creds_dir / "smtp", "mail-secret\n")
    keyring.set_password("cwpublish", "connectwise:acme", SECRET)
    config = make_config(smtp=SMTP)
    status = run(config, "credentials", "status", "--json")
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert data["backend"].endswith("PlaintextKeyring")
    assert data["credentials"] == [
        {"name": "partner:acme", "present": True, "source": "keyring"},
        {"name": "smtp", "present": True, "source": f"file:{path}"},
    ]
    text = run(config, "credentials", "status")
    assert f"✓ smtp: present (file {path})" in text.stdout
    assert "✓ partner:acme: present (keyring)" in text.stdout
    check = run(config, "check-config")
    assert "✓ [smtp] SMTP password for billing@example.com is in" in check.stdout
    assert "mail-secret" not in status.output + text.output + check.output


def test_missing_everywhere_names_the_file_and_the_keyring(make_config, creds_dir, run):
    status = run(make_config(), "credentials", "status", "--json")
    assert status.exit_code == 2
    assert json.loads(status.stdout)["credentials"] == [
        {"name": "partner:acme", "present": False, "source": None}
    ]
    result = run(usage_config(make_config), "publish", "--yes", "--dry-run")
    assert result.exit_code == 2
    assert f"not in the keyring nor in {creds_dir / 'partner.acme'}" in result.output


def test_no_keyring_at_all_names_the_expected_file(make_config, creds_dir, run, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core._keyring_backend = None
    result = run(make_config(), "credentials", "status")
    one_error_line(
        result, f"no file {creds_dir / 'partner.acme'} (and no usable keyring here)",
        "LoadCredential=partner.acme:", "a Kubernetes Secret key `partner.acme`",
    )
    assert "keyrings.alt" not in result.stderr  # no keyring advice where there is none
    write_secret(creds_dir / "partner.acme", SECRET)
    assert run(make_config(), "credentials", "status").exit_code == 0  # the keyring is not asked


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644, 0o660])
def test_a_file_others_may_read_or_write_is_refused(make_config, creds_dir, run, mode):
    path = write_secret(creds_dir / "partner.acme", SECRET, mode)
    config = usage_config(make_config)
    result = run(config, "publish", "--yes", "--dry-run")
    assert result.exit_code == 2
    assert f"mode {mode:04o}" in result.output and f"chmod 600 {path}" in result.output
    status = run(config, "credentials", "status", "--json")
    [item] = json.loads(status.stdout)["credentials"]
    assert status.exit_code == 2 and item["present"] is False
    assert item["source"] == f"file:{path}" and f"chmod 600 {path}" in item["problem"]
    check = run(config, "check-config")
    assert check.exit_code == 2 and f"chmod 600 {path}" in check.stdout
    assert SECRET not in result.output + status.output + check.output


def kubernetes_volume(folder: Path, mode: int) -> Path:
    """A secret volume as kubelet writes one: partner.acme -> ..data/partner.acme, where
    ..data -> ..2026_11_26_02_30_00.123 holds the real file."""
    version = folder / "..2026_11_26_02_30_00.123"
    version.mkdir()
    real = write_secret(version / "partner.acme", SECRET + "\n", mode)
    (folder / "..data").symlink_to(version.name)
    (folder / "partner.acme").symlink_to("..data/partner.acme")
    return real


def test_kubernetes_symlinks_are_followed_and_the_final_file_checked(
    sim, make_config, creds_dir, run
):
    real = kubernetes_volume(creds_dir, 0o400)
    config = usage_config(make_config, sim)
    status = run(config, "credentials", "status", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["credentials"][0]["source"] == (
        f"file:{creds_dir / 'partner.acme'}"
    )
    assert run(config, "publish", "--yes").exit_code == 0
    real.chmod(0o444)  # a secret volume with the default 0644-ish mode
    result = run(config, "publish", "--yes", "--force")
    assert result.exit_code == 2
    [failed] = [line for line in result.stdout.splitlines() if ": FAILED: " in line]
    assert f"{creds_dir / 'partner.acme'} (-> {real}): mode 0444" in failed
    assert f"chmod 600 {real}" in failed and "defaultMode: 0400" in failed


def test_a_symlink_to_nothing_is_refused_not_skipped(make_config, creds_dir, run, password):
    (creds_dir / "partner.acme").symlink_to(creds_dir / "gone")
    result = run(usage_config(make_config), "publish", "--yes", "--dry-run")
    assert result.exit_code == 2 and "a symlink to nothing" in result.output


def test_not_a_regular_file_is_refused(make_config, creds_dir, run):
    (creds_dir / "partner.acme").mkdir(mode=0o700)
    result = run(make_config(), "credentials", "status")
    assert result.exit_code == 2 and "not a regular file" in result.stdout
    os.rmdir(creds_dir / "partner.acme")
    os.mkfifo(creds_dir / "partner.acme", 0o600)  # opening must not wait for a writer
    result = run(usage_config(make_config), "publish", "--yes", "--dry-run")
    assert result.exit_code == 2 and "not a regular file" in result.output


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "empty"),
        ("\n", "empty"),
        (SECRET + "\n\n", "U+000A"),
        ("line1\nline2", "U+000A"),
        ("tab\there", "U+0009"),
        (b"\xff\xfe-not-utf8", "not UTF-8"),
        ("x" * (17 * 1024), "more than 16 KiB"),
    ],
)
def test_malformed_content_is_refused_without_showing_it(
    make_config, creds_dir, run, content, needle
):
    path = write_secret(creds_dir / "partner.acme", content)
    result = run(usage_config(make_config), "publish", "--yes", "--dry-run")
    assert result.exit_code == 2 and needle in result.output and str(path) in result.output
    assert "line1" not in result.output and SECRET not in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(not IS_ROOT, reason="only root can give a file to another user")
def test_another_users_file_is_refused(make_config, creds_dir, run):
    path = write_secret(creds_dir / "partner.acme", SECRET)
    os.chown(path, 12345, -1)
    result = run(usage_config(make_config), "publish", "--yes", "--dry-run")
    assert result.exit_code == 2
    assert "owned by uid 12345" in result.output and f"chown 0 {path}" in result.output


@pytest.mark.skipif(IS_ROOT, reason="root reads any file")
def test_an_unreadable_file_is_refused_with_the_fix(make_config, creds_dir, run):
    write_secret(creds_dir / "partner.acme", SECRET, 0o000)
    result = run(usage_config(make_config), "publish", "--yes", "--dry-run")
    assert result.exit_code == 2 and "permission denied" in result.output


def test_set_and_delete_warn_that_the_file_wins(make_config, creds_dir, run):
    path = write_secret(creds_dir / "partner.acme", SECRET)
    config = make_config()
    stored = run(config, "credentials", "set", "--partner", "acme", input="other-pw\n")
    assert stored.exit_code == 0, stored.output
    assert keyring.get_password("cwpublish", "connectwise:acme") == "other-pw"
    assert f"{path} exists and takes precedence over the keyring" in stored.stderr
    deleted = run(config, "credentials", "delete", "--partner", "acme")
    assert deleted.exit_code == 0 and f"{path} exists" in deleted.stderr
    assert keyring.get_password("cwpublish", "connectwise:acme") is None
    assert path.read_text() == SECRET  # a file is the operator's: never changed
    alone = run(config, "credentials", "set", "--partner", "acme", input="x\n")
    os.unlink(path)
    quiet = run(config, "credentials", "set", "--partner", "acme", input="y\n")
    assert "takes precedence" in alone.stderr and "takes precedence" not in quiet.stderr


def test_without_credentials_directory_files_are_not_looked_for(
    make_config, run, tmp_path, monkeypatch, password
):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    write_secret(tmp_path / "partner.acme", "ignored", 0o644)  # in the cwd: irrelevant
    status = run(make_config(), "credentials", "status", "--json")
    assert status.exit_code == 0
    assert json.loads(status.stdout)["credentials"][0]["source"] == "keyring"
