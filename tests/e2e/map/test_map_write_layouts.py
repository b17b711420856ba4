"""`map --write` into the layout people write by hand: the partner's `clients:` list of block
mappings followed by a comment and more keys (and the next partner). Before, the entry went
in after the next key, so the file never validated and --write refused a correct config."""

from __future__ import annotations

import copy
from datetime import date

import pytest
import yaml

from conftest import CLIENTS, USAGE, rest_data, rest_partner_config, tenant
from cwpublish.config.load import load_config
from cwpublish.simulator import SimulatorServer

PERIOD = f"{date.today():%Y-%m}"


@pytest.fixture
def rest_sim():
    companies = [{"name": c["name"], "managed_id": c["managed_id"]} for c in CLIENTS]
    companies.append({"name": "Fjord Logistics", "managed_id": "FJORD"})
    server = SimulatorServer({"tenants": [tenant(companies, rest=rest_data())]}).start()
    yield server
    server.stop()


def hand_written(make_config, url: str):
    """The partner with `clients` first, then a comment, its other keys, a second partner."""
    partner = rest_partner_config(url)
    first = {"name": partner.pop("name"), "clients": partner.pop("clients"), **partner}
    other = {**copy.deepcopy(first), "name": "other"}
    for client in other["clients"]:  # its own Managed IDs
        for key in ("managed_id", "company"):
            if key in client:
                client[key] += "-O"
    path = make_config(partners=[first, other],
                       usage={f"acme-{PERIOD}.csv": USAGE + '"Fjord Logistics, LLC",4\n'})
    text = path.read_text(encoding="utf-8")
    text = text.replace("  connectwise:", "  # where ConnectWise is\n  connectwise:", 1)
    path.write_text(text, encoding="utf-8")
    return path, text


def test_write_after_a_block_list_followed_by_more_keys(rest_sim, make_config, rest_key, run):
    config, original = hand_written(make_config, rest_sim.url)
    assert "clients:\n  - name:" in original  # block mappings, not flow
    result = run(config, "map", "--partner", "acme", "--write", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert config.with_name(config.name + ".bak").read_text(encoding="utf-8") == original
    partners = {p.name: p for p in load_config(config).partners}
    acme = {c.name: c.company for c in partners["acme"].clients}
    assert acme["Fjord Logistics, LLC"] == "FJORD"
    assert len(acme) == len(CLIENTS) + 1
    assert len(partners["other"].clients) == len(CLIENTS)
    assert "  # where ConnectWise is\n" in config.read_text(encoding="utf-8")
    assert yaml.safe_load(config.read_text(encoding="utf-8"))  # still one document
