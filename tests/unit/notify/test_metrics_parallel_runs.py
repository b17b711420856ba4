"""Two runs that share one metrics_file (two configs, two state_dirs, so no publish lock between
them): each merges the other's samples, never drops them (read-merge-write under a lock)."""

from __future__ import annotations

import fcntl
import os
import threading
import time

from cwpublish.domain.record import Entry
from cwpublish.domain.run_result import RunResult
from cwpublish.notify import metrics

RUN = {"run_timestamp_seconds": 1.0, "run_exit_code": 0.0, "run_duration_seconds": 0.0}


def _result(partner: str) -> RunResult:
    entry = Entry(partner, "automatic", "cron", "2026-11", "2026-11-20T12:00:00+00:00", "site")
    entry.finished_at, entry.exit_code = "2026-11-20T12:00:01+00:00", 0
    return RunResult(entries=[entry])


def test_a_run_waits_for_the_other_and_keeps_its_samples(tmp_path):
    path = tmp_path / "cwpublish.prom"
    lock = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # as write_metrics locks it
    fcntl.flock(lock, fcntl.LOCK_EX)  # the other run, between its read and its write
    writer = threading.Thread(target=metrics.write_metrics, args=(path, _result("acme"), 0.0))
    writer.start()
    writer.join(0.5)
    try:
        assert writer.is_alive(), "wrote while another run was merging the file"
        other = {"other": metrics.partner_samples(_result("other").entries[0], time.time())}
        metrics.write_atomically(path, metrics.render(other, RUN))  # the other run's write
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
        writer.join(10)
    kept = metrics.read_previous(path)
    assert sorted(kept) == ["acme", "other"]
    acme = kept["acme"]
    assert acme["last_success_timestamp_seconds"] == acme["last_run_timestamp_seconds"]
