"""`publish --scheduled --dry-run` on a retry night previews what the real run will send: only
the clients left of the failed period (the published ones are not duplicates to refuse), and
it writes no state (schedule.json, history, ledger, metrics)."""

from __future__ import annotations

import json

from freezegun import freeze_time

from conftest import USAGE, partner_config, soap_requests

NOV = {"acme-2026-11.csv": USAGE}


def _state_files(tmp_path) -> dict[str, bytes]:
    return {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file() and "cache" not in p.parts
    }


def test_a_retry_night_preview_shows_only_the_clients_left(
    sim, make_config, password, run, tmp_path
):
    companies = sim.sim.tenants["acme"]["companies"]
    contoso = companies.pop(1)  # not set up in ConnectWise on the first night
    partner = partner_config(sim.url, schedule={"day": 5, "timezone": "America/New_York"})
    config = make_config(partners=[partner], usage=NOV, metrics_file=str(tmp_path / "m.prom"))
    with freeze_time("2026-11-05 07:00:00", tick=True):
        first = run(config, "publish", "--scheduled", "--json")
    assert first.exit_code == 3, first.stdout + first.stderr
    companies.append(contoso)
    sent = len(soap_requests(sim, "UpdateManagedDevices"))
    before = _state_files(tmp_path)
    with freeze_time("2026-11-06 07:00:00", tick=True):
        preview = run(config, "publish", "--scheduled", "--dry-run", "--json")
    assert preview.exit_code == 0, preview.stdout + preview.stderr
    [entry] = json.loads(preview.stdout)["entries"]
    # as the night's own entry: the client left would publish, those done are `skipped`
    sending = [c["managed_id"] for c in entry["clients"] if c["status"] == "would-publish"]
    assert sending == ["CONTOSO-01"], entry["clients"]
    assert {c["status"] for c in entry["clients"] if c["managed_id"] != "CONTOSO-01"} == {
        "skipped"}
    assert _state_files(tmp_path) == before  # nothing recorded, no metrics written
    assert len(soap_requests(sim, "UpdateManagedDevices")) == sent  # nothing sent
