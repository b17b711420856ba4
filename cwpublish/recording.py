"""Recording each finished publish: history and ledger first, then the managers' email.

A state file that cannot be written never hides what was sent: the entry is still returned
and shown, and the run exits 1. An email failure only changes the entry's `notification`.

Each entry is written once, unless an email is really sent: then, after the email, only that
entry's file is rewritten and one line appended to the history log (history.py), so that a
crash during SMTP still leaves the entry in history. With --no-email, or no smtp section or
managers, the notification is known before the entry is written, and nothing is written twice.
"""

from __future__ import annotations

from cwpublish import log
from cwpublish.config import Config, Partner
from cwpublish.errors import StateError
from cwpublish.history import Entry, History
from cwpublish.ledger import Ledger
from cwpublish.outcome import RunResult
from cwpublish.state_keys import state_key


class Recorder:
    """Records each finished entry (history, ledger), then emails the managers about it."""

    def __init__(self, config: Config, notify: bool):
        self.config = config
        self.notify = notify
        self.history = History(config.state_dir)
        self.ledger = Ledger(config.state_dir)
        self.result = RunResult()
        self._close_killed_runs()

    def _close_killed_runs(self) -> None:
        """History entries for runs that were killed mid-publish (their journals remain)."""
        from cwpublish import journal

        for entry in journal.leftovers(self.config.state_dir):
            log.warning(
                "%s %s: a publish started %s was killed before it finished; recorded as "
                "interrupted (its unanswered clients are sent again by the next publish)",
                entry.partner,
                entry.period,
                entry.started_at,
            )
            try:
                self.history.add(entry)
            except StateError as e:
                log.error("could not record the interrupted publish: %s", e)
                continue
            journal.end(self.config.state_dir, entry.id)

    def record(self, partner: Partner, entry: Entry) -> None:
        """Keep the entry (history, ledger) before any email; then email and note the outcome."""
        self.result.entries.append(entry)
        emailing = self.notify and self.config.smtp is not None and bool(partner.managers)
        if not self.notify:
            entry.notification = {"status": "disabled", "recipients": [], "error": "--no-email"}
        elif not emailing:  # what notify_publish would say, known before the entry is written
            missing = "no smtp section" if self.config.smtp is None else "no managers"
            entry.notification = {
                "status": "not-configured",
                "recipients": list(partner.managers),
                "error": missing,
            }
        try:
            self.history.add(entry)
            self.ledger.record(entry, state_key(partner))
            from cwpublish import journal

            journal.end(self.config.state_dir, entry.id)
        except StateError as e:
            log.error(
                "%s %s was published as shown, but could not be recorded: %s",
                entry.partner,
                entry.period,
                e,
            )
            entry.warnings.append(f"not recorded in history: {e}")
            self.result.state_error = str(e)
        if not emailing:
            return
        from cwpublish.notify import notify_publish

        entry.notification = notify_publish(self.config, partner, entry.to_dict())
        if not self.result.state_error:
            try:
                self.history.update(entry)
            except StateError as e:
                log.error("could not record the email outcome: %s", e)
                self.result.state_error = str(e)
