"""At a real terminal (a pty): the plan and confirmation, the separate duplicates question,
colour and the progress bar; none of which appear in pipes (tested elsewhere)."""

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


class Terminal:
    def __init__(self, *args: str, rows: int = 24):
        self.master, slave = pty.openpty()
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": str(rows)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cwpublish", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} not seen in:\n{self.screen}"
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    break

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def finish(self) -> int:
        code = self.proc.wait(timeout=60)
        try:
            while True:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if not ready:
                    break
                self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
        except OSError:
            pass
        os.close(self.master)
        return code


def test_terminal_asks_about_duplicates_separately_then_confirms(
    sim, make_config, password, tmp_path
):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    first = Terminal("-c", str(config), "publish", "--client", "LAWSMITH")
    first.expect("Publish to ConnectWise? [y/N]")
    assert "Law Office of R. Smith" in first.screen and "1,250.46" in first.screen
    first.send("y")
    assert first.finish() == 0
    assert "\x1b[" in first.screen  # colour on a terminal

    second = Terminal("-c", str(config), "publish")
    second.expect("Publish these clients AGAIN? [y/N]")
    assert "Law Office of R. Smith (LAWSMITH) was published" in second.screen
    second.send("n")
    second.expect("Publish to ConnectWise? [y/N]")
    second.send("y")
    assert second.finish() == 0
    devices = soap_requests(sim, "UpdateManagedDevices")[-1]["devices"]
    assert [d["managed_id"] for d in devices] == ["CONTOSO-01", "NORTHWIND"]
    assert len(read_history(tmp_path)) == 2


def test_answering_no_sends_nothing(sim, make_config, password):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    term = Terminal("-c", str(config), "publish")
    term.expect("Publish to ConnectWise? [y/N]")
    term.send("n")
    assert term.finish() == 10  # declined: its own code, not 1 ("ConnectWise unreachable")
    assert "aborted; nothing was sent" in term.screen
    assert soap_requests(sim) == []


def test_progress_bar_for_more_than_a_screenful(make_config, password, tmp_path):
    clients = [{"name": f"Client {i:03d}", "managed_id": f"C{i:03d}"} for i in range(60)]
    server = SimulatorServer(
        {"tenants": [tenant([{**c, "device_type": "Backup Stats"} for c in clients])]}
    ).start()
    try:
        partner = partner_config(server.url, clients=clients)
        partner["connectwise"]["batch_size"] = 10
        usage = "client,billable_gb\n" + "".join(
            f"{c['name']},{i}\n" for i, c in enumerate(clients)
        )
        config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": usage})
        term = Terminal("-c", str(config), "publish", "--yes", rows=24)
        assert term.finish() == 0
        assert f"acme {THIS}" in term.screen and "100%" in term.screen
        assert "published 60 of 60 clients" in term.screen
    finally:
        server.stop()


def test_a_retry_wait_is_said_at_a_terminal_without_v(sim, make_config, password):
    from conftest import sim_faults

    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "http_status": 503, "times": 1}])
    term = Terminal("-c", str(config), "publish", "--yes")
    term.expect("retrying in")
    assert term.finish() == 0
    assert "HTTP 503 service unavailable" in term.screen and "attempt 2 of 4" in term.screen
