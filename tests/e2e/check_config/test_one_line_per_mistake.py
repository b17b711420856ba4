"""Issue 21, item 4: a configuration mistake that repeats per client (two partners on one
ConnectWise company) is one problem with a count and the first few names, not one per client."""

from __future__ import annotations

from conftest import partner_config


def test_clients_shared_by_two_partners_are_one_problem(make_config, run):
    clients = [{"name": f"Client {i:03d}", "managed_id": f"C{i:03d}"} for i in range(30)]
    first = partner_config("https://cw.example.com", clients=clients)
    second = partner_config("https://cw.example.com", clients=[dict(c) for c in clients])
    second["name"] = "beta"
    config = make_config(partners=[first, second])
    result = run(config, "check-config")
    assert result.exit_code == 2
    said = result.stdout + result.stderr
    assert said.count("also clients of partner 'acme'") == 1
    assert "30 Managed IDs ('C000', 'C001', 'C002', 'C003', 'C004' and 25 more)" in said
    assert "C029" not in said


def test_one_shared_client_keeps_its_own_words(make_config, run):
    first = partner_config("https://cw.example.com")
    second = partner_config(
        "https://cw.example.com", clients=[{"name": "Other", "managed_id": "LAWSMITH"}]
    )
    second["name"] = "beta"
    result = run(make_config(partners=[first, second]), "check-config")
    assert result.exit_code == 2
    assert "Managed ID 'LAWSMITH' is also a client of partner 'acme'" in (
        result.stdout + result.stderr
    )
