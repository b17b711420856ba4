"""The typed publish record: statuses and kinds are today's bytes; its JSON shape round-trips."""

from __future__ import annotations

import json

from cwpublish.domain.record import (
    NOT_REACHED,
    ClientResult,
    Entry,
    EntrySummary,
    Kind,
    PublishStatus,
    Status,
    unmapped_names,
)
from cwpublish.render.output import summary
from cwpublish.state.history import summarize


def test_status_and_kind_values_are_the_strings_on_disk():
    assert [s.value for s in Status] == [
        "published", "failed", "skipped", "unknown",
        "would-publish", "duplicate", "newer-held", "invoiced",
    ]
    assert [k.value for k in Kind] == [
        "unknown-key", "rejected", "not-sent", "no-usage", "invoiced", "newer-held", "unknown",
    ]
    assert [s.value for s in PublishStatus] == ["success", "partial", "failed", "interrupted"]
    assert set(NOT_REACHED) == {"failed", "unknown"}


def _entry() -> Entry:
    entry = Entry("acme", "manual", "ops", "2026-11", "2026-12-01T09:00:00+00:00", "cw.example",
                  id="abc123", status=PublishStatus.PARTIAL, exit_code=3)
    entry.clients = [
        ClientResult("A", "m-a", 1.5, Status.PUBLISHED),
        ClientResult("B", "m-b", None, Status.FAILED, "no such client", Kind.UNKNOWN_KEY),
    ]
    entry.unmapped = [{"client": "C", "billable_gb": 3.0}]
    return entry


def test_entry_json_shape_has_plain_strings_and_round_trips():
    data = _entry().to_dict()
    assert type(data["status"]) is str and data["status"] == "partial"
    assert [(type(c["status"]), c["status"], c["kind"]) for c in data["clients"]] == [
        (str, "published", None), (str, "failed", "unknown-key"),
    ]
    assert list(data["clients"][0]) == ["name", "managed_id", "billable_gb", "status", "error",
                                        "kind"]
    again = Entry.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    assert again.count(Status.FAILED) == 1 and again.clients[1].kind == Kind.UNKNOWN_KEY


def test_unmapped_rows_are_decided_by_name_in_row_order():
    rows = {"Zed": 1, "Acme": 2, "acme": 3, "Bob": 4}
    assert unmapped_names(rows, ["Acme", "Bob"]) == ["Zed", "acme"]
    assert unmapped_names(rows, []) == ["Zed", "Acme", "acme", "Bob"]


def test_summary_is_the_history_log_line_key_for_key_and_round_trips():
    entry = _entry()
    entry.clients.append(ClientResult("D", "m-d", 2.0, Status.FAILED, "not sent", Kind.NOT_SENT))
    line = summarize(entry.to_dict())  # what history.log holds for it
    typed = entry.summary()
    assert json.dumps(typed.to_dict()) == json.dumps(line)  # same keys, same order, same values
    assert typed.counts == {"published": 1, "failed": 2, "skipped": 0}
    assert typed.unmapped_count == 1
    assert EntrySummary.from_dict(json.loads(json.dumps(line))) == typed
    # the entry says which failures were not sent; its summary, without rows, cannot
    assert summary(entry) == "published 1 of 3 clients (1 failed, 1 not sent)"
    assert summary(typed) == "published 1 of 3 clients (2 failed)"


def test_an_old_summary_without_the_newer_fields_reads_with_their_defaults():
    old = {"id": "abc123", "partner": "acme", "mode": "automatic", "initiated_by": "schedule",
           "period": "2026-10", "started_at": "2026-11-01T02:00:00+00:00", "site": "cw.example",
           "status": "failed", "error": "login failed", "counts": {"failed": 4}}
    typed = EntrySummary.from_dict(old)
    assert (typed.actions, typed.state_key, typed.unmapped_count, typed.warnings) == (
        (), None, 0, ())
    assert summary(typed) == "FAILED: login failed"
