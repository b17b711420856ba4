"""Files cwpublish writes are never group- or world-writable, whatever the umask: the
configuration `init` writes (and the folders it creates), a report's --output, and every state
file and folder. Each command runs as a real process under umask 000."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from conftest import USAGE, read_history

PERIOD = f"{date.today():%Y-%m}"


def cwpublish(*args: str) -> subprocess.CompletedProcess:
    """`python -m cwpublish ARGS` under umask 000 (the loosest a cron or container may set)."""
    return subprocess.run(
        [sys.executable, "-m", "cwpublish", *args],
        capture_output=True, text=True, timeout=60, umask=0, stdin=subprocess.DEVNULL,
        env=os.environ.copy(),
    )


def loose(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode) & 0o022


def test_init_under_umask_000_writes_a_private_config_in_private_folders(tmp_path):
    config = tmp_path / "new" / "deeper" / "cwpublish.yaml"
    result = cwpublish("-c", str(config), "init")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(config.parent.parent.stat().st_mode) == 0o700
    assert "Wrote a commented configuration" in result.stdout
    again = cwpublish("-c", str(config), "init")  # never over an existing file
    assert again.returncode == 2 and "already exists" in again.stderr


def test_publish_and_report_under_umask_000_leave_nothing_writable_by_others(
    sim, make_config, password, tmp_path
):
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})
    result = cwpublish("-c", str(config), "publish", "--yes")
    assert result.returncode == 0, result.stderr
    assert read_history(tmp_path)[0]["status"] == "success"
    report = tmp_path / "out" / "acme.csv"
    report.parent.mkdir()
    made = cwpublish("-c", str(config), "report", "--partner", "acme", "--output", str(report))
    assert made.returncode == 0, made.stderr
    assert loose(report) == 0
    state = tmp_path / "state"
    written = [state, *state.rglob("*")]
    cache = Path(os.environ["HOME"]) / ".cache" / "cwpublish"
    written += [cache, *cache.rglob("*")] if cache.exists() else []
    assert any(p.name == "history.log" for p in written)
    for p in written:
        mode = stat.S_IMODE(p.lstat().st_mode)
        assert mode & 0o077 == 0, f"{p} is {oct(mode)}"


def assert_private(state: Path) -> None:
    found = list(state.rglob("*"))
    assert len(found) > 3
    for path in found:
        want = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.lstat().st_mode) == want, path


def test_a_loose_state_dir_is_tightened_and_every_file_is_private(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0 and "tightened it to 0700" in result.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert_private(state)


@pytest.mark.parametrize("umask", ["000", "077", "277"])
def test_files_are_private_whatever_the_umask(sim, make_config, password, tmp_path, umask):
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    proc = subprocess.run(
        ["sh", "-c", f'umask {umask}; exec "$0" -m cwpublish -c "$1" publish --yes',
         sys.executable, str(config)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert_private(tmp_path / "state")
