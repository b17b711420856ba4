"""Batch splitting: only the devices an error text concerns fail; a transport failure stops."""

from __future__ import annotations

import threading
from decimal import Decimal

from cwpublish.domain.period import Period
from cwpublish.domain.record import NOT_SENT, REJECTED, UsageRecord
from cwpublish.errors import ConnectWiseError
from cwpublish.targets.connectwise_soap.batches import send_batches, split_on_error

RECORDS = [UsageRecord(f"C{i}", f"K{i}", Decimal(i), Period(2026, 11)) for i in range(10)]


def fake_site(bad: set[str], calls: list[list[str]]):
    """Answers an error text for any batch holding a bad key (like ConnectWise)."""
    lock = threading.Lock()

    def send(batch):
        with lock:
            calls.append([r.key for r in batch])
        return "Invalid ManagedIdentifier" if any(r.key in bad for r in batch) else None

    return send


def test_a_bad_device_is_isolated_by_halving():
    calls: list[list[str]] = []
    results = split_on_error(fake_site({"K3"}, calls), RECORDS[:8])
    assert [r.record.key for r in results] == [r.key for r in RECORDS[:8]]
    failed = [r for r in results if r.error]
    assert [r.record.key for r in failed] == ["K3"]
    assert failed[0].kind == REJECTED
    assert failed[0].error == "ConnectWise: Invalid ManagedIdentifier"
    # 8 -> 4+4 -> 2+2 -> 1+1: log2 depth, the good halves sent once each
    assert calls[0] == [f"K{i}" for i in range(8)] and ["K3"] in calls and len(calls) == 7


def test_batches_keep_order_and_report_progress():
    calls: list[list[str]] = []
    done: list[int] = []
    sent = send_batches(fake_site(set(), calls), RECORDS, 3, 2, done.append)
    assert [r.record.key for r in sent.results] == [r.key for r in RECORDS]
    assert all(r.error is None for r in sent.results) and sent.stopped_by is None
    assert sorted(len(c) for c in calls) == [1, 3, 3, 3] and done == [3, 3, 3, 1]


def test_a_transport_failure_stops_further_batches():
    calls: list[list[str]] = []

    def down(batch):
        calls.append([r.key for r in batch])
        raise ConnectWiseError("UpdateManagedDevices", "cannot connect to cw: refused")

    sent = send_batches(down, RECORDS, 2, 1)
    assert len(calls) == 1  # nothing started after the first failure
    assert sent.stopped_by == "UpdateManagedDevices: cannot connect to cw: refused"
    assert {r.kind for r in sent.results} == {NOT_SENT}
    assert all(r.error == "not sent" for r in sent.results)  # the reason: stopped_by, once
