"""Whatever a transport raises while publishing is that partner's (or that client's) failed
publish, never an internal error: one clean line, `--json`, a history entry, the email, the
journal closed, and the other partners published.

The REST reader now turns every odd answer it knows (JSON nested too deep, an id that is not a
number) into a clean ConnectWiseError (tests/e2e/test_rest_money_safety.py), so no real answer
reaches this path any more: these tests plant the exception a transport bug would raise
(RecursionError, ValueError, KeyError) in the pre-flight, a look-up, one write, open and close.
"""

from __future__ import annotations

import json
from datetime import date

import keyring
import pytest

from conftest import (
    REST_PRIVATE_KEY,
    SECRET,
    USAGE,
    partner_config,
    read_history,
    rest_partner_config,
    tenant,
)
from cwpublish.simulator import SimulatorServer

PERIOD = f"{date.today():%Y-%m}"


def plant(monkeypatch, owner, name: str, exc: BaseException, times: int = 10**6) -> None:
    """Make `owner.name` raise `exc` (its first `times` calls), as a transport bug would."""
    real = getattr(owner, name)
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, broken)


def rest_target():
    from cwpublish.targets.connectwise_rest.target import RestTarget

    return RestTarget


def rest(url: str) -> dict:
    partner = rest_partner_config(url)
    partner["connectwise"]["retries"] = 0
    return partner


def soap(url: str) -> dict:
    return partner_config(url, name="beta", managers=["billing@beta.example"])


@pytest.fixture
def other_site():
    """A second ConnectWise site (SOAP) for partner beta: its own company."""
    server = SimulatorServer({"tenants": [tenant()]}).start()
    yield server
    server.stop()


@pytest.fixture
def keys():
    keyring.set_password("cwpublish", "connectwise:acme", REST_PRIVATE_KEY)
    keyring.set_password("cwpublish", "connectwise:beta", SECRET)


def rest_writes(sim) -> list[dict]:
    return [r for r in sim.sim.state()["requests"]
            if r.get("api") == "rest" and r["method"] in ("POST", "PATCH")]


def assert_clean(result, tmp_path) -> None:
    everything = result.stdout + result.stderr
    assert "internal error" not in everything and "Traceback" not in everything
    assert REST_PRIVATE_KEY not in everything and SECRET not in everything
    assert not list((tmp_path / "state" / "runs").glob("*.json"))  # the journal is closed


