"""Status and exit code derivation: one place, real runs and dry runs."""

from __future__ import annotations

import pytest

from cwpublish.domain.outcome import (
    dry_run_exit_code,
    exit_code_of,
    finish,
    nothing_sent,
    preview_outcome,
    status_of,
)
from cwpublish.domain.record import ClientResult, Entry
from cwpublish.domain.run_result import RunResult


@pytest.mark.parametrize(
    ("published", "failed", "status"),
    [(3, 0, "success"), (0, 0, "success"), (2, 1, "partial"), (0, 2, "failed")],
)
def test_status_of(published, failed, status):
    assert status_of(published, failed) == status


@pytest.mark.parametrize(
    ("status", "partner_code", "code"),
    [
        ("success", None, 0),
        ("partial", None, 3),
        ("failed", None, 1),
        ("failed", 12, 12),  # login rejected keeps its own code
        ("failed", 2, 2),  # usage or credentials
        ("partial", 1, 3),  # unreachable mid-way, but some got through
        ("failed", 1, 1),
        ("failed", 0, 1),
    ],
)
def test_exit_code_of(status, partner_code, code):
    assert exit_code_of(status, partner_code) == code


def entry(*statuses: str) -> Entry:
    e = Entry("acme", "manual", "me", "2026-11", "t", "https://cw")
    e.clients = [ClientResult(f"C{i}", f"K{i}", 1.0, s) for i, s in enumerate(statuses)]
    return e


def test_finish_sets_status_code_error_and_time():
    e = finish(entry("published", "failed", "skipped"), None, None)
    assert (e.status, e.exit_code, e.error) == ("partial", 3, None) and e.finished_at
    e = finish(entry("failed"), "ConnectWise rejected the login", 12)
    assert (e.status, e.exit_code, e.error) == ("failed", 12, "ConnectWise rejected the login")


def test_dry_run_outcome():
    assert preview_outcome(2, 0, None) == ("success", 0)
    assert preview_outcome(1, 1, None) == ("partial", 3)
    assert preview_outcome(0, 2, None) == ("failed", 2)  # nothing to send: fix the input
    assert preview_outcome(0, 2, 12) == ("failed", 12)
    assert dry_run_exit_code([{"exit_code": 0}], duplicates=True) == 2
    assert dry_run_exit_code([{"exit_code": 0}, {"exit_code": 3}], duplicates=False) == 3


def test_a_scheduled_preview_exits_as_the_night_would():
    """The night's rule (nothing_sent) decides a scheduled preview that sends nothing."""
    assert nothing_sent(["newer-held", "invoiced"])[1] == 1  # a failed night
    assert nothing_sent(["newer-held", "no-usage"])[1] == 2  # the input's fault
    assert preview_outcome(0, 2, None, True, ["newer-held", "invoiced"]) == ("failed", 1)
    assert preview_outcome(0, 2, None, True, ["no-usage"]) == ("failed", 2)
    assert preview_outcome(0, 2, 12, True, ["login"]) == ("failed", 12)
    assert preview_outcome(1, 1, None, True, ["newer-held"]) == ("partial", 3)
    assert preview_outcome(2, 0, None, True, []) == ("success", 0)


def ok():
    return finish(entry("published"), None, None)


def part():
    return finish(entry("published", "failed"), None, None)


def down(code=1):
    return finish(entry("failed"), "x", code)


@pytest.mark.parametrize(
    ("entries", "not_attempted", "extra", "status", "code"),
    [
        ([], 0, {}, "nothing-due", 0),
        ([ok()], 0, {}, "success", 0),
        ([ok(), ok()], 0, {}, "success", 0),  # two months or two partners
        ([part()], 0, {}, "partial", 3),
        ([ok(), down()], 0, {}, "partial", 3),  # January published, February failed
        ([ok(), down()], 1, {}, "partial", 3),  # ... and March not attempted
        ([ok(), down(12)], 0, {}, "partial", 3),  # one partner published, one refused login
        ([ok(), down(2)], 0, {}, "partial", 3),
        ([down()], 0, {}, "failed", 1),
        ([down(), down()], 1, {}, "failed", 1),
        ([down(), down(12)], 0, {}, "failed", 12),  # nothing published: the most severe code
        ([down(2), down(1)], 0, {}, "failed", 2),
        ([ok()], 0, {"state_error": "ledger"}, "not-recorded", 4),
        ([part()], 0, {"state_error": "history"}, "not-recorded", 4),
        ([ok()], 0, {"state_error": "ledger", "interrupted": 130}, "interrupted", 130),
        ([ok()], 0, {"interrupted": 143}, "interrupted", 143),
    ],
)
def test_one_rule_across_months_and_partners(entries, not_attempted, extra, status, code):
    run = RunResult(entries, [("acme", "2026-12")] * not_attempted, **extra)
    assert (run.status, run.exit_code) == (status, code)
