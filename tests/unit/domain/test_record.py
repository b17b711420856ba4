"""The typed publish record: statuses and kinds are today's bytes; its JSON shape round-trips."""

from __future__ import annotations

import json

from cwpublish.domain.record import (
    NOT_REACHED,
    ClientResult,
    Entry,
    Kind,
    PublishStatus,
    Status,
    unmapped_names,
)


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
