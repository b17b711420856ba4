"""Sinks: what happens around each publish beyond the state files (the managers' email, the
schedule's ping), behind one protocol so that a new one (a webhook, a metrics file) is one new
class and one line in build_sinks (the metrics file is one: notify/metrics.py).

The moments, in order (run_plans.py and recording.py call them, each sink in list order):
`started` and `finished` run in the partner's worker thread around the send (`finished` before
the entry is recorded, so it may add to it); `recording` runs just before the entry is written
(history, ledger, journal) and `recorded` just after, in plan order; `run_finished` once at the
end. A sink never changes what was published or the exit code: it notes its outcome in the entry.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from cwpublish.config.model import Config, Partner
from cwpublish.domain.record import Entry
from cwpublish.domain.run_result import RunResult
from cwpublish.notify import email
from cwpublish.notify.metrics import write_metrics
from cwpublish.notify.ping import ping


class Planned(Protocol):
    """What a sink reads of a plan (publish/plan.py): whose, and whether the schedule's."""

    partner: Partner
    mode: str


class Sink:
    """The sink protocol, every moment a no-op: a sink overrides those it acts on."""

    def started(self, plan: Planned) -> None:
        """Before the plan is sent (worker thread)."""

    def finished(self, plan: Planned, entry: Entry) -> None:
        """After the send, before the entry is recorded (worker thread)."""

    def recording(self, partner: Partner, entry: Entry) -> None:
        """Just before the entry is written: what the sink already knows goes in with it."""

    def recorded(self, partner: Partner, entry: Entry) -> bool:
        """After the entry is written; True if the sink changed it (its history is rewritten)."""
        return False

    def run_finished(self, result: RunResult) -> None:
        """Once, after every plan of the run."""


class EmailSink(Sink):
    """The managers' email after each publish, when email.not_emailing says they are emailed."""

    def __init__(self, config: Config, enabled: bool):
        self.config = config
        self.enabled = enabled

    def recording(self, partner: Partner, entry: Entry) -> None:
        """No email to send: the notification is known before the entry is first written."""
        skipped = email.not_emailing(self.config, partner, self.enabled)
        if skipped is not None:
            entry.notification = skipped

    def recorded(self, partner: Partner, entry: Entry) -> bool:
        """Send the email after the entry is kept (a crash during SMTP still leaves it)."""
        if email.not_emailing(self.config, partner, self.enabled) is not None:
            return False
        entry.notification = email.notify_publish(self.config, partner, entry)
        return True


class PingSink(Sink):
    """The schedule's dead-man's switch (healthchecks.io style): `/start`, then the publish's
    exit code `/{code}` (healthchecks.io: 0 is success, 1-255 a failure), for the automatic
    publishes of a partner with a ping_url."""

    def started(self, plan: Planned) -> None:
        ping(_ping_url(plan), "start")

    def finished(self, plan: Planned, entry: Entry) -> None:
        ping(_ping_url(plan), str(entry.exit_code))


class MetricsSink(Sink):
    """Prometheus textfile metrics (`metrics_file:`) once the run is over (notify/metrics.py)."""

    def __init__(self, path: Path):
        self.path = path
        self.started_at = time.monotonic()

    def run_finished(self, result: RunResult) -> None:
        write_metrics(self.path, result, self.started_at)


def _ping_url(plan: Planned) -> str | None:
    """The URL pinged for a plan: only the schedule's own runs ping (a manual publish not)."""
    schedule = plan.partner.schedule
    return schedule.ping_url if schedule and plan.mode == "automatic" else None


def build_sinks(config: Config, notify: bool = True) -> list[Sink]:
    """Every sink of a publish run, built once from the configuration (`notify`: --no-email)."""
    sinks: list[Sink] = [EmailSink(config, notify), PingSink()]
    if config.metrics_file is not None:
        sinks.append(MetricsSink(config.metrics_file))
    return sinks
