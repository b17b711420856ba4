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

    def floor(self) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("floor_publish.py")), self.url,
                str(self.dir / "mapping.csv"), str(self.dir / "usage.csv")]

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


# Started by a small launcher process, so that a child's peak RSS is its own: a process
# forked from this (large) benchmark would count our pages in its ru_maxrss until it execs.
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execvpe(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_timed(cmd: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one whole process, measured by a launcher that
    forks it (so its RSS is its own); fails loudly if it failed."""
    proc = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *cmd], env=env,
                          capture_output=True, text=True)
    try:
        elapsed, maxrss, code = proc.stdout.split()[-3:]
    except ValueError:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed: {proc.stderr[-500:]!r}") from None
    if int(code) != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {code}: {proc.stderr[-500:]!r}")
    return float(elapsed), int(maxrss)


def verdict(ratio: float, target: float, higher_is_better: bool) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    return f"ratio {ratio:.2f}x (target {sign} {target}x) {'OK' if ok else 'MISSED'}"


# A console script as pip writes it for `[project.scripts] cwpublish = "cwpublish.cli:main"`.
_CONSOLE_SCRIPT = """import re
import sys
from cwpublish.cli import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""


def plain_install(folder: Path) -> tuple[Path, Path]:
    """A venv in `folder` that sees cwpublish as a regular (non-editable) install does.

    The development venv is an editable install: its .pth files put setuptools' editable
    finder (and the distutils hack) into every Python start-up there, ~5 ms that a real
    install does not pay and that would flatter a start-up ratio. This venv instead lists the
    source tree and the development venv's site-packages as plain path entries (one .pth,
    no import hooks), and has a `cwpublish` console script as pip writes it, which is what
    cron runs. Returns (its python, its cwpublish script): start both sides of a start-up
    benchmark with that python.
    """
    import sysconfig
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    source = Path(__file__).resolve().parents[1]
    deps = sysconfig.get_paths()["purelib"]  # this (development) venv's click, yaml, ...
    (Path(purelib) / "cwpublish-bench.pth").write_text(f"{source}\n{deps}\n")
    script = folder / "bin" / "cwpublish"
    script.write_text(f"#!{python}\n{_CONSOLE_SCRIPT}")
    script.chmod(0o755)
    return python, script
