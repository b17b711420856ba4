"""The duplicate guard: found from the ledger, dropped on request, per partner and period."""

from __future__ import annotations

from decimal import Decimal

from cwpublish.config.model import Client, Partner
from cwpublish.domain.period import Period
from cwpublish.domain.record import ClientResult, Entry, UsageRecord
from cwpublish.publish.duplicates import drop_duplicates, duplicate_keys, find_duplicates
from cwpublish.publish.plan import Plan
from cwpublish.state.ledger import Ledger


def partner(name: str) -> Partner:
    clients = (Client(name="A", managed_id="A-1"), Client(name="B", managed_id="B-1"))
    return Partner(name=name, connectwise=None, usage=None, clients=clients)  # type: ignore[arg-type]


def plan(p: Partner, period: Period, *keys: str) -> Plan:
    result = Plan(p, period, "manual", "me", "t")
    result.to_send = [UsageRecord(k, k, Decimal(1), period) for k in keys]
    return result


def published(state_dir, partner_name: str, period: str, key: str, mode: str) -> None:
    e = Entry(partner_name, mode, "cron", period, "t", "s", finished_at="2026-11-05T02:00:00Z")
    e.clients = [ClientResult(key, key, 1.0, "published")]
    Ledger(state_dir).record(e)


def test_found_only_for_the_same_partner_period_and_key(tmp_path):
    published(tmp_path, "acme", "2026-11", "A-1", "automatic")
    published(tmp_path, "other", "2026-11", "B-1", "manual")
    published(tmp_path, "acme", "2026-10", "B-1", "manual")
    plans = [plan(partner("acme"), Period(2026, 11), "A-1", "B-1")]
    [dup] = find_duplicates(tmp_path, plans)
    assert (dup.partner, dup.period, dup.managed_id, dup.mode, dup.by) == (
        "acme", "2026-11", "A-1", "automatic", "cron"
    )
    assert "acme 2026-11: A-1 (A-1) was published 2026-11-05T02:00:00Z by cron" in str(dup)
    assert duplicate_keys([dup], plans[0]) == {"A-1"}


def test_dropping_keeps_the_rest_and_drops_empty_plans(tmp_path):
    published(tmp_path, "acme", "2026-11", "A-1", "manual")
    published(tmp_path, "acme", "2026-10", "A-1", "manual")
    published(tmp_path, "acme", "2026-10", "B-1", "manual")
    plans = [
        plan(partner("acme"), Period(2026, 10), "A-1", "B-1"),
        plan(partner("acme"), Period(2026, 11), "A-1", "B-1"),
    ]
    kept = drop_duplicates(plans, find_duplicates(tmp_path, plans))
    assert [(str(p.period), [r.key for r in p.to_send]) for p in kept] == [("2026-11", ["B-1"])]


def test_a_plan_with_failures_is_kept_so_they_are_recorded(tmp_path):
    published(tmp_path, "acme", "2026-11", "A-1", "manual")
    p = plan(partner("acme"), Period(2026, 11), "A-1")
    p.failed = [ClientResult("B", "B-1", None, "failed", "no usage")]
    [kept] = drop_duplicates([p], find_duplicates(tmp_path, [p]))
    assert kept.to_send == [] and kept.failed
