"""Issue 21, item 5: emails, tables and `history show` say what the target did: the SOAP
fields, the REST configuration record, or "addition X on agreement Y set to N GB"."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from conftest import read_history, rest_data, rest_partner_config, sim_state, tenant
from cwpublish.simulator import SimulatorServer

NOW = "2026-11-05 15:00:00"
USAGE = "client,billable_gb\nLaw Office of R. Smith,1250.456\nNorthwind Traders,87\n" \
        "Contoso Dental,310.5\n"
CLIENTS = [  # A and B on one company's agreement, C on its own
    {"name": "Law Office of R. Smith", "company": "LAWSMITH", "managed_id": "LAW-A"},
    {"name": "Northwind Traders", "company": "LAWSMITH", "managed_id": "LAW-B"},
    {"name": "Contoso Dental", "company": "CONTOSO-01"},
]


@pytest.fixture
def server():
    s = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    yield s
    s.stop()


def text_of(message) -> tuple[str, str]:
    return (message.get_body(preferencelist=("plain",)).get_content(),
            message.get_body(preferencelist=("html",)).get_content())


def test_addition_publish_says_which_addition_and_quantity_were_set(
    server, make_config, rest_key, run, smtp_server, smtp_password, tmp_path
):
    partner = rest_partner_config(server.url, "agreement_addition", clients=CLIENTS)
    config = make_config(partners=[partner], smtp=smtp_server.config,
                         usage={"acme-2026-11.csv": USAGE})
    with freeze_time(NOW, tick=True):
        result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)["entries"]
    product = partner["connectwise"]["product"]
    agreements = {c: f"MSA {c}" for c in ("LAWSMITH", "CONTOSO-01")}  # conftest.rest_data
    assert sim_state(server)["rest"]["acme"]["LAWSMITH"]["additions"][0]["quantity"] == 1337.46
    expected = [
        f"addition {product} on agreement {agreements['LAWSMITH']!r} set to 1337.46 GB",
        f"addition {product} on agreement {agreements['CONTOSO-01']!r} set to 310.50 GB",
    ]
    assert sorted(entry["actions"]) == sorted(expected)
    [recorded] = read_history(tmp_path)
    assert sorted(recorded["actions"]) == sorted(expected)
    shown = run(config, "history", "show", entry["id"]).stdout
    assert all(f"set: {line}" in shown for line in expected)
    [(_, _, message)] = smtp_server.messages
    text, html = text_of(message)
    assert "BackupYear" not in text and "BackupYear" not in html
    assert f"quantity of addition {product}" in text
    assert all(f"Set: {line}" in text for line in expected)
    assert all(line.replace("'", "&#39;") in html for line in expected)


def test_configuration_and_soap_emails_name_their_own_record(
    server, sim, make_config, rest_key, run, smtp_server, smtp_password
):
    partner = rest_partner_config(server.url, "configuration", clients=CLIENTS)
    config = make_config(partners=[partner], smtp=smtp_server.config,
                         usage={"acme-2026-11.csv": USAGE})
    with freeze_time(NOW, tick=True):
        result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entries"][0]["actions"] == []
    text, _ = text_of(smtp_server.messages[-1][2])
    assert "configuration record of type" in text and "BackupYear" not in text
