"""Sending records as UpdateManagedDevices batches, several in flight, bad devices isolated.

A batch that ConnectWise answers with an error text is split in halves down to single devices,
so only the bad clients fail and the text is never parsed. After a transport failure
(ConnectWise down, retries exhausted) no further batch is started.
"""

from __future__ import annotations

from collections.abc import Callable

from cwpublish import interrupt
from cwpublish.domain.record import (
    INTERRUPTED_TEXT,
    NOT_SENT,
    NOT_SENT_TEXT,
    REJECTED,
    Progress,
    RecordResult,
    UsageRecord,
)
from cwpublish.errors import ConnectWiseError
from cwpublish.targets.base import Sent

# Sends one batch: None on success, else the error text ConnectWise answered.
SendBatch = Callable[[list[UsageRecord]], str | None]


def send_batches(
    send_batch: SendBatch,
    records: list[UsageRecord],
    batch_size: int,
    parallel: int,
    progress: Progress | None = None,
) -> Sent:
    """Send in batches, `parallel` at a time; results in the records' order."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Event

    batches = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]
    stop = Event()
    first_error: list[str] = []

    def send(batch: list[UsageRecord]) -> list[RecordResult]:
        if interrupt.requested():  # Ctrl-C / SIGTERM: start nothing new
            return [RecordResult(r, INTERRUPTED_TEXT, NOT_SENT) for r in batch]
        if stop.is_set():
            return [RecordResult(r, NOT_SENT_TEXT, NOT_SENT) for r in batch]
        try:
            return split_on_error(send_batch, batch)
        except ConnectWiseError as e:
            if not stop.is_set():
                first_error.append(str(e))
                stop.set()
            return [RecordResult(r, NOT_SENT_TEXT, NOT_SENT) for r in batch]

    results: list[RecordResult] = []
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for batch, outcome in zip(batches, pool.map(send, batches), strict=True):
            results += outcome
            if progress:
                progress(len(batch))
    return Sent(results, first_error[0] if first_error else None)


def split_on_error(send_batch: SendBatch, batch: list[UsageRecord]) -> list[RecordResult]:
    """Send a batch; on an error text, split it to find exactly which records it concerns."""
    error = send_batch(batch)
    if error is None:
        return [RecordResult(r) for r in batch]
    if len(batch) == 1:
        return [RecordResult(batch[0], f"ConnectWise: {error}", REJECTED)]
    half = len(batch) // 2
    return split_on_error(send_batch, batch[:half]) + split_on_error(send_batch, batch[half:])
