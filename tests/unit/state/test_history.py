"""History: ten newest per partner, newest first, `history show`, JSON, atomic 0600 files."""

from __future__ import annotations

import json
import os
import stat
from datetime import date

from helpers import entry, partner

from conftest import USAGE, partner_config, read_history
from cwpublish.config.model import state_key
from cwpublish.domain.period import Period
from cwpublish.domain.record import ClientResult, Entry
from cwpublish.domain.schedule import DayState
from cwpublish.state.history import History
from cwpublish.state.ledger import LEDGER_PERIODS, Ledger
from cwpublish.state.schedule_state import ScheduleState

USAGE_FILE = f"acme-{date.today():%Y-%m}.csv"


def test_history_is_capped_at_ten_per_partner_newest_first(
    sim, make_config, password, run, tmp_path
):
    other = partner_config(sim.url, name="other")
    other["connectwise"]["company_id"] = "other"  # its own company (it is refused anyway)
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
    files = [f for f in state.rglob("*") if f.is_file() and f.name != "publish.lock"]
    assert {f.relative_to(state).parts[0] for f in files} == {"history.log", "history",
                                                             "ledger", "schedule.json"} - \
        {"schedule.json"}
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    History(state).compact()  # pruning the entry files is amortised in compaction
    assert len(list((state / "history").glob("*.json"))) == 11  # 10 acme + 1 other, no more


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


def test_history_index_holds_summaries_and_entries_hold_clients(sim, make_config, password,
                                                                run, tmp_path):
    config = make_config(sim.url, usage={USAGE_FILE: USAGE})
    run(config, "publish", "--yes")
    state = tmp_path / "state"
    header, record = (state / "history.log").read_text().splitlines()
    assert json.loads(header)["history"] == 3 and json.loads(record)["op"] == "add"
    summary = json.loads(record)["entry"]
    assert "clients" not in summary and "unmapped" not in summary
    assert summary["counts"] == {"published": 3, "failed": 0, "skipped": 0}
    full = json.loads((state / "history" / f"{summary['id']}.json").read_text())
    assert len(full["clients"]) == 3 and full["status"] == "success"
    (state / "history" / f"{summary['id']}.json").unlink()
    shown = json.loads(run(config, "history", "show", summary["id"], "--json").stdout)
    assert shown["clients"] == [] and "per-client rows are missing" in shown["warnings"]
    assert "published 3 of 3 clients" in run(config, "history").stdout


def test_ledger_keeps_one_file_per_period_and_prunes_old_ones(tmp_path):
    from cwpublish.state.ledger import LEDGER_PERIODS, Ledger

    ledger = Ledger(tmp_path)
    for year in range(2020, 2027):
        for month in range(1, 13):
            entry = Entry(partner="acme", mode="automatic", initiated_by="cron",
                          period=f"{year}-{month:02d}", started_at="t", site="s",
                          finished_at=f"{year}-{month:02d}-05T02:00:00+00:00",
                          clients=[ClientResult("A", "A-1", 1.0, "published"),
                                   ClientResult("B", "B-1", None, "failed", "x")])
            ledger.record(entry)
    files = sorted(p.stem for p in (tmp_path / "ledger" / "acme").glob("*.json"))
    assert len(files) == LEDGER_PERIODS and files[0] == "2022-01" and files[-1] == "2026-12"
    fresh = Ledger(tmp_path)
    assert fresh.published("acme", "2026-12", "A-1")["automatic"]["by"] == "cron"
    assert fresh.published("acme", "2026-12", "B-1") == {}
    assert fresh.published("acme", "2021-12", "A-1") == {}


def test_prune_never_forgets_a_partner_for_not_being_in_this_config(tmp_path):
    mine, gone = state_key(partner()), state_key(partner(name="gone"))
    theirs = state_key(partner("http://127.0.0.1:8765"))
    state = ScheduleState(tmp_path)
    for key in (mine, gone, theirs):
        state.set(key, DayState(5, date(2026, 11, 1)))
    state.prune(date(2026, 12, 1), {mine})  # `gone` may be another config's: kept
    state.save()
    assert set(json.loads((tmp_path / "schedule.json").read_text())) == {mine, gone, theirs}


def test_a_backfilled_old_period_is_kept_though_36_newer_ones_exist(tmp_path):
    key = state_key(partner())
    ledger = Ledger(tmp_path)
    newer = [Period(2024, 1)]
    while len(newer) < LEDGER_PERIODS:
        newer.append(newer[-1].next())
    for p in newer:
        ledger.record(entry(str(p)), key)
    ledger.record(entry("2019-01", mode="manual"), key)
    fresh = Ledger(tmp_path)
    assert "manual" in fresh.published(key, "2019-01", "A-1")
    assert all("automatic" in fresh.published(key, str(p), "A-1") for p in newer)
    ledger.record(entry(str(newer[-1].next())), key)  # a newer period: now 2019-01 ages out
    files = sorted(p.stem for p in (tmp_path / "ledger" / key).glob("*.json"))
    assert files[0] == "2024-02" and len(files) == LEDGER_PERIODS
