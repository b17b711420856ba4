"""History: ten newest per partner, newest first, `history show`, JSON, atomic 0600 files."""

from __future__ import annotations

import json
import os
import stat
from datetime import date

from conftest import USAGE, partner_config, read_history

USAGE_FILE = f"acme-{date.today():%Y-%m}.csv"


def test_history_is_capped_at_ten_per_partner_newest_first(
    sim, make_config, password, run, tmp_path
):
    other = partner_config(sim.url, name="other")
    config = make_config(partners=[partner_config(sim.url), other], usage={USAGE_FILE: USAGE})
    import keyring

    keyring.set_password("cwpublish", "connectwise:other", "x")  # rejected: still recorded
    for _ in range(12):
        run(config, "publish", "--yes", "--force", "--partner", "acme")
    run(config, "publish", "--yes", "--partner", "other")
    entries = read_history(tmp_path)
    assert [e["partner"] for e in entries].count("acme") == 10
    assert entries[0]["partner"] == "other" and entries[0]["status"] == "failed"
    listed = json.loads(run(config, "history", "--partner", "acme", "--json").stdout)
    assert len(listed) == 10
    assert listed == sorted(listed, key=lambda e: e["started_at"], reverse=True)
    state = tmp_path / "state"
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    for f in ("history.json", "ledger.json"):
        assert stat.S_IMODE(os.stat(state / f).st_mode) == 0o600


def test_history_table_and_show(sim, make_config, password, run):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    run(config, "publish", "--yes")
    table = run(config, "history")
    assert table.exit_code == 0
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == [
        "ID",
        "STARTED",
        "PARTNER",
        "MODE",
        "BY",
        "PERIOD",
        "STATUS",
        "RESULT",
        "EMAIL",
    ]
    entry_id = row.split()[0]
    assert "manual" in row and "tester@example.com" in row and "success" in row
    shown = run(config, "history", "show", entry_id[:6])
    assert shown.exit_code == 0
    assert "Law Office of R. Smith" in shown.stdout and "1,250.46" in shown.stdout
    as_json = json.loads(run(config, "history", "show", entry_id, "--json").stdout)
    assert as_json["id"] == entry_id
    missing = run(config, "history", "show", "zzz")
    assert missing.exit_code == 2 and "no single entry with ID 'zzz'" in missing.stderr


def test_empty_history(make_config, run):
    result = run(make_config(), "history")
    assert result.exit_code == 0 and "No publish operations recorded yet." in result.stdout


def test_corrupt_history_is_moved_aside_not_overwritten(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "history.json").write_text("{not json")
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0
    assert "history.json is not valid JSON; moved it to" in result.stderr
    aside = list(state.glob("history.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{not json"
    assert len(read_history(tmp_path)) == 1
