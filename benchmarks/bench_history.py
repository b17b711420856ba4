"""A whole publish (10 clients, --no-email) with 2,000 history entries vs with 10.

Recording a publish must cost the same whatever the history holds (issue "Scale", item 2): the
state_dir is pre-filled with 200 partners x 10 entries (50 client rows and 5 unmapped rows
each, written by History.add, the format-3 history.log) against 10 entries of the same shape.
Each side is a fresh `python -m cwpublish ... publish --yes --force --no-email` process against
the simulator, alternating, median of the rounds; target: within 1.1x. The first publish on a
format-2 history.json of 2,000 entries (its migration to history.log) is measured separately,
on a fresh copy each time, and reported without a target (it happens once).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path

import yaml
from bench_nothing_due import compile_package
from common import Workspace, run_timed, verdict

from cwpublish.domain.record import ClientResult, Entry
from cwpublish.state.history import History

TARGET = 1.1
PARTNERS = 200
PER_PARTNER = 10
CLIENT_ROWS = 50
UNMAPPED_ROWS = 5


def entries(partners: int, site: str) -> list[Entry]:
    """`partners` x PER_PARTNER finished entries, oldest first; partner 0 is "bench"."""
    made = []
    for n in range(PER_PARTNER):
        for p in range(partners):
            partner = "bench" if p == 0 else f"partner{p:03d}"
            e = Entry(partner, "automatic", "cron@backup.example", f"2026-{n + 1:02d}",
                      f"2026-{n + 1:02d}-05T02:{p // 60:02d}:{p % 60:02d}+00:00", site,
                      finished_at=f"2026-{n + 1:02d}-05T02:59:00+00:00", status="success",
                      exit_code=0, usage_source=f"/srv/usage/{partner}-2026-{n + 1:02d}.csv")
            e.clients = [ClientResult(f"Customer {partner} {i:03d} Ltd", f"MID-{p:03d}-{i:03d}",
                                      round(i * 12.34 + 0.5, 2), "published")
                         for i in range(CLIENT_ROWS)]
            e.unmapped = [{"client": f"Unmapped {partner} {i}", "billable_gb": 1.25}
                          for i in range(UNMAPPED_ROWS)]
            e.notification = {"status": "sent", "recipients": [f"billing@{partner}.example"],
                              "error": None}
            made.append(e)
    return made


def fill_new(state: Path, made: list[Entry]) -> None:
    history = History(state)
    for e in made:
        history.add(e)


def fill_old(state: Path, made: list[Entry]) -> None:
    """history.json (format 2: every summary with its unmapped rows) + history/<id>.json."""
    folder = state / "history"
    folder.mkdir(parents=True, mode=0o700)
    state.chmod(0o700)
    summaries = []
    for e in reversed(made):
        data = e.to_dict()
        (folder / f"{e.id}.json").write_text(json.dumps(data, separators=(",", ":")))
        summary = {k: v for k, v in data.items() if k != "clients"}
        summary["counts"] = {"published": CLIENT_ROWS, "failed": 0, "skipped": 0}
        summaries.append(summary)
    (state / "history.json").write_text(
        json.dumps({"version": 2, "entries": summaries}, separators=(",", ":")))


def config_for(ws: Workspace, name: str, state: Path) -> list[str]:
    """The publish command of a copy of the workspace's config with its own state_dir."""
    data = yaml.safe_load(ws.config.read_text())
    data["state_dir"] = str(state)
    path = ws.dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return [*ws.cwpublish()[:3], "-c", str(path), *ws.cwpublish()[5:]]


def main(rounds: int = 15, migrations: int = 5) -> bool:
    compile_package()
    with Workspace(10) as ws:
        small, big, old = ws.dir / "small-state", ws.dir / "big-state", ws.dir / "old-template"
        fill_new(small, entries(1, ws.url))
        fill_new(big, entries(PARTNERS, ws.url))
        fill_old(old, entries(PARTNERS, ws.url))
        log_size = (big / "history.log").stat().st_size
        old_size = (old / "history.json").stat().st_size
        cmd_small, cmd_big = config_for(ws, "small", small), config_for(ws, "big", big)
        run_timed(cmd_small, ws.env)  # warm-up: the first parse of the config
        run_timed(cmd_big, ws.env)
        times_small, times_big = [], []
        for _ in range(rounds):
            times_small.append(run_timed(cmd_small, ws.env)[0])
            times_big.append(run_timed(cmd_big, ws.env)[0])
        times_migration = []
        for n in range(migrations):
            state = ws.dir / f"old-{n}"
            shutil.copytree(old, state)
            times_migration.append(run_timed(config_for(ws, f"old-{n}", state), ws.env)[0])
            if (state / "history.json").exists() or not (state / "history.log").exists():
                raise SystemExit("the format-2 history was not migrated")
        kept = len(History(big).entries())
    a, b = statistics.median(times_big), statistics.median(times_small)
    m = statistics.median(times_migration)
    print(f"publish 10 clients --no-email, history of {PARTNERS * PER_PARTNER:,} vs "
          f"{PER_PARTNER} entries ({rounds} alternating rounds, medians)")
    print(f"  {'2,000 entries (history.log ' + f'{log_size / 1e6:.2f} MB)':<40} "
          f"{a * 1000:8.1f} ms")
    print(f"  {'10 entries':<40} {b * 1000:8.1f} ms")
    print(f"  {'first run on a 2,000-entry history.json':<40} {m * 1000:8.1f} ms  "
          f"(migration, {old_size / 1e6:.2f} MB, median of {migrations}: {m / b:.2f}x, "
          "no target)")
    ratio = a / b
    print(f"  {verdict(ratio, TARGET, False)}")
    if kept != PARTNERS * PER_PARTNER:
        raise SystemExit(f"the history shows {kept} entries, not {PARTNERS * PER_PARTNER}")
    return ratio <= TARGET


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
