"""Transport failures, each with its own one-line cause and fix, through the CLI: a name that
does not resolve, a refused port, https:// to a plain-HTTP port, an untrusted certificate.
DNS failures and refused connections are not retried, so `check-config --online` is fast."""

from __future__ import annotations

import ssl
import time
from datetime import date

import pytest
import trustme

from conftest import USAGE, free_port, partner_config, read_history, tenant
from cwpublish.simulator import SimulatorServer

USAGE_FILE = f"acme-{date.today():%Y-%m}.csv"
BOUND = 3.0  # seconds: a retry would wait retry_backoff (5 s) first


def configure(make_config, site: str, **cw):
    partner = partner_config(site)
    partner["connectwise"].update({"retries": 3, "retry_backoff": 5, **cw})
    return make_config(partners=[partner], usage={USAGE_FILE: USAGE})


def timed(run, config, *args):
    started = time.monotonic()
    result = run(config, *args)
    return result, time.monotonic() - started


def test_dns_failure_is_named_fast_and_not_retried(make_config, password, run):
    config = configure(make_config, "https://cw.cwpublish-test.invalid", allow_insecure_http=False)
    result, took = timed(run, config, "check-config", "--online")
    assert took < BOUND, result.stdout
    assert result.exit_code == 1, result.stdout
    assert "cannot resolve the host name cw.cwpublish-test.invalid (DNS)" in result.stdout
    assert "attempts" not in result.stdout and "retrying" not in result.stderr


def test_dns_failure_on_publish_is_recorded_once(make_config, password, run, tmp_path):
    config = configure(make_config, "https://cw.cwpublish-test.invalid", allow_insecure_http=False)
    result, took = timed(run, config, "publish", "--yes")
    assert took < BOUND and result.exit_code == 1, result.stdout
    assert "cannot resolve the host name cw.cwpublish-test.invalid" in result.stdout
    entry = read_history(tmp_path)[0]
    assert entry["status"] == "failed" and entry["exit_code"] == 1


def test_refused_connection_is_named_and_not_retried(make_config, password, run):
    config = configure(make_config, f"http://127.0.0.1:{free_port()}")
    result, took = timed(run, config, "check-config", "--online")
    assert took < BOUND and result.exit_code == 1, result.stdout
    assert "127.0.0.1 refused the connection (nothing listens on that port)" in result.stdout
    assert "attempts" not in result.stdout


def test_https_to_a_plain_http_port_says_not_tls(sim, make_config, password, run):
    config = configure(make_config, sim.url.replace("http://", "https://"))
    result, took = timed(run, config, "publish", "--yes")
    assert took < BOUND and result.exit_code == 1, result.stdout
    assert "127.0.0.1 does not speak TLS (https:// to a plain-HTTP port?)" in result.stdout
    assert "could not be verified" not in result.stdout
    assert sim.sim.state()["configurations"].get("acme", {}) == {}


@pytest.fixture
def tls_sim():
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = SimulatorServer({"tenants": [tenant()]}, tls=context).start()
    yield server
    server.stop()


def test_untrusted_certificate_says_verify_and_is_not_retried(tls_sim, make_config, password, run):
    config = configure(make_config, tls_sim.url)
    result, took = timed(run, config, "check-config", "--online")
    assert took < BOUND and result.exit_code == 1, result.stdout
    assert "TLS certificate of 127.0.0.1 could not be verified" in result.stdout
    assert "connectwise.ca_bundle" in result.stdout
    assert "does not speak TLS" not in result.stdout
