"""Recording costs one entry, whatever the history holds: the append-only history.log, its torn
last line, compaction (ten per partner), migration of a format-2 history.json, and a Recorder
that writes an entry twice only when an email really was sent."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from conftest import USAGE, partner_config
from cwpublish.config.load import load_config
from cwpublish.domain.record import ClientResult, Entry
from cwpublish.notify.sink import build_sinks
from cwpublish.publish.recording import Recorder
from cwpublish.state import history as history_module
from cwpublish.state.history import History, summarize

PERIOD = f"{date.today():%Y-%m}"


def entry(partner: str = "acme", n: int = 0, unmapped: int = 2) -> Entry:
    e = Entry(partner, "manual", "me@example.com", "2026-11",
              f"2026-11-{1 + n // 60:02d}T10:{n % 60:02d}:00+00:00", "https://cw.example",
              finished_at="2026-11-20T10:00:05+00:00", status="success", exit_code=0)
    e.clients = [ClientResult(f"C{i}", f"M-{i}", 1.5, "published") for i in range(3)]
    e.unmapped = [{"client": f"Stray {partner} {i}", "billable_gb": 2.0} for i in range(unmapped)]
    return e


def log_lines(state: Path) -> list[dict]:
    return [json.loads(line) for line in (state / "history.log").read_bytes().splitlines()]


def test_a_torn_last_line_is_ignored_on_read_and_cut_by_the_next_append(tmp_path, capsys):
    history = History(tmp_path)
    first, second = entry(n=1), entry(n=2)
    history.add(first)
    history.add(second)
    with open(tmp_path / "history.log", "ab") as f:
        f.write(b'{"op":"add","entry":{"id":"0123')  # a crash in the middle of an append
    fresh = History(tmp_path)
    assert [e["id"] for e in fresh.entries()] == [second.id, first.id]
    assert fresh.find(first.id)["clients"][0]["name"] == "C0"
    third = entry(n=3)
    fresh.add(third)
    assert [e["id"] for e in History(tmp_path).entries()] == [third.id, second.id, first.id]
    assert len(log_lines(tmp_path)) == 4  # header + 3: every line is JSON again
    with open(tmp_path / "history.log", "ab") as f:
        f.write(b"\x00\x00\x00\n")  # a last line of zeros (a torn write the size kept)
    assert len(History(tmp_path).entries()) == 3
    assert capsys.readouterr().err == "" and not list(tmp_path.glob("history.log.corrupt-*"))


def test_a_damaged_line_before_the_last_is_moved_aside_and_rebuilt_from_the_entry_files(
    tmp_path, capsys
):
    history = History(tmp_path)
    for n in range(3):
        history.add(entry(n=n))
    lines = (tmp_path / "history.log").read_bytes().splitlines(keepends=True)
    lines[1] = b'{"op":"add","entry":{"id":"x"}}\n'
    (tmp_path / "history.log").write_bytes(b"".join(lines))
    assert len(History(tmp_path).entries()) == 3
    assert "history.log is not of the expected shape; moved it to" in capsys.readouterr().err
    assert len(list(tmp_path.glob("history.log.corrupt-*"))) == 1
    assert len(log_lines(tmp_path)) == 4 and History(tmp_path).entries()[0]["id"]


def test_an_update_keeps_the_entry_in_its_place(tmp_path):
    history = History(tmp_path)
    first, second = entry(n=1), entry(n=2)
    history.add(first)
    history.add(second)
    first.notification = {"status": "sent", "recipients": ["m@x"], "error": None}
    history.update(first)
    [newest, oldest] = History(tmp_path).entries()
    assert (newest["id"], oldest["id"]) == (second.id, first.id)
    assert oldest["notification"]["status"] == "sent"
    assert History(tmp_path).find(first.id)["notification"]["status"] == "sent"


def test_ten_per_partner_is_enforced_and_compaction_deletes_the_rest(tmp_path, monkeypatch):
    history = History(tmp_path)
    added = [entry("acme", n) for n in range(25)] + [entry("beta", n) for n in range(3)]
    for e in added:
        history.add(e)
    shown = History(tmp_path).entries()
    assert [e["id"] for e in shown] == [e.id for e in reversed(added[-13:])]
    assert len(History(tmp_path).entries("acme", full=True)) == 10
    History(tmp_path).compact()
    assert History(tmp_path).entries() == shown
    assert {p.stem for p in (tmp_path / "history").glob("*.json")} == {e["id"] for e in shown}
    assert len(log_lines(tmp_path)) == 14
    monkeypatch.setattr(history_module, "COMPACT_FLOOR", 0)  # compacts on its own, at 2x
    history = History(tmp_path)
    for n in range(40):
        history.add(entry("acme", 100 + n))
    assert len(log_lines(tmp_path)) <= 1 + 2 * 13
    assert len(list((tmp_path / "history").glob("*.json"))) <= 2 * 13
    assert len(History(tmp_path).entries("acme")) == 10


def old_format(state: Path, entries: list[Entry]) -> None:
    """A format-2 state_dir, as cwpublish wrote it before history.log (newest first)."""
    summaries = []
    for e in reversed(entries):
        data = e.to_dict()
        (state / "history").mkdir(parents=True, exist_ok=True)
        (state / "history" / f"{e.id}.json").write_text(json.dumps(data))
        summary = {k: v for k, v in data.items() if k != "clients"}
        summary["counts"] = {"published": 3, "failed": 0, "skipped": 0}
        summaries.append(summary)
    (state / "history.json").write_text(json.dumps({"version": 2, "entries": summaries}))


def test_an_old_history_json_is_read_then_migrated_by_the_next_write(tmp_path):
    old = [entry("acme", n) for n in range(10)] + [entry("beta", n) for n in range(2)]
    old_format(tmp_path, old)
    before = History(tmp_path)
    shown = before.entries()
    assert [e["id"] for e in shown] == [e.id for e in reversed(old)]
    assert all("unmapped" not in e and e["unmapped_count"] == 2 for e in shown)
    full = before.find(old[0].id[:8])
    assert full["unmapped"] == old[0].unmapped and len(full["clients"]) == 3
    assert "counts" not in full and "unmapped_count" not in full
    assert [e["id"] for e in before.matching(old[3].id)] == [old[3].id]
    assert (tmp_path / "history.json").exists() and not (tmp_path / "history.log").exists()
    new = entry("acme", 50)
    History(tmp_path).add(new)  # the first write migrates
    assert not (tmp_path / "history.json").exists()
    after = History(tmp_path)
    assert [e["id"] for e in after.entries()] == [new.id] + [e["id"] for e in shown
                                                             if e["id"] != old[0].id]
    assert len(after.entries("acme")) == 10  # retention kept: the oldest acme entry is gone
    assert after.find(old[0].id) is None and after.find(old[5].id)["unmapped"] == old[5].unmapped
    after.compact()
    assert not (tmp_path / "history" / f"{old[0].id}.json").exists()


def test_a_migration_cut_short_leaves_the_log_in_charge(tmp_path):
    old_format(tmp_path, [entry(n=1)])
    History(tmp_path).add(entry(n=2))
    (tmp_path / "history.json").write_text('{"version": 2, "entries": []}')  # a leftover
    assert len(History(tmp_path).entries()) == 2
    History(tmp_path).add(entry(n=3))
    assert not (tmp_path / "history.json").exists() and len(History(tmp_path).entries()) == 3


def test_the_index_holds_no_unmapped_rows(tmp_path):
    e = entry(unmapped=50)
    History(tmp_path).add(e)
    text = (tmp_path / "history.log").read_text()
    assert "Stray" not in text and '"unmapped_count":50' in text
    assert "Stray" in (tmp_path / "history" / f"{e.id}.json").read_text()
    assert summarize(e.to_dict())["unmapped_count"] == 50


def files_of(state: Path) -> dict[str, tuple[int, bytes]]:
    """Every history file (the log, its index, entry files): its inode and its bytes."""
    return {str(f.relative_to(state)): (f.stat().st_ino, f.read_bytes())
            for f in state.rglob("*")
            if f.is_file() and f.relative_to(state).parts[0].startswith("history")}


def assert_recorded_once(before: dict, after: dict, entry_id: str, log_lines: int) -> None:
    """Only the new entry file is new and history.log only grew by `log_lines` appended lines."""
    assert set(after) - set(before) == {f"history/{entry_id}.json"}
    changed = {name for name in before if after.get(name) != before[name]}
    assert changed == {"history.log"}  # nothing else rewritten, nothing removed
    (inode, old), (new_inode, new) = before["history.log"], after["history.log"]
    assert new_inode == inode and new.startswith(old)  # appended to, never rewritten
    assert new[len(old):].count(b"\n") == log_lines


def recorder_for(config_path: Path, notify: bool) -> tuple[Recorder, object]:
    config = load_config(config_path)
    return Recorder(config, build_sinks(config, notify)), config.partners[0]


@pytest.mark.parametrize("notify, smtp", [(False, True), (True, False)])
def test_without_an_email_nothing_is_written_twice(
    make_config, tmp_path, monkeypatch, notify, smtp, smtp_server
):
    top = {"smtp": smtp_server.config} if smtp else {}
    config = make_config(**top)
    History(tmp_path / "state").add(entry(n=1))  # the log exists: what a run costs from now
    recorder, partner = recorder_for(config, notify)
    before = files_of(tmp_path / "state")
    e = entry(n=2)
    recorder.record(partner, e)
    assert_recorded_once(before, files_of(tmp_path / "state"), e.id, log_lines=1)
    assert e.notification["status"] == ("disabled" if not notify else "not-configured")
    assert History(tmp_path / "state").find(e.id)["notification"] == e.notification
    assert smtp_server.messages == []


def test_an_email_rewrites_only_its_entry_and_appends_one_line(
    make_config, tmp_path, monkeypatch, smtp_server, smtp_password
):
    config = make_config(smtp=smtp_server.config)
    History(tmp_path / "state").add(entry(n=1))
    recorder, partner = recorder_for(config, True)
    before = files_of(tmp_path / "state")
    e = entry(n=2)
    import cwpublish.notify.email

    real = cwpublish.notify.email.notify_publish

    def in_history_before_sending(*args):
        assert History(tmp_path / "state").find(e.id) is not None  # a crash here keeps it
        return real(*args)

    monkeypatch.setattr(cwpublish.notify.email, "notify_publish", in_history_before_sending)
    recorder.record(partner, e)
    assert len(smtp_server.messages) == 1
    # the entry, then its notification: two appended lines, the entry file written whole
    assert_recorded_once(before, files_of(tmp_path / "state"), e.id, log_lines=2)
    assert History(tmp_path / "state").find(e.id)["notification"]["status"] == "sent"


def test_history_json_output_still_has_the_unmapped_rows(sim, make_config, password, run,
                                                         tmp_path):
    config = make_config(partners=[partner_config(sim.url, managers=[])],
                         usage={f"acme-{PERIOD}.csv": USAGE + "Stray Client,7\n"})
    assert run(config, "publish", "--yes").exit_code == 0
    [listed] = json.loads(run(config, "history", "--json").stdout)
    assert listed["unmapped"] == [{"client": "Stray Client", "billable_gb": 7.0}]
    assert "counts" not in listed and "unmapped_count" not in listed
    shown = json.loads(run(config, "history", "show", listed["id"], "--json").stdout)
    assert shown == listed
    assert "Stray Client" not in (tmp_path / "state" / "history.log").read_text()
    assert "published 3 of 3 clients" in run(config, "history").stdout
