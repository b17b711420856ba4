"""Shared set-up for the benchmarks: a workspace with N clients, the simulator as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

PASSWORD = "bench-integrator-password"


class Workspace:
    """A temp folder with config, usage, keyring and a running simulator for `clients`."""

    def __init__(self, clients: int, latency_ms: float = 0):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.clients = [(f"Client {i:05d}", f"MID-{i:05d}", f"{(i * 37) % 5000 + 0.25:.2f}")
                        for i in range(clients)]
        self.env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                    "XDG_DATA_HOME": str(self.dir / "data"),
                    "XDG_CACHE_HOME": str(self.dir / "cache"),
                    "XDG_STATE_HOME": str(self.dir / "state"),
                    "CWPUBLISH_INITIATED_BY": "bench@example.com"}
        (self.dir / "sim.yaml").write_text(yaml.safe_dump({"tenants": [{
            "company_id": "bench", "integrator_username": "rcloud",
            "integrator_password": PASSWORD, "management_it_names": ["rCloud Backup"],
            "companies": [{"name": n, "managed_id": m, "device_type": "Backup Stats"}
                          for n, m, _ in self.clients]}]}))
        port_file = self.dir / "port"
        args = [sys.executable, "-m", "cwpublish.simulator", "serve", "--data",
                str(self.dir / "sim.yaml"), "--port", "0", "--port-file", str(port_file)]
        if latency_ms:
            args += ["--latency-ms", str(latency_ms)]
        self.sim = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text()):
            if time.monotonic() > deadline:
                raise SystemExit("the simulator did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"
        usage = "client,billable_gb\n" + "".join(f"{n},{gb}\n" for n, _, gb in self.clients)
        (self.dir / "usage.csv").write_text(usage)
        (self.dir / "mapping.csv").write_text(
            "client,managed_id,billable_gb\n" + "".join(f"{n},{m},{gb}\n"
                                                        for n, m, gb in self.clients))
        self.config = self.dir / "cwpublish.yaml"
        self.config.write_text(yaml.safe_dump({"state_dir": str(self.dir / "cw-state"),
                                               "partners": [{
            "name": "bench",
            "connectwise": {"site": self.url, "company_id": "bench",
                            "integrator_username": "rcloud",
                            "management_it_name": "rCloud Backup",
                            "backup_stats_name": "Backup Stats", "allow_insecure_http": True},
            "usage": {"csv": "usage.csv"},
            "clients": [{"name": n, "managed_id": m} for n, m, _ in self.clients]}]}))
        subprocess.run([sys.executable, "-m", "cwpublish", "-c", str(self.config), "credentials",
                        "set", "--partner", "bench"], input=PASSWORD, text=True, env=self.env,
                       check=True, capture_output=True)

    def cwpublish(self) -> list[str]:
        return [sys.executable, "-m", "cwpublish", "-c", str(self.config), "publish", "--yes",
                "--force", "--no-email"]

    def naive(self) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("naive_publish.py")), self.url,
                PASSWORD, str(self.dir / "mapping.csv")]

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/_sim/state", timeout=30) as r:
            return json.load(r)

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/_sim/reset", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=30).close()

    def close(self) -> None:
        self.sim.terminate()
        self.sim.wait(timeout=10)
        self.tmp.cleanup()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_timed(cmd: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one whole process; fails loudly if it failed."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {code}: {proc.stderr.read()[-500:]!r}")
    proc.stderr.close()
    return elapsed, usage.ru_maxrss


def verdict(ratio: float, target: float, higher_is_better: bool) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    return f"ratio {ratio:.2f}x (target {sign} {target}x) {'OK' if ok else 'MISSED'}"
