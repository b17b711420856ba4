"""A retry night counts a publish since the first try as done (scheduled_publish.pending_clients):
the ledger's `at` is in the publishing machine's zone, the first try's date in the partner's,
so they are compared in the partner's zone. The machine's zone is set (TZ) and the publish's
finish time frozen, so `at` is written by the real code (outcome.finish, Ledger.record)."""

from __future__ import annotations

import time
from datetime import date

import pytest
from freezegun import freeze_time

from conftest import partner_config
from cwpublish.config.load import load_config
from cwpublish.config.model import state_key
from cwpublish.domain.outcome import finish
from cwpublish.domain.period import Period
from cwpublish.domain.record import ClientResult, Entry, Status
from cwpublish.state.ledger import Ledger
from cwpublish.usecases.scheduled_publish import pending_clients

NOV = Period(2026, 11)
FIRST_TRY = date(2026, 11, 6)  # in the partner's zone, America/New_York


@pytest.fixture
def machine_zone(monkeypatch):
    """Set the machine's local zone for the test (restored after)."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("machine, hours, utc_instant, at, done", [
    # 04:30 UTC on the 6th is 23:30 on the 5th in New York: before the first try, pending
    ("UTC", 0, "2026-11-06 04:30:00", "2026-11-06T04:30:00+00:00", False),
    # 12:30 in Tokyo on the 6th is 22:30 on the 5th in New York: pending
    ("Asia/Tokyo", 9, "2026-11-06 03:30:00", "2026-11-06T12:30:00+09:00", False),
    # 23:30 in Los Angeles on the 5th is 02:30 on the 6th in New York: done, not resent
    ("America/Los_Angeles", -8, "2026-11-06 07:30:00", "2026-11-05T23:30:00-08:00", True),
])
def test_a_manual_publish_near_midnight_counts_on_the_partners_day(
    make_config, tmp_path, machine_zone, machine, hours, utc_instant, at, done
):
    partner = partner_config(
        "http://127.0.0.1:9", schedule={"day": 5, "timezone": "America/New_York"}
    )
    [acme] = load_config(make_config(partners=[partner])).partners
    machine_zone(machine)
    entry = Entry("acme", "manual", "ops@example.com", str(NOV), utc_instant, "site")
    entry.clients = [ClientResult(c.name, c.managed_id, 1.0, Status.PUBLISHED)
                     for c in acme.clients]
    # the publish finishes at that instant; the machine's clock reads its own zone's time
    with freeze_time(utc_instant, tz_offset=hours):
        finish(entry, None, None)
    assert entry.finished_at == at
    ledger = Ledger(tmp_path / "state")
    ledger.record(entry, state_key(acme))
    pending = pending_clients(ledger, acme, NOV, FIRST_TRY)
    assert (pending == []) is done
    assert len(pending) == (0 if done else len([c for c in acme.clients if c.publish]))
