"""crontab.example's entry, run as cron runs it: its command line by /bin/sh (dash on Debian,
no pipefail), cwpublish's real console script against the simulator, a HOME whose log folder
does not exist yet. The first night's log is kept and the entry exits as cwpublish did."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import ROOT, USAGE, free_port, partner_config, sim_state

REPO = ROOT  # the repository, whatever folder this file is in
EXAMPLE_BINARY = "/home/billing/.local/bin/cwpublish"
CWPUBLISH = Path(sys.executable).parent / "cwpublish"


def cron_command() -> str:
    """The command of the example's one entry: the line after its five time fields."""
    [entry] = [
        line for line in (REPO / "crontab.example").read_text().splitlines()
        if line[:1].isdigit()
    ]
    command = entry.split(None, 5)[5]
    assert EXAMPLE_BINARY in command and "%" not in command  # cron would split at a %
    return command.replace(EXAMPLE_BINARY, str(CWPUBLISH))


def run_entry(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/sh", "-c", cron_command()],
        env={**os.environ, "CWPUBLISH_CONFIG": str(config), "SHELL": "/bin/sh"},
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


def due_today(make_config, site: str):
    """A partner whose scheduled day is today (UTC), with this month's usage."""
    today = datetime.now(UTC).date()
    partner = partner_config(site, schedule={"day": today.day, "timezone": "UTC"})
    return make_config(partners=[partner], usage={f"acme-{today:%Y-%m}.csv": USAGE})


@pytest.fixture
def log_file() -> Path:
    log = Path(os.environ["HOME"]) / ".local" / "state" / "cwpublish" / "cron.log"
    assert not log.parent.exists()  # the first night: no log folder yet
    return log


@pytest.mark.skipif(not CWPUBLISH.exists(), reason="cwpublish's console script is not installed")
def test_first_night_creates_the_log_folder_and_exits_0(sim, make_config, password, log_file):
    proc = run_entry(due_today(make_config, sim.url))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "published 3 of 3 clients" in proc.stdout  # what cron mails
    assert "published 3 of 3 clients" in log_file.read_text()  # and what the log keeps
    assert len(sim_state(sim)["configurations"]["acme"]) == 3


@pytest.mark.skipif(not CWPUBLISH.exists(), reason="cwpublish's console script is not installed")
def test_a_failing_night_keeps_cwpublish_exit_status_not_tees(make_config, password, log_file):
    proc = run_entry(due_today(make_config, f"http://127.0.0.1:{free_port()}"))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # tee's status would be 0
    assert "refused the connection" in proc.stdout
    assert "refused the connection" in log_file.read_text()
    again = run_entry(Path("/nonexistent/config.yaml"))  # appended to, exit 2 kept
    assert again.returncode == 2
    assert log_file.read_text().count("cwpublish") >= 2
