"""Recording each finished publish: history, ledger and journal as one step, then the sinks.

The step cannot half-happen. The history and the ledger are each written (one failing does
not skip the other); when both are, the journal (journal.py) is removed. When either is not,
the journal is rewritten with the whole final entry, so the next run records that entry as it
is and catches the ledger up (catch_up) -- before its own guard looks at the ledger -- instead
of closing it as killed or sending it again blindly. What could not be written is named (an
error line, the entry's warnings, --json `not_recorded`) and the run exits 4 (outcome.py).
A state file that cannot be written never hides what was sent: the entry is still shown.

The recorded entry is then handed to the sinks (notify/sink.py: the email, the ping). Each
entry is written once, unless a sink changes it (an email is really sent): then, after it, only
that entry's file is rewritten and one line appended to the history log (history.py), so that a
crash during SMTP still leaves the entry in history. With --no-email, or no smtp section or
managers, the notification is known before the entry is written, and nothing is written twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from cwpublish import log
from cwpublish.config.model import Config, Partner, state_key
from cwpublish.domain.record import Entry
from cwpublish.domain.run_result import RunResult
from cwpublish.errors import StateError
from cwpublish.notify.sink import Sink
from cwpublish.state import journal
from cwpublish.state.history import History, entry_from_dict
from cwpublish.state.ledger import Ledger


def catch_up(config: Config) -> list[str]:
    """Finish what earlier runs left in runs/ (call with the lock held); what still could not
    be written. A killed run is closed as interrupted; an entry that is final (kept whole in
    its journal, or already in history) is recorded as it is and the ledger caught up."""
    state_dir = config.state_dir
    history, ledger = History(state_dir), Ledger(state_dir)
    keys = {p.name: state_key(p) for p in config.partners}
    problems = []
    for left in journal.leftovers(state_dir):
        entry, finished = left.entry, left.finished
        try:
            kept, listed = history.recorded(entry.id)
            if not finished and kept is not None:  # in history already: finished, not killed
                entry, finished = entry_from_dict(kept), True
            if not finished:
                log.warning(
                    "%s %s: a publish started %s was killed before it finished; recorded as "
                    "interrupted (its unanswered clients are sent again by the next publish)",
                    entry.partner, entry.period, entry.started_at,
                )
                history.add(entry)
            else:
                log.warning(
                    "%s %s: entry %s was published but not wholly recorded by its run; "
                    "recording it now", entry.partner, entry.period, entry.id,
                )
                if not listed:
                    history.add(entry)
                key = left.key or entry.state_key or keys.get(entry.partner)  # sent under
                if key and not ledger.has_entry(key, entry.period, entry.id):
                    ledger.record(entry, key)
            journal.end(state_dir, entry.id)
        except StateError as e:
            log.error("could not record entry %s of an earlier run: %s", entry.id, e)
            problems.append(f"entry {entry.id} of an earlier run ({e})")
    return problems


def require_recorded(config: Config) -> None:
    """Catch up what earlier runs left (call with the lock held); StateError (nothing sent)
    when one is still not recorded: the guards would not see it, so sending now could send it
    again blindly. The one rule for a manual publish and the scheduled night."""
    unrecorded = catch_up(config)
    if unrecorded:
        raise StateError(
            f"not published: an earlier publish is still not recorded: {'; '.join(unrecorded)}"
            "; make the state directory writable and run again"
        )


class Recorder:
    """Records each finished entry (history, ledger, journal), then hands it to the sinks."""

    def __init__(self, config: Config, sinks: Sequence[Sink]):
        self.config = config
        self.sinks = list(sinks)
        self.history = History(config.state_dir)
        self.ledger = Ledger(config.state_dir)
        self.result = RunResult()
        problems = catch_up(config)
        if problems:
            self.result.state_error = "; ".join(problems)

    def record(self, partner: Partner, entry: Entry) -> None:
        """Keep the entry (history, ledger) before any sink acts; then keep what they noted."""
        self.result.entries.append(entry)
        for sink in self.sinks:
            sink.recording(partner, entry)
        missing = self._write(partner, entry)
        if missing:
            self._not_recorded(entry, missing)
        changed = [sink.recorded(partner, entry) for sink in self.sinks]  # every sink runs
        if any(changed) and not missing:
            try:
                self.history.update(entry)
            except StateError as e:
                log.error("could not record the email outcome: %s", e)
                self._note(f"history: the email outcome of entry {entry.id} ({e})")

    def _write(self, partner: Partner, entry: Entry) -> list[str]:
        """Write history and ledger (each tried), then close or keep the journal; what failed."""
        key = state_key(partner)
        missing = []
        for what, write in (
            ("history", lambda: self.history.add(entry)),
            ("ledger", lambda: self.ledger.record(entry, key)),
        ):
            try:
                write()
            except StateError as e:
                missing.append(f"{what} ({e})")
        if missing:
            entry.warnings.append(f"not recorded in: {'; '.join(missing)}")
        try:
            if missing:
                journal.finish(self.config.state_dir, entry, key)
            else:
                journal.end(self.config.state_dir, entry.id)
        except StateError as e:
            missing.append(f"journal ({e})")
        return missing

    def _not_recorded(self, entry: Entry, missing: list[str]) -> None:
        """Say what was not written, on stderr, in the entry and in the run's result."""
        lost = {m.split(" ", 1)[0] for m in missing} >= {"history", "journal"}
        text = "; ".join(missing)
        log.error(
            "%s %s was published as shown, but not recorded in: %s%s",
            entry.partner,
            entry.period,
            text,
            "" if lost else "; the next run records it",
        )
        self._note(f"entry {entry.id}: {text}")

    def _note(self, what: str) -> None:
        error = self.result.state_error
        self.result.state_error = f"{error}; {what}" if error else what
