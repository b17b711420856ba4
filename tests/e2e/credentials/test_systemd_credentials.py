"""Secret files as systemd, Kubernetes and Docker really make them, and a mistyped or
unreadable $CREDENTIALS_DIRECTORY.

systemd's `LoadCredential=` with `User=` gives the service a root-owned file, mode 0400 plus
the POSIX ACL `user:<service>:r--` (`ls -l` shows 0440: the group bits are the ACL's mask), in
a root-owned 0500 folder the service reads through an ACL too. That case is built here with
real files and real ACLs (the `system.posix_acl_access` attribute, written as setfacl does),
and cwpublish runs under the service's uid (the test process's effective uid and gid are set to
it for the run, as `User=` does; the interpreter may live in root's 0700 home, so a separate
process could not start as that user) against the simulator.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import struct
import tempfile
from datetime import date
from pathlib import Path

import keyring
import pytest
import yaml

from conftest import SECRET, USAGE, partner_config, sim_state, tenant
from cwpublish.simulator import SimulatorServer

SERVICE_UID = 4321  # the unit's User=
OTHER_UID = 4322
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
NO_ID = 0xFFFFFFFF


def set_acl(path: Path, entries: list[tuple[int, int, int]]) -> None:
    """Write a POSIX access ACL (as `setfacl` does); skip where the filesystem has none."""
    raw = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
    try:
        os.setxattr(path, "system.posix_acl_access", raw)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            pytest.skip(f"this filesystem has no POSIX ACLs ({path})")
        raise


def systemd_acl(uid: int, perm: int = 4) -> list[tuple[int, int, int]]:
    """What systemd sets on a credential file for User=: owner r, user:<uid>:r, group ---."""
    return [
        (USER_OBJ, 4, NO_ID), (USER, perm, uid), (GROUP_OBJ, 0, NO_ID), (MASK, perm, NO_ID),
        (OTHER, 0, NO_ID),
    ]


@pytest.fixture
def service_home():
    """A folder the service user can reach (pytest's tmp_path is root's 0700 folder)."""
    base = Path(tempfile.mkdtemp(prefix="cwpublish-systemd-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def as_user(uid: int, monkeypatch, home: Path, creds: Path):
    """Run the block as `uid` (effective uid and gid), with the environment systemd gives a
    unit: its HOME, CREDENTIALS_DIRECTORY and no usable keyring."""
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core._keyring_backend = None
    monkeypatch.chdir(home)
    os.setegid(uid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def warm_up(run, partner: dict, base: Path, monkeypatch) -> None:
    """The same commands once as root against another simulator, so every module they import
    lazily is loaded: the interpreter's standard library may be in root's 0700 home, which
    the service user cannot read."""
    server = SimulatorServer({"tenants": [tenant()]}).start()
    try:
        cw = {**partner["connectwise"], "site": server.url}
        config = base / "warm-up.yaml"
        config.write_text(yaml.safe_dump(
            {"state_dir": str(base / "root-state"), "partners": [{**partner, "connectwise": cw}]}
        ))
        creds = base / "root-credentials"
        creds.mkdir(mode=0o700)
        (creds / "partner.acme").write_text(SECRET)
        (creds / "partner.acme").chmod(0o600)
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        keyring.core._keyring_backend = None
        for args in (("check-config",), ("credentials", "status", "--json"), ("publish", "--yes")):
            assert "unexpected" not in run(config, *args).output, args
    finally:
        server.stop()


@pytest.mark.skipif(not IS_ROOT, reason="making root's credential files for User= needs root")
def test_systemd_loadcredential_with_user_is_accepted(sim, service_home, run, monkeypatch):
    home = service_home / "home"
    home.mkdir()
    os.chown(home, SERVICE_UID, SERVICE_UID)
    usage = service_home / "usage"
    usage.mkdir()
    (usage / f"acme-{date.today():%Y-%m}.csv").write_text(USAGE)
    partner = partner_config(sim.url)
    partner["usage"] = {"csv": str(usage / "acme-{year}-{month:02d}.csv")}
    config = service_home / "config.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(home / "state"), "partners": [partner]}))
    creds = service_home / "credentials"  # /run/credentials/<unit>: root's, read-only
    creds.mkdir()
    secret = creds / "partner.acme"
    secret.write_text(SECRET)
    secret.chmod(0o400)
    set_acl(secret, systemd_acl(SERVICE_UID))
    assert oct(secret.stat().st_mode & 0o777) == "0o440"  # what `ls -l` shows the operator
    creds.chmod(0o500)
    set_acl(creds, [(USER_OBJ, 5, NO_ID), (USER, 5, SERVICE_UID), (GROUP_OBJ, 0, NO_ID),
                    (MASK, 5, NO_ID), (OTHER, 0, NO_ID)])

    warm_up(run, partner, service_home, monkeypatch)
    with as_user(SERVICE_UID, monkeypatch, home, creds):
        check = run(config, "check-config")
        result = run(config, "publish", "--yes")
    assert check.exit_code == 0, check.output
    assert f"is in the file {secret}" in check.stdout
    assert result.exit_code == 0, result.output
    assert "published 3 of 3 clients" in result.stdout
    assert (home / "state").stat().st_uid == SERVICE_UID
    assert len(sim_state(sim)["configurations"]["acme"]) == 3
    assert SECRET not in result.stdout + result.stderr + check.stdout + check.stderr


@pytest.mark.skipif(not IS_ROOT, reason="making root's credential files for User= needs root")
def test_systemd_file_of_another_service_is_refused(service_home, run, monkeypatch):
    """The same root-owned 0440 file, its ACL granting another unit's user: not ours."""
    creds = service_home / "credentials"
    creds.mkdir(mode=0o755)
    secret = creds / "partner.acme"
    secret.write_text(SECRET)
    secret.chmod(0o400)
    both = [(USER_OBJ, 4, NO_ID), (USER, 4, SERVICE_UID), (USER, 4, OTHER_UID),
            (GROUP_OBJ, 0, NO_ID), (MASK, 4, NO_ID), (OTHER, 0, NO_ID)]
    set_acl(secret, both)  # this service and another unit's user may both read it
    home = service_home / "home"
    home.mkdir()
    os.chown(home, SERVICE_UID, SERVICE_UID)
    config = service_home / "config.yaml"
    config.write_text(yaml.safe_dump({"partners": [partner_config("http://127.0.0.1:9")]}))
    warm_up(run, partner_config("http://127.0.0.1:9"), service_home, monkeypatch)
    with as_user(SERVICE_UID, monkeypatch, home, creds):
        result = run(config, "credentials", "status", "--json")
    [item] = json.loads(result.stdout)["credentials"]
    assert result.exit_code == 2 and item["present"] is False
    assert f"its ACL lets uid {OTHER_UID} read it" in item["problem"], item


