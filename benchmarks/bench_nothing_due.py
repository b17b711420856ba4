"""`publish --scheduled` with nothing due, 5,000-client config, vs `python -c "import click, yaml"`.

Both sides are whole processes started the same way, measured alternately in one run on the
same machine; the ratio of medians is what counts (target: within 1.5x of the floor).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

TARGET = 1.5


def write_config(folder: Path, clients: int) -> Path:
    data = {
        "state_dir": str(folder / "state"),
        "partners": [
            {
                "name": "big",
                "connectwise": {
                    "site": "https://cw.example.com",
                    "company_id": "big",
                    "integrator_username": "rcloud",
                    "management_it_name": "rCloud Backup",
                    "backup_stats_name": "Backup Stats",
                },
                "schedule": {"day": 28, "timezone": "UTC"},
                "usage": {"csv": "usage-{year}-{month:02d}.csv"},
                "clients": [
                    {"name": f"Client {i:05d}", "managed_id": f"MID-{i:05d}"}
                    for i in range(clients)
                ],
            }
        ],
    }
    path = folder / "cwpublish.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
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


def main(rounds: int = 25, clients: int = 5000) -> bool:
    compile_package()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), clients)
        nothing_due = [
            sys.executable,
            "-m",
            "cwpublish",
            "-c",
            str(config),
            "publish",
            "--scheduled",
        ]
        floor = [sys.executable, "-c", "import click, yaml"]
        timed(nothing_due)  # first run writes schedule.json; later runs only read it
        ours, base = [], []
        for _ in range(rounds):
            ours.append(timed(nothing_due))
            base.append(timed(floor))
    a, b = statistics.median(ours), statistics.median(base)
    ratio = a / b
    print(f"nothing due, {clients} clients ({rounds} rounds, medians)")
    floor_label = 'python -c "import click, yaml"'
    print(f"  {'cwpublish publish --scheduled':<34} {a * 1000:8.1f} ms")
    print(f"  {floor_label:<34} {b * 1000:8.1f} ms")
    ok = ratio <= TARGET
    print(f"  ratio {ratio:.2f}x (target <= {TARGET}x) {'OK' if ok else 'MISSED'}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
