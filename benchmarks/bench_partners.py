"""200 partners x 500 clients, each partner its own ConnectWise company, the simulator adding
80 ms per request: one run against the time of one 500-client partner at the same latency.

Both sides are whole processes started the same way (`python -m cwpublish ... publish --yes
--force --no-email`) against the same simulator process; secrets come from files
($CREDENTIALS_DIRECTORY), so no keyring set-up is timed or needed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import run_timed, verdict

PARTNERS, CLIENTS, LATENCY_MS, TARGET = 200, 500, 80, 25
PASSWORD = "bench-integrator-password"


def write_config(folder: Path, url: str, partners: int) -> Path:
    path = folder / f"cwpublish-{partners}.yaml"
    path.write_text(yaml.safe_dump({
        "state_dir": str(folder / f"state-{partners}"),
        "partners": [{
            "name": f"p{i:03d}",
            "connectwise": {"site": url, "company_id": f"p{i:03d}",
                            "integrator_username": "rcloud",
                            "management_it_name": "rCloud Backup",
                            "backup_stats_name": "Backup Stats", "allow_insecure_http": True},
            "usage": {"csv": "usage.csv"},
            "clients": [{"name": f"Client {c:05d}", "managed_id": f"MID-{c:05d}"}
                        for c in range(CLIENTS)],
        } for i in range(partners)],
    }))
    return path


def main() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        companies = [{"name": f"Client {c:05d}", "managed_id": f"MID-{c:05d}",
                      "device_type": "Backup Stats"} for c in range(CLIENTS)]
        (d / "sim.yaml").write_text(yaml.safe_dump({"tenants": [{
            "company_id": f"p{i:03d}", "integrator_username": "rcloud",
            "integrator_password": PASSWORD, "management_it_names": ["rCloud Backup"],
            "companies": companies} for i in range(PARTNERS)]}))
        secrets = d / "secrets"
        secrets.mkdir(mode=0o700)
        for i in range(PARTNERS):
            f = secrets / f"partner.p{i:03d}"
            f.write_text(PASSWORD)
            f.chmod(0o600)
        (d / "usage.csv").write_text("client,billable_gb\n" + "".join(
            f"Client {c:05d},{(c * 37) % 5000 + 0.25:.2f}\n" for c in range(CLIENTS)))
        port_file = d / "port"
        sim = subprocess.Popen(
            [sys.executable, "-m", "cwpublish.simulator", "serve", "--data", str(d / "sim.yaml"),
             "--port", "0", "--port-file", str(port_file), "--latency-ms", str(LATENCY_MS)],
            stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not (port_file.exists() and port_file.read_text()):
                if time.monotonic() > deadline:
                    raise SystemExit("the simulator did not start")
                time.sleep(0.1)
            url = f"http://127.0.0.1:{port_file.read_text()}"
            env = {**os.environ, "CREDENTIALS_DIRECTORY": str(secrets),
                   "XDG_CACHE_HOME": str(d / "cache"), "CWPUBLISH_INITIATED_BY": "bench"}
            one, many = write_config(d, url, 1), write_config(d, url, PARTNERS)

            def cmd(config: Path) -> list[str]:
                return [sys.executable, "-m", "cwpublish", "-c", str(config), "publish",
                        "--yes", "--force", "--no-email"]

            run_timed(cmd(one), env)  # warm-up: parse caches, page cache
            run_timed(cmd(many), env)
            singles = [run_timed(cmd(one), env)[0] for _ in range(5)]
            alls = [run_timed(cmd(many), env)[0] for _ in range(2)]
        finally:
            sim.terminate()
            sim.wait(timeout=10)
    a, b = statistics.median(alls), statistics.median(singles)
    print(f"{PARTNERS} partners x {CLIENTS} clients, +{LATENCY_MS} ms per request "
          f"(median of {len(alls)} and {len(singles)} runs)")
    print(f"  {'all partners, one run':<30} {a:8.2f} s")
    print(f"  {'one 500-client partner':<30} {b:8.2f} s")
    ratio = a / b
    print(f"  {verdict(ratio, TARGET, False)}")
    return ratio <= TARGET


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(0 if main() else 1)
