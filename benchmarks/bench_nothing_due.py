"""`publish --scheduled` with nothing due vs `python -c "import click, yaml"`, for a config of
1 partner x 5,000 clients (target: within 1.3x) and one of 200 partners x 500 (within 1.5x).

Both sides are whole processes started the same way by the same interpreter: a venv that sees
cwpublish as a regular install does (common.plain_install: no editable-install hook at
start-up, which would slow both sides alike and so flatter the ratio), cwpublish through its
console script with CWPUBLISH_CONFIG, as cron runs it. They are measured alternately, round
after round, in one run on the same machine; the ratio of medians is what counts.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from common import plain_install

TARGETS = {"5,000 clients": 1.3, "200 x 500 clients": 1.5}
ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Sydney", "America/Chicago"]


def quiet_day() -> int:
    """A schedule day two weeks from today: neither today nor tomorrow in any zone."""
    return (datetime.now(UTC).day + 13) % 28 + 1


def write_config(folder: Path, partners: int, clients: int) -> Path:
    """A config of `partners` partners (each its own site and zone) of `clients` clients."""
    data = {
        "state_dir": str(folder / "state"),
        "partners": [
            {
                "name": f"partner-{p:03d}",
                "connectwise": {
                    "site": f"https://cw{p:03d}.example.com",
                    "company_id": f"msp{p:03d}",
                    "integrator_username": "rcloud",
                    "management_it_name": "rCloud Backup",
                    "backup_stats_name": "Backup Stats",
                },
                "schedule": {"day": quiet_day(), "timezone": ZONES[p % len(ZONES)]},
                "managers": [f"billing@msp{p:03d}.example.com"],
                "usage": {"csv": f"usage-{p:03d}-{{year}}-{{month:02d}}.csv"},
                "clients": [
                    {"name": f"Client {p:03d}-{i:05d}", "managed_id": f"MID-{p:03d}-{i:05d}"}
                    for i in range(clients)
                ],
            }
            for p in range(partners)
        ],
    }
    path = folder / f"cwpublish-{partners}x{clients}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or proc.stdout or proc.stderr:
        raise SystemExit(f"{cmd} failed or printed something: {proc.returncode} {proc.stderr}")
    return elapsed


def compile_package() -> None:
    """Byte-compile cwpublish as pip does on install; the floor's click and yaml are compiled.

    (An editable checkout under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every
    module on every start, which no installed copy does.)
    """
    import compileall

    import cwpublish

    compileall.compile_dir(Path(cwpublish.__file__).parent, quiet=1)


def main(rounds: int = 25) -> bool:
    compile_package()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        python, script = plain_install(folder / "venv")
        env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache")}
        env.pop("PYTHONPATH", None)
        configs = {"5,000 clients": write_config(folder, 1, 5000),
                   "200 x 500 clients": write_config(folder, 200, 500)}
        floor = [str(python), "-c", "import click, yaml"]
        nothing_due = [str(script), "publish", "--scheduled"]
        envs = {name: {**env, "CWPUBLISH_CONFIG": str(path)} for name, path in configs.items()}
        for name in configs:  # a night after an edit: the cache is filled, schedule.json written
            timed(nothing_due, envs[name])
        time.sleep(2.1)  # ...and the file is older than the cache's 2 s settling time
        for name in configs:
            timed(nothing_due, envs[name])
        ours: dict[str, list[float]] = {name: [] for name in configs}
        base: list[float] = []
        for _ in range(rounds):
            for name in configs:
                base.append(timed(floor, env))
                ours[name].append(timed(nothing_due, envs[name]))
    b = statistics.median(base)
    floor_label = 'python -c "import click, yaml"'
    print(f"nothing due ({rounds} alternating rounds, medians; a regular install's start-up)")
    print(f"  {floor_label:<48} {b * 1000:8.1f} ms")
    ok = True
    for name, times in ours.items():
        a = statistics.median(times)
        ratio, target = a / b, TARGETS[name]
        ok = ok and ratio <= target
        verdict = "OK" if ratio <= target else "MISSED"
        label = f"cwpublish publish --scheduled, {name}"
        print(f"  {label:<48} {a * 1000:8.1f} ms  {ratio:.2f}x (target <= {target}x) {verdict}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
