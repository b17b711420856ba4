"""`cwpublish map --write` at a real terminal (a pty): it asks, and "no" exits 10 with the
file untouched and no FILE.bak."""

from __future__ import annotations

from datetime import date

from conftest import CLIENTS, USAGE, rest_data, rest_partner_config, run_in_terminal, tenant
from cwpublish.simulator import SimulatorServer

PERIOD = f"{date.today():%Y-%m}"


def test_write_answered_no_exits_10_and_leaves_the_file(make_config, rest_key):
    companies = [{"name": c["name"], "managed_id": c["managed_id"]} for c in CLIENTS]
    companies.append({"name": "Fjord Logistics", "managed_id": "FJORD"})
    server = SimulatorServer({"tenants": [tenant(companies, rest=rest_data())]}).start()
    try:
        config = make_config(partners=[rest_partner_config(server.url)],
                             usage={f"acme-{PERIOD}.csv": USAGE + "Fjord Logistics LLC,4\n"})
        before = config.read_text()
        code, screen = run_in_terminal("-c", str(config), "map", "--partner", "acme",
                                       "--write", answers=[("Write [y/N]", "n")])
    finally:
        server.stop()
    assert code == 10, screen
    assert '- {name: "Fjord Logistics LLC", company: "FJORD"}' in screen
    assert "<Write [y/N]>" in screen  # it asked
    assert config.read_text() == before
    assert not config.with_name(config.name + ".bak").exists()
