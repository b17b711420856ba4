"""The metrics sink: Prometheus node-exporter textfile metrics after every publish run
(`metrics_file:`), for alerts on a night that failed or a partner not published for days.

Each partner's samples are kept from the previous file and replaced by this run's, so a run for
one partner keeps the others, and the last success time survives failed nights. The file is
replaced atomically (a temporary file beside it, then a rename) and is readable by the
node-exporter user (0644): it holds counts and names, never a secret. A failure to write is a
warning: metrics never change what was published or the exit code.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path

from cwpublish import log
from cwpublish.domain.record import Entry, Status
from cwpublish.domain.run_result import RunResult

PREFIX = "cwpublish_"
# name -> (type, help); per-partner samples are labelled {partner="..."}
PARTNER_METRICS = {
    "last_run_timestamp_seconds": ("gauge", "When the partner's last publish finished."),
    "last_run_exit_code": ("gauge", "Exit code of the partner's last publish (0: success)."),
    "last_run_success": ("gauge", "1 if the partner's last publish succeeded, else 0."),
    "last_success_timestamp_seconds": ("gauge", "When a publish of the partner last succeeded."),
    "last_run_duration_seconds": ("gauge", "How long the partner's last publish took."),
    "clients_published": ("gauge", "Clients published by the partner's last publish."),
    "clients_failed": ("gauge", "Clients that failed or were not sent in the last publish."),
    "clients_unmapped": ("gauge", "Usage rows no configured client owns, last publish."),
    "published_gb": ("gauge", "Billable GB published by the partner's last publish."),
}
RUN_METRICS = {
    "run_timestamp_seconds": ("gauge", "When the last cwpublish publish run finished."),
    "run_exit_code": ("gauge", "Exit code of the last cwpublish publish run."),
    "run_duration_seconds": ("gauge", "How long the last cwpublish publish run took."),
}
_SAMPLE = re.compile(r'^cwpublish_(\w+)\{partner="((?:[^"\\]|\\.)*)"\} (\S+)$')


def partner_samples(entry: Entry, now: float) -> dict[str, float]:
    """One publish's samples (the last success time is the caller's: it may be older)."""
    finished = _timestamp(entry.finished_at) or now
    started = _timestamp(entry.started_at) or finished
    published = [c for c in entry.clients if c.status == Status.PUBLISHED]
    return {
        "last_run_timestamp_seconds": finished,
        "last_run_exit_code": float(entry.exit_code),
        "last_run_success": 1.0 if entry.exit_code == 0 else 0.0,
        "last_run_duration_seconds": max(0.0, finished - started),
        "clients_published": float(len(published)),
        "clients_failed": float(
            sum(1 for c in entry.clients if c.status not in (Status.PUBLISHED, Status.SKIPPED))
        ),
        "clients_unmapped": float(len(entry.unmapped)),
        "published_gb": float(sum(c.billable_gb or 0 for c in published)),
    }


def read_previous(path: Path) -> dict[str, dict[str, float]]:
    """partner -> its samples in the file the last run wrote ({} if absent or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    kept: dict[str, dict[str, float]] = {}
    for line in text.split("\n"):  # the text format's only line break (not U+2028, \x85...)
        match = _SAMPLE.match(line)
        if match and match.group(1) in PARTNER_METRICS:
            with contextlib.suppress(ValueError):
                partner = re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), match[2])
                value = float(match[3])
                if math.isfinite(value):  # NaN/Inf: a damaged file, never a count or a time
                    kept.setdefault(partner, {})[match[1]] = value
    return kept


def render(partners: dict[str, dict[str, float]], run: dict[str, float]) -> str:
    """The text exposition format: HELP and TYPE once per metric, partners sorted."""
    lines: list[str] = []
    for name, (kind, text) in PARTNER_METRICS.items():
        rows = [(p, s[name]) for p, s in sorted(partners.items()) if name in s]
        if not rows:
            continue
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} {kind}"]
        lines += [f'{PREFIX}{name}{{partner="{_label(p)}"}} {_number(v)}' for p, v in rows]
    for name, (kind, text) in RUN_METRICS.items():
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} {kind}"]
        lines.append(f"{PREFIX}{name} {_number(run[name])}")
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` whole (node-exporter never reads half a file); mode 0644."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_metrics(path: Path, result: RunResult, started: float) -> None:
    """Merge this run's entries into the previous file's samples and write it (a warning if
    that fails)."""
    path = Path(os.path.realpath(path))  # a symlink stays one: the file it names is replaced
    try:
        with _merging(path):
            _merge_and_write(path, result, started)
    except OSError as e:
        log.warning("metrics_file %s: cannot write: %s", path, e.strerror or e)


@contextlib.contextmanager
def _merging(path: Path):
    """An flock on the file's folder while the file is read, merged and replaced: two runs
    with their own state_dir (no publish lock between them) never drop each other's samples.
    The folder, not a lock file: node-exporter's folder gets no file that is not a metric."""
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for milliseconds by the other run
        yield
    finally:
        os.close(fd)


def _merge_and_write(path: Path, result: RunResult, started: float) -> None:
    now = time.time()
    partners = read_previous(path)
    for entry in result.entries:
        samples = partners.setdefault(entry.partner, {})
        last_success = samples.get("last_success_timestamp_seconds")
        samples.update(partner_samples(entry, now))
        if entry.exit_code == 0:
            last_success = samples["last_run_timestamp_seconds"]
        if last_success is not None:
            samples["last_success_timestamp_seconds"] = last_success
    run = {
        "run_timestamp_seconds": now,
        "run_exit_code": float(result.exit_code),
        "run_duration_seconds": max(0.0, time.monotonic() - started),
    }
    write_atomically(path, render(partners, run))


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if not math.isfinite(value):
        return {math.inf: "+Inf", -math.inf: "-Inf"}.get(value, "NaN")
    return repr(float(value)) if value != int(value) else str(int(value))
