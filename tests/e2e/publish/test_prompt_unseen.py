"""A person at a terminal whose stderr goes elsewhere (2>/dev/null, 2>&-, 2>log): the plan and
the question would not be seen, so publish refuses (exit 2) rather than wait for a blind answer."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import date

import pytest

from conftest import USAGE, read_history, soap_requests

THIS = f"{date.today():%Y-%m}"


@pytest.mark.parametrize("stderr", ["devnull", "closed"])
def test_a_terminal_without_a_visible_stderr_is_refused_not_asked_blind(
    sim, make_config, password, tmp_path, stderr
):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    master, slave = pty.openpty()
    target = subprocess.DEVNULL if stderr == "devnull" else None
    cmd = [sys.executable, "-m", "cwpublish", "-c", str(config), "publish", "--json"]
    if stderr == "closed":  # 2>&-: the interpreter starts with no fd 2
        cmd = ["sh", "-c", 'exec "$@" 2>&-', "sh", *cmd]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=subprocess.PIPE, stderr=target)
    os.close(slave)
    try:
        stdout, _ = proc.communicate(timeout=15)  # never waits for an answer no one can see
    finally:
        os.close(master)
    assert proc.returncode == 2
    assert soap_requests(sim, "UpdateManagedDevices") == [] and read_history(tmp_path) == []
    doc = json.loads(stdout)  # --json: the refusal is still one document on stdout
    assert doc["exit_code"] == 2 and "stderr" in json.dumps(doc), doc


def test_yes_publishes_with_stderr_elsewhere(sim, make_config, password):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cwpublish", "-c", str(config), "publish", "--yes", "--json"],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    os.close(slave)
    try:
        stdout, _ = proc.communicate(timeout=30)
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1
