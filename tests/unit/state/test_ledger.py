"""The ledger's compact file format: format 1 is read and rewritten as 2; what it answers is
the same either way; publishes no client refers to are dropped; a damaged file is set aside."""

from __future__ import annotations

import json

from cwpublish.domain.record import ClientResult, Entry
from cwpublish.state.ledger import Ledger, ledger_problem

KEY = "acme@cw.example~acme"


def entry(mode: str, at: str, *published: tuple[str, float]) -> Entry:
    e = Entry("acme", mode, f"{mode}-user", "2026-11", "t", "s", finished_at=at)
    e.clients = [ClientResult(k, k, gb, "published") for k, gb in published]
    e.clients.append(ClientResult("F", "F-1", 9.0, "failed", "x"))
    return e


def test_format_1_is_read_and_rewritten_as_format_2(tmp_path):
    folder = tmp_path / "ledger" / KEY
    folder.mkdir(parents=True)
    old = {"A-1": {"automatic": {"at": "2026-11-05T02:00:00+00:00", "by": "cron",
                                 "billable_gb": 1.5, "entry_id": "e1"}}}
    (folder / "2026-11.json").write_text(json.dumps(old))
    ledger = Ledger(tmp_path)
    assert ledger.published(KEY, "2026-11", "A-1") == old["A-1"]
    ledger.record(entry("manual", "2026-11-06T10:00:00+00:00", ("B-1", 2.0)), KEY)
    data = json.loads((folder / "2026-11.json").read_text())
    assert data["ledger"] == 2 and ledger_problem(data) is None
    fresh = Ledger(tmp_path)
    assert fresh.published(KEY, "2026-11", "A-1") == old["A-1"]  # kept through the rewrite
    assert fresh.last(KEY, "2026-11", "B-1")[0] == "manual"
    assert fresh.published(KEY, "2026-11", "F-1") == {}  # failed: not in the ledger


def test_both_modes_and_the_newest_publish(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.record(entry("automatic", "2026-11-05T02:00:00+00:00", ("A-1", 1.0)), KEY)
    ledger.record(entry("manual", "2026-11-07T09:00:00+00:00", ("A-1", 3.0)), KEY)
    modes = Ledger(tmp_path).published(KEY, "2026-11", "A-1")
    assert modes["automatic"]["billable_gb"] == 1.0 and modes["manual"]["billable_gb"] == 3.0
    assert Ledger(tmp_path).last(KEY, "2026-11", "A-1")[1]["by"] == "manual-user"


def test_publishes_nobody_refers_to_are_dropped(tmp_path):
    ledger = Ledger(tmp_path)
    for day in range(1, 6):  # the same client republished: one publish left in the file
        ledger.record(entry("manual", f"2026-11-0{day}T00:00:00+00:00", ("A-1", day)), KEY)
    data = json.loads((tmp_path / "ledger" / KEY / "2026-11.json").read_text())
    assert len(data["publishes"]) == 1 and data["clients"]["A-1"] == [0, 5, None, None]


def test_a_format_2_file_of_the_wrong_shape_is_named():
    assert ledger_problem({"ledger": 2, "publishes": [], "clients": {"A": [0, 1, None, None]}})
    assert ledger_problem({"ledger": 2, "publishes": [{"mode": "x"}], "clients": {}})
    assert ledger_problem({"ledger": 2, "publishes": [], "clients": {"A": [None, "1", None, None]}})


def test_a_late_record_never_hides_a_newer_one_and_is_found_by_its_entry_id(tmp_path):
    ledger = Ledger(tmp_path)
    newer = entry("manual", "2026-11-09T10:00:00+00:00", ("A-1", 2.0))
    older = entry("manual", "2026-11-06T10:00:00+00:00", ("A-1", 1.0))
    ledger.record(newer, KEY)
    ledger.record(older, KEY)  # a catch-up of an earlier run, recorded after
    fresh = Ledger(tmp_path)
    assert fresh.published(KEY, "2026-11", "A-1")["manual"]["billable_gb"] == 2.0
    assert fresh.has_entry(KEY, "2026-11", newer.id)
    assert not fresh.has_entry(KEY, "2026-11", "nope")


def test_nothing_published_writes_no_ledger_file(tmp_path):
    Ledger(tmp_path).record(entry("manual", "2026-11-06T10:00:00+00:00"), KEY)
    assert not (tmp_path / "ledger" / KEY / "2026-11.json").exists()


def test_newest_period_per_client_reads_only_later_periods(tmp_path):
    from cwpublish.domain.period import Period

    ledger = Ledger(tmp_path)
    for period, ids in (("2026-09", ("A-1", "B-1")), ("2026-11", ("A-1",))):
        e = entry("automatic", f"{period}-05T02:00:00+00:00", *[(k, 1.0) for k in ids])
        e.period = period
        ledger.record(e, KEY)
    (tmp_path / "ledger" / KEY / "2026-07.json").write_text("damaged, and never read")
    found = Ledger(tmp_path).newest(KEY, {"A-1", "B-1", "C-1"}, Period(2026, 8))
    assert {k: v[0] for k, v in found.items()} == {"A-1": "2026-11", "B-1": "2026-09"}
    assert found["A-1"][1]["mode"] == "automatic"
    assert (tmp_path / "ledger" / KEY / "2026-07.json").exists()  # not read, not moved aside
