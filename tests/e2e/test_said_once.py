"""A partner-wide failure is said once: in the terminal output, the email and history; the
client rows only say "not sent" (150 clients with a wrong password are not 150 reasons)."""

from __future__ import annotations

import json
from datetime import date

import keyring

from conftest import partner_config, read_history, tenant
from cwpublish.simulator import SimulatorServer

PERIOD = f"{date.today():%Y-%m}"


def test_a_wrong_password_for_150_clients_is_said_once(
    make_config, run, tmp_path, smtp_server, smtp_password
):
    clients = [{"name": f"Client {i:03d}", "managed_id": f"C{i:03d}"} for i in range(150)]
    server = SimulatorServer({"tenants": [tenant([
        {**c, "device_type": "Backup Stats"} for c in clients])]}).start()
    try:
        keyring.set_password("cwpublish", "connectwise:acme", "not-the-password")
        usage = "client,billable_gb\n" + "".join(f"{c['name']},1\n" for c in clients)
        config = make_config(partners=[partner_config(server.url, clients=clients)],
                             usage={f"acme-{PERIOD}.csv": usage}, smtp=smtp_server.config)
        result = run(config, "publish", "--yes")
    finally:
        server.stop()
    assert result.exit_code == 12
    reason = "ConnectWise rejected the login"
    assert result.stdout.count(reason) == 1 and result.stderr.count(reason) == 0
    assert len(result.stdout.encode()) < 150 * 80  # rows, not 150 copies of the reason
    [(_, _, msg)] = smtp_server.messages
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    body = html.split("</title>", 1)[1]  # the <title> is the subject line
    assert text.count(reason) == 1 and body.count(reason) == 1
    entry = read_history(tmp_path)[0]
    assert reason in entry["error"]
    assert all(c["error"] == "not sent" for c in entry["clients"])
    assert json.dumps(entry).count(reason) == 1
