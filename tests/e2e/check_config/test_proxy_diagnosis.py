"""A proxy from the environment that refuses (HTTPS_PROXY at a closed port) is named as the
proxy, not as the site's port (which is right: the site listens), and not retried."""

from __future__ import annotations

import time
from datetime import date

import pytest

from conftest import USAGE, free_port, partner_config

PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


@pytest.fixture
def closed_proxy(monkeypatch):
    """Every proxy variable at a loopback port where nothing listens."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    url = f"http://proxyuser:Pr0xyS3cret@127.0.0.1:{free_port()}"
    for name in PROXY_VARS:
        monkeypatch.setenv(name, url)


def test_a_refusing_proxy_is_named_as_the_proxy_and_not_retried(
    sim, closed_proxy, make_config, password, run
):
    partner = partner_config(sim.url)
    partner["connectwise"].update({"retries": 3, "retry_backoff": 5})
    config = make_config(partners=[partner], usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    started = time.monotonic()
    result = run(config, "check-config", "--online")
    assert time.monotonic() - started < 3.0, result.stdout  # a retry would wait 5 s first
    assert result.exit_code == 1, result.stdout
    line = next(x for x in result.stdout.splitlines() if x.startswith("✗"))  # the login line
    assert "the proxy in this machine's environment (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) " \
        "refused the connection on the way to 127.0.0.1" in line, line
    assert "nothing listens" not in result.stdout and "Pr0xyS3cret" not in result.stdout
    assert "attempts" not in result.stdout
