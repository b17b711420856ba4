"""Issue 21, item 1: the plan and question go to the terminal, never into a piped stdout;
--json still asks at a terminal; one summary line before [y/N]; many rows: the ones that need
attention, all with -v."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from datetime import date

from conftest import USAGE, partner_config, read_history, soap_requests, tenant
from cwpublish.simulator import SimulatorServer

THIS = f"{date.today():%Y-%m}"


class PipedTerminal:
    """cwpublish with stdin and stderr on a pty (a person) and stdout into a pipe (`| tee`)."""

    def __init__(self, *args: str, rows: int = 24):
        import fcntl
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": str(rows)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cwpublish", *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.screen = ""

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return False
        try:
            self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
        except OSError:
            return False
        return True

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} not seen in:\n{self.screen}"
            self._read(0.2)

    def answer(self, line: str) -> tuple[int, str]:
        os.write(self.master, line.encode() + b"\r")
        stdout = self.proc.stdout.read().decode()
        code = self.proc.wait(timeout=60)
        while self._read(0.1):
            pass
        os.close(self.master)
        return code, stdout


def test_question_and_plan_reach_the_terminal_not_the_pipe(sim, make_config, password):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    term = PipedTerminal("-c", str(config), "publish")
    term.expect("Publish to ConnectWise? [y/N]")
    assert "Law Office of R. Smith" in term.screen
    assert "To publish: 3 clients, " in term.screen and f"period {THIS}" in term.screen
    assert "0 already published" in term.screen and "partner acme" in term.screen
    code, stdout = term.answer("y")
    assert code == 0
    assert "[y/N]" not in stdout and "To publish:" not in stdout  # the pipe has only results
    assert "published 3 of 3 clients" in stdout
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1


def test_json_on_a_terminal_still_asks_and_no_sends_nothing(sim, make_config, password, tmp_path):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    term = PipedTerminal("-c", str(config), "publish", "--json")
    term.expect("Publish to ConnectWise? [y/N]")
    code, stdout = term.answer("n")
    assert code == 10
    assert soap_requests(sim) == [] and read_history(tmp_path) == []
    assert "[y/N]" not in stdout


def _many(n: int):
    clients = [{"name": f"Client {i:03d}", "managed_id": f"C{i:03d}"} for i in range(n)]
    server = SimulatorServer(
        {"tenants": [tenant([{**c, "device_type": "Backup Stats"} for c in clients])]}
    ).start()
    usage = "client,billable_gb\n" + "".join(f"{c['name']},{i}\n" for i, c in enumerate(clients))
    usage += "Stranger Inc,5\n"  # unmapped: needs attention
    return server, clients, usage


def test_beyond_a_screenful_the_plan_and_result_show_what_needs_attention(make_config, password):
    server, clients, usage = _many(60)
    try:
        partner = partner_config(server.url, clients=clients)
        config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": usage})
        term = PipedTerminal("-c", str(config), "publish", rows=24)
        term.expect("Publish to ConnectWise? [y/N]")
        assert "Stranger Inc" in term.screen and "Client 059" not in term.screen
        assert "60 row(s) to send not shown" in term.screen
        assert "To publish: 60 clients, 1,770.00 GB in total" in term.screen
        code, stdout = term.answer("y")
        assert code == 0
        assert "Client 000" not in stdout and "Stranger Inc" in stdout
        assert "60 published row(s) not shown" in stdout
        assert "published 60 of 60 clients" in stdout
    finally:
        server.stop()


def test_with_v_every_row_is_shown(make_config, password):
    server, clients, usage = _many(40)
    try:
        partner = partner_config(server.url, clients=clients)
        config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": usage})
        term = PipedTerminal("-c", str(config), "-v", "publish", rows=24)
        term.expect("Publish to ConnectWise? [y/N]")
        assert "Client 039" in term.screen and "not shown" not in term.screen
        code, stdout = term.answer("y")
        assert code == 0 and "Client 000" in stdout and "not shown" not in stdout
    finally:
        server.stop()