@pytest.mark.parametrize(
    ("entries", "said"),
    [
        (systemd_acl(OTHER_UID), f"uid {OTHER_UID} read it"),
        (systemd_acl(OTHER_UID, perm=6), f"uid {OTHER_UID} read and change it"),
        ([(USER_OBJ, 6, NO_ID), (GROUP_OBJ, 0, NO_ID), (GROUP, 2, 27), (MASK, 2, NO_ID),
          (OTHER, 0, NO_ID)], "group 27 change it"),
        ([(USER_OBJ, 6, NO_ID), (GROUP_OBJ, 4, NO_ID), (MASK, 4, NO_ID), (OTHER, 0, NO_ID)],
         "its group read it"),
    ],
)
def test_an_acl_granting_anyone_else_is_refused(make_config, run, tmp_path, monkeypatch,
                                                entries, said):
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    secret = creds / "partner.acme"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    set_acl(secret, entries)
    result = run(make_config(), "credentials", "status", "--json")
    [item] = json.loads(result.stdout)["credentials"]
    assert result.exit_code == 2 and item["present"] is False
    assert f"its ACL lets {said}" in item["problem"]
    assert SECRET not in result.output


def test_an_acl_granting_only_this_user_is_accepted(make_config, run, tmp_path, monkeypatch):
    """Our own file, 0400 + user:<us>:r (mode shows 0440): nobody else can read it."""
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    secret = creds / "partner.acme"
    secret.write_text(SECRET)
    secret.chmod(0o400)
    set_acl(secret, systemd_acl(os.geteuid()))
    result = run(make_config(), "credentials", "status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["credentials"][0]["source"] == f"file:{secret}"


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_mistyped_credentials_directory_is_named(make_config, run, tmp_path, monkeypatch,
                                                   kind):
    folder = tmp_path / "run" / "secrets"
    if kind == "a file":
        folder.parent.mkdir()
        folder.write_text("")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    said = "no such folder" if kind == "missing" else "not a folder"
    for args in (("publish", "--yes", "--dry-run"), ("credentials", "status")):
        result = run(make_config(usage={f"acme-{date.today():%Y-%m}.csv": USAGE}), *args)
        assert result.exit_code == 2, result.output
        errors = [x for x in result.output.splitlines() if f"CREDENTIALS_DIRECTORY={folder}" in x]
        assert len(errors) == 1, result.output
        assert f"CREDENTIALS_DIRECTORY={folder}: {said}" in errors[0]
        assert "Kubernetes: the Secret volume's mountPath" in errors[0]
        assert "keyrings.alt" not in result.output
    check = run(make_config(), "check-config")
    assert check.exit_code == 2 and f"CREDENTIALS_DIRECTORY={folder}: {said}" in check.stdout


@pytest.mark.skipif(IS_ROOT, reason="root can look into any folder")
def test_an_unreadable_credentials_directory_is_named(make_config, run, tmp_path, monkeypatch):
    folder = tmp_path / "credentials"
    folder.mkdir(mode=0o600)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    result = run(make_config(), "credentials", "status")
    assert result.exit_code == 2
    assert f"CREDENTIALS_DIRECTORY={folder}: permission denied" in result.stderr
