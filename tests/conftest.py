"""Shared fixtures: a real file keyring in a temp dir, the simulator on loopback, configs, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keyring.core
import pytest
import yaml
from click.testing import CliRunner

from cwpublish.cli import cli
from cwpublish.simulator import SimulatorServer

SECRET = "S3cr3t-Integrator-pw!"  # the integrator password; must never be printed anywhere
ROOT = Path(__file__).resolve().parent.parent

CLIENTS = [
    {"name": "Law Office of R. Smith", "managed_id": "LAWSMITH"},
    {"name": "Contoso Dental", "managed_id": "CONTOSO-01"},
    {"name": "Northwind Traders", "managed_id": "NORTHWIND"},
]
USAGE = (
    "client,billable_gb\nLaw Office of R. Smith,1250.456\nContoso Dental,310.5\n"
    "Northwind Traders,87\n"
)


REST_PRIVATE_KEY = "Pr1vate-REST-key!"  # the API member's private key; never printed either
REST_CLIENT_ID = "3f0c5a2e-1b2c-4d5e-8f90-123456789abc"


def rest_data(**extra) -> dict:
    """The REST side of the simulator's tenant: API member keys, type, product, agreements."""
    return {
        "public_key": "AbC123xYz",
        "private_key": REST_PRIVATE_KEY,
        "client_ids": [REST_CLIENT_ID],
        "configuration_types": ["Backup Stats"],
        "catalog": [{"identifier": "RCLOUD-GB", "description": "rCloud backup GB"}],
        "agreements": [
            {"company": c["managed_id"], "name": f"MSA {c['managed_id']}",
             "type": "Managed Services"}
            for c in CLIENTS
        ],
        **extra,
    }


def rest_partner_config(site: str, mode: str = "configuration", **overrides) -> dict:
    """A partner publishing over REST to the simulator (its clients by company)."""
    cw = {
        "api": "rest",
        "site": site,
        "company_id": "acme",
        "public_key": "AbC123xYz",
        "client_id": REST_CLIENT_ID,
        "allow_insecure_http": True,
        "retry_backoff": 0.01,
        "publish_to": mode,
    }
    if mode == "agreement_addition":
        cw.update(product="RCLOUD-GB", agreement_type="Managed Services")
    partner = {
        "name": "acme",
        "connectwise": cw,
        "managers": ["billing@acme.example"],
        "usage": {"csv": "usage/acme-{year}-{month:02d}.csv"},
        "clients": [{"name": c["name"], "company": c["managed_id"]} for c in CLIENTS],
    }
    partner.update(overrides)
    return partner


def tenant(companies: list[dict] | None = None, **extra) -> dict:
    return {
        "company_id": "acme",
        "integrator_username": "rcloud",
        "integrator_password": SECRET,
        "management_it_names": ["rCloud Backup"],
        "companies": companies
        if companies is not None
        else [
            {"name": c["name"], "managed_id": c["managed_id"], "device_type": "Backup Stats"}
            for c in CLIENTS
        ],
        **extra,
    }


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test: its own HOME, XDG dirs and a real file keyring backend (keyrings.alt)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("CWPUBLISH_INITIATED_BY", "tester@example.com")
    monkeypatch.delenv("CWPUBLISH_CONFIG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.chdir(tmp_path)
    keyring.core._keyring_backend = None  # re-read PYTHON_KEYRING_BACKEND for this test
    from cwpublish.targets import pacing
    from cwpublish.text import redaction

    redaction.forget_all()  # each test is a fresh run: no secret registered by another
    monkeypatch.setattr(pacing, "_sites", {})  # nor a site's pace learnt by another
    yield
    keyring.core._keyring_backend = None


@pytest.fixture
def sim():
    server = SimulatorServer({"tenants": [tenant(rest=rest_data())]}).start()
    yield server
    server.stop()


@pytest.fixture
def rest_key():
    """Store the REST API private key of partner acme in the (file) keyring."""
    keyring.set_password("cwpublish", "connectwise:acme", REST_PRIVATE_KEY)
    return REST_PRIVATE_KEY


def sim_state(server) -> dict:
    with urllib.request.urlopen(f"{server.url}/_sim/state", timeout=5) as r:
        return json.load(r)


def sim_faults(server, rules: list[dict]) -> None:
    req = urllib.request.Request(
        f"{server.url}/_sim/faults", data=json.dumps(rules).encode(), method="POST"
    )
    urllib.request.urlopen(req, timeout=5).close()


def soap_requests(server, operation: str | None = None) -> list[dict]:
    return [
        r for r in sim_state(server)["requests"] if operation is None or r["operation"] == operation
    ]


def partner_config(site: str, **overrides) -> dict:
    partner = {
        "name": "acme",
        "connectwise": {
            "site": site,
            "company_id": "acme",
            "integrator_username": "rcloud",
            "management_it_name": "rCloud Backup",
            "backup_stats_name": "Backup Stats",
            "allow_insecure_http": True,
            "retry_backoff": 0.01,  # retries stay on, but fast
        },
        "managers": ["billing@acme.example"],
        "usage": {"csv": "usage/acme-{year}-{month:02d}.csv"},
        "clients": [dict(c) for c in CLIENTS],
    }
    partner.update(overrides)
    return partner


@pytest.fixture
def make_config(tmp_path):
    """Write a config (and optionally usage files); returns the config path."""

    def make(
        site: str = "http://127.0.0.1:9",
        partners: list[dict] | None = None,
        usage: dict[str, str] | None = None,
        **top,
    ) -> Path:
        data = {
            "state_dir": str(tmp_path / "state"),
            "partners": partners or [partner_config(site)],
            **top,
        }
        path = tmp_path / "cwpublish.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        for name, text in (usage or {}).items():
            f = tmp_path / "usage" / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text, encoding="utf-8")
        return path

    return make