def test_an_unreadable_preflight_answer_fails_that_partner_and_the_other_publishes(
    sim, other_site, make_config, keys, run, smtp_server, smtp_password, tmp_path, monkeypatch
):
    config = make_config(partners=[rest(sim.url), soap(other_site.url)],
                         smtp=smtp_server.config, usage={f"acme-{PERIOD}.csv": USAGE})
    plant(monkeypatch, rest_target(), "preflight", RecursionError("maximum recursion depth"))
    result = run(config, "publish", "--yes", "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == out["exit_code"] != 0  # the run's rule: outcome.py
    acme, beta = out["entries"]
    assert (acme["partner"], acme["status"], acme["exit_code"]) == ("acme", "failed", 1)
    assert acme["error"].startswith("the pre-flight failed unexpectedly (RecursionError: ")
    assert {c["kind"] for c in acme["clients"]} == {"not-sent"}
    assert (beta["partner"], beta["status"]) == ("beta", "success")
    history = {e["partner"]: e for e in read_history(tmp_path)}
    assert history["acme"]["error"] == acme["error"] and history["beta"]["status"] == "success"
    subjects = sorted(m["Subject"] for _, _, m in smtp_server.messages)
    assert subjects == [f"[cwpublish] acme {PERIOD} FAILED: the pre-flight failed unexpectedly",
                        f"[cwpublish] beta {PERIOD}: published 3 of 3 clients"]
    assert rest_writes(sim) == []
    assert_clean(result, tmp_path)


def test_an_odd_id_in_a_lookup_while_sending_fails_the_partner_in_one_line(
    sim, make_config, keys, run, tmp_path, monkeypatch
):
    config = make_config(partners=[rest(sim.url)], usage={f"acme-{PERIOD}.csv": USAGE})
    plant(monkeypatch, rest_target(), "_configuration_writes",
          ValueError("invalid literal for int() with base 10: 'x7'"), times=1)
    result = run(config, "publish", "--yes")
    assert result.exit_code == 1
    line = ("sending failed unexpectedly (ValueError: invalid literal for int() with base 10: "
            "'x7'); run with -vv for details and please report it")
    assert f"acme {PERIOD}: FAILED: {line}" in result.stdout
    assert "Law Office of R. Smith" in result.stdout  # the per-client table is printed
    [entry] = read_history(tmp_path)
    assert entry["status"] == "failed" and entry["error"] == line
    assert rest_writes(sim) == []
    assert_clean(result, tmp_path)
    retry = run(config, "publish", "--yes", "--json", "--retry", entry["id"])
    assert retry.exit_code == 0 and json.loads(retry.stdout)["status"] == "success"


def test_an_unreadable_answer_to_one_write_fails_that_client_only(
    sim, make_config, keys, run, tmp_path, monkeypatch
):
    from cwpublish.targets.connectwise_rest import writes

    config = make_config(partners=[rest(sim.url)], usage={f"acme-{PERIOD}.csv": USAGE})
    plant(monkeypatch, writes, "_make", RecursionError("maximum recursion depth"), times=1)
    result = run(config, "publish", "--yes", "--json")
    assert result.exit_code == 3
    [entry] = json.loads(result.stdout)["entries"]
    failed = [c for c in entry["clients"] if c["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["kind"] == "rejected"
    assert failed[0]["error"].startswith(
        "POST /company/configurations failed unexpectedly (RecursionError: ")
    assert len(rest_writes(sim)) == 2  # the planted write never reached the site
    assert [c["status"] for c in read_history(tmp_path)[0]["clients"]].count("published") == 2
    assert_clean(result, tmp_path)


def test_check_config_online_shows_an_unreadable_answer_as_a_failed_check(
    sim, make_config, keys, run, tmp_path, monkeypatch
):
    config = make_config(partners=[rest(sim.url)], usage={f"acme-{PERIOD}.csv": USAGE})
    plant(monkeypatch, rest_target(), "preflight", RecursionError("maximum recursion depth"))
    result = run(config, "check-config", "--online", "--json")
    assert result.exit_code == 1
    fails = [c for c in json.loads(result.stdout)["checks"] if c["status"] == "fail"]
    assert [c["scope"] for c in fails] == ["acme"]
    assert "failed unexpectedly (RecursionError" in fails[0]["message"]
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("where", ["open", "close"])
def test_a_target_failing_to_open_or_close_is_no_crash(
    sim, make_config, keys, run, tmp_path, monkeypatch, where
):
    from cwpublish.targets.connectwise_soap.target import SoapTarget

    def broken(*args, **kwargs):
        raise KeyError(f"planted in {where} {SECRET}")

    monkeypatch.setattr(SoapTarget, "__init__" if where == "open" else "close", broken)
    config = make_config(partners=[soap(sim.url)], usage={f"acme-{PERIOD}.csv": USAGE})
    result = run(config, "publish", "--yes", "--json")
    [entry] = json.loads(result.stdout)["entries"]
    if where == "open":  # nothing was sent: the partner failed
        assert result.exit_code == 1 and entry["status"] == "failed"
        assert entry["error"].startswith(
            "opening the connection to ConnectWise failed unexpectedly (KeyError: ")
    else:  # everything was sent and accepted: that stands, the close is a warning
        assert result.exit_code == 0 and entry["status"] == "success"
        [warning] = entry["warnings"]
        assert warning.startswith("closing the connection to ConnectWise failed unexpectedly")
        assert "closing the connection" in result.stderr
    assert read_history(tmp_path)[0]["id"] == entry["id"]
    assert_clean(result, tmp_path)


def test_the_night_before_check_reports_an_unreadable_answer_instead_of_crashing(
    sim, make_config, keys, run, smtp_server, smtp_password, monkeypatch
):
    from freezegun import freeze_time

    partner = rest(sim.url)
    partner["schedule"] = {"day": 5, "timezone": "America/New_York"}
    config = make_config(partners=[partner], smtp=smtp_server.config,
                         usage={"acme-2026-11.csv": USAGE})
    plant(monkeypatch, rest_target(), "preflight", RecursionError("maximum recursion depth"))
    with freeze_time("2026-11-04 15:00:00", tick=True):
        result = run(config, "publish", "--scheduled")
    assert result.exit_code == 0 and result.stdout == ""
    assert "tomorrow's automatic publish (2026-11) would fail" in result.stderr
    assert "the online check failed unexpectedly (RecursionError" in result.stderr
    assert "internal error" not in result.stderr
    [(_, _, message)] = smtp_server.messages
    assert "failed unexpectedly (RecursionError" in message.get_body(("plain",)).get_content()
