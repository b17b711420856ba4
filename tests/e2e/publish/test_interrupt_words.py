"""Issue 21, item 5: at a terminal, the interrupt message is on its own line after the progress
bar, the bar does not jump to 100%, and the clients left are counted `not sent`."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from datetime import date

from conftest import partner_config, sim_faults, soap_requests, tenant, wait_for
from cwpublish.simulator import SimulatorServer

THIS = f"{date.today():%Y-%m}"


def test_interrupt_message_on_its_own_line_and_unsent_counted_not_sent(make_config, password):
    clients = [{"name": f"Client {i:03d}", "managed_id": f"C{i:03d}"} for i in range(60)]
    server = SimulatorServer(
        {"tenants": [tenant([{**c, "device_type": "Backup Stats"} for c in clients])]}
    ).start()
    master, slave = pty.openpty()
    try:
        partner = partner_config(server.url, clients=clients)
        partner["connectwise"].update({"batch_size": 10, "parallel_requests": 1})
        usage = "client,billable_gb\n" + "".join(f"{c['name']},1\n" for c in clients)
        config = make_config(partners=[partner], usage={f"acme-{THIS}.csv": usage})
        sim_faults(server, [{"operation": "UpdateManagedDevices", "delay": 0.4}])
        env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "24"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "cwpublish", "-c", str(config), "publish", "--yes"],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        wait_for(lambda: soap_requests(server, "UpdateManagedDevices"))
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=30)[0].decode()
        screen = ""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and select.select([master], [], [], 0.2)[0]:
            try:
                screen += os.read(master, 65536).decode("utf-8", "replace")
            except OSError:
                break
        assert proc.returncode == 130
        assert "\ncwpublish: SIGINT: stopping" in screen.replace("\r\n", "\n")
        assert "100%" not in screen
        assert "not sent" in out and "failed)" not in out
    finally:
        os.close(master)
        server.stop()