@pytest.fixture
def password():
    """Store the integrator password of partner acme in the (file) keyring."""
    keyring.set_password("cwpublish", "connectwise:acme", SECRET)
    return SECRET


@pytest.fixture
def run():
    """Invoke the CLI in-process (click's CliRunner); stdin is not a terminal."""

    def invoke(config: Path | None, *args: str, input: str | None = None):
        argv = (["-c", str(config)] if config else []) + list(args)
        result = CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)
        return result

    return invoke


def run_subprocess(
    *args: str, env: dict | None = None, timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run `python -m cwpublish ...` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "cwpublish", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def start_publish(config, *args: str) -> subprocess.Popen:
    """`cwpublish publish --yes ...` as a background process (signals, locks, kills)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cwpublish", "-c", str(config), "publish", "--yes", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )


def wait_for(predicate, timeout: float = 20) -> None:
    """Poll until `predicate()` holds (for another process's progress; never for time)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def read_history(tmp_path: Path) -> list[dict]:
    """Every history entry in full (index + per-entry files), newest first."""
    from cwpublish.state.history import History

    return History(tmp_path / "state").entries(full=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every message it receives, parsed."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], object]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        from email import message_from_bytes, policy

        self.messages.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(envelope.original_content, policy=policy.default),
            )
        )
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            self.logins.append((user, password))
            ok = (user, password) == ("billing@example.com", "mail-secret")
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)


class _PingHandler(BaseHTTPRequestHandler):
    """Answers any GET with 200 "OK" and keeps the path (a healthchecks.io stand-in)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


@pytest.fixture
def ping_server():
    """A ping URL's server on loopback; `.paths` lists what was pinged."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PingHandler)
    server.paths = []
    # a short poll: shutdown() waits for serve_forever to notice (0.5 s by default)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server(tmp_path):
    """A real SMTP server (aiosmtpd) on loopback, with STARTTLS (trustme CA) and login."""
    import ssl

    import trustme
    from aiosmtpd.controller import Controller

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_path = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_ctx,
        authenticator=inbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    inbox.port = controller.port
    inbox.ca_path = ca_path
    inbox.config = {
        "host": "127.0.0.1",
        "port": controller.port,
        "security": "starttls",
        "username": "billing@example.com",
        "ca_bundle": str(ca_path),
        "sender": "rCloud Billing <billing@example.com>",
        "timeout": 5,
    }
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_password():
    keyring.set_password("cwpublish", "smtp:billing@example.com@127.0.0.1", "mail-secret")
    return "mail-secret"


# The property tests run with a fixed seed (reproducible: `make test` never depends on luck);
# HYPOTHESIS_EXPLORE=1 gives a developer new examples.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if not os.environ.get("HYPOTHESIS_EXPLORE"):
    _hypothesis_settings.load_profile("ci")


def run_in_terminal(*args: str, answers: list[tuple[str, str]],
                    timeout: float = 30) -> tuple[int, str]:
    """`python -m cwpublish ARGS` in a real pseudo-terminal, typing each answer once its
    prompt is on the screen; (exit code, screen)."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "cwpublish", *args], stdin=slave,
                            stdout=slave, stderr=slave, close_fds=True,
                            env={**os.environ, "TERM": "dumb", "COLUMNS": "120"})
    os.close(slave)
    screen, deadline = "", time.monotonic() + timeout
    pending = list(answers)
    try:
        while proc.poll() is None or select.select([master], [], [], 0)[0]:
            assert time.monotonic() < deadline, f"timed out; screen:\n{screen}"
            if select.select([master], [], [], 0.1)[0]:
                try:
                    screen += os.read(master, 65536).decode("utf-8", "replace")
                except OSError:  # the child closed the terminal
                    break
            if pending and pending[0][0] in screen:
                screen = screen.replace(pending[0][0], f"<{pending[0][0]}>", 1)
                os.write(master, pending.pop(0)[1].encode() + b"\r")
        return proc.wait(timeout=timeout), screen
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
