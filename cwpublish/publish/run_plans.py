"""Running the plans of one publish: partners concurrently, each partner's months in order,
and everything recorded exactly as a sequential run would record it.

Up to `parallel_partners` partners send at once (each its own ConnectWise site, mostly waiting
on the network); a partner's plans (a backfill's months) run one after another. Around each send
the sinks (notify/sink.py) are told it started and finished; entries are recorded, handed to the
sinks (the email) and printed in plan order, so history, ledger and emails read as if the run
had been sequential. A backfill's failed month, or Ctrl-C/SIGTERM, stops starting new plans;
those left are reported as not attempted. The caller holds the publish lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from cwpublish import interrupt
from cwpublish.config.model import Config
from cwpublish.domain.record import Entry, Progress
from cwpublish.domain.run_result import RunResult
from cwpublish.notify.sink import Sink
from cwpublish.publish import run as publish_run
from cwpublish.publish.plan import Plan
from cwpublish.publish.recording import Recorder


def run_plans(
    config: Config,
    plans: list[Plan],
    *,
    sinks: Sequence[Sink],
    progress: Callable[[Plan], Progress | None] | None = None,
    stop_on_failure: bool = False,
) -> RunResult:
    """Send and record every plan, telling the `sinks` (notify/sink.py build_sinks) of each."""

    recorder = Recorder(config, sinks)
    groups: dict[str, list[int]] = {}
    for i, plan in enumerate(plans):
        groups.setdefault(plan.partner.name, []).append(i)
    workers = max(1, min(config.parallel_partners, len(groups)))
    if workers > 1:
        progress = None  # several bars at once would garble the terminal
    entries: list[Entry | None] = [None] * len(plans)
    done = [threading.Event() for _ in plans]
    stop = threading.Event()

    def run_group(indexes: list[int]) -> None:
        for i in indexes:
            try:
                if stop.is_set() or interrupt.requested():
                    continue
                plan = plans[i]
                for sink in sinks:
                    sink.started(plan)
                step = progress(plan) if progress else None
                entry = publish_run.execute(plan, step, config.state_dir)
                entries[i] = entry
                for sink in sinks:
                    sink.finished(plan, entry)
                if stop_on_failure and entry.status == "failed":
                    stop.set()
            finally:
                done[i].set()

    with interrupt.catching(), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_group, indexes) for indexes in groups.values()]
        for i, plan in enumerate(plans):  # record in plan order, as each becomes available
            while not done[i].wait(0.2):
                pass  # short waits: the main thread must stay free to take signals
            entry = entries[i]
            if entry is None:
                recorder.result.not_attempted.append((plan.partner.name, str(plan.period)))
            else:
                recorder.record(plan.partner, entry)
        for f in futures:
            f.result()  # a bug in a worker is not swallowed
    recorder.result.interrupted = interrupt.exit_code()
    for sink in sinks:
        sink.run_finished(recorder.result)
    return recorder.result
