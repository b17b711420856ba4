"""State keys name partner, site and company; legacy name-keyed state is adopted once, by
its key."""

from __future__ import annotations

import json
from datetime import date

from helpers import entry, partner

from cwpublish.config.model import state_key
from cwpublish.domain.schedule import DayState
from cwpublish.state.history import History
from cwpublish.state.keys import key_scope
from cwpublish.state.ledger import Ledger
from cwpublish.state.legacy import may_adopt_legacy
from cwpublish.state.schedule_state import ScheduleState


def test_state_key_is_readable_and_names_partner_site_and_company():
    assert state_key(partner()) == "acme@cw.acme.example~acme"
    assert state_key(partner("HTTPS://CW.Acme.Example:443/")) == "acme@cw.acme.example~acme"
    assert state_key(partner("http://127.0.0.1:8765")) == "acme@http+127.0.0.1_8765~acme"
    assert state_key(partner("https://cw.acme.example:8443")) == "acme@cw.acme.example_8443~acme"
    assert state_key(partner(company="other")) != state_key(partner())
    v6 = state_key(partner("http://[::1]:8765"))
    assert "/" not in v6 and ":" not in v6 and "=" in v6  # escaped, with a hash
    assert state_key(partner(company="a/b")) != state_key(partner(company="a-b"))
    assert key_scope(state_key(partner())) == "cw.acme.example~acme"


def test_legacy_ledger_is_adopted_once_by_its_key(tmp_path):
    legacy = tmp_path / "ledger" / "acme"
    Ledger(tmp_path).record(entry("2026-11"))  # no key: the name-keyed layout of old
    assert (legacy / "2026-11.json").exists()
    key = state_key(partner())
    assert "automatic" in Ledger(tmp_path).published(key, "2026-11", "A-1")
    assert not legacy.exists() and (tmp_path / "ledger" / key / "2026-11.json").exists()
    other = state_key(partner("https://cw.other.example"))
    assert Ledger(tmp_path).published(other, "2026-11", "A-1") == {}  # its own, empty


def test_legacy_state_of_another_site_is_left_for_that_site(tmp_path):
    History(tmp_path).add(entry("2026-11", site="https://cw.acme.example"))
    Ledger(tmp_path).record(entry("2026-11"))
    (tmp_path / "schedule.json").write_text(json.dumps({"acme": {"day": 5, "since": "2026-10-01"}}))
    rehearsal = state_key(partner("http://127.0.0.1:8765"))
    assert not may_adopt_legacy(tmp_path, rehearsal)
    assert Ledger(tmp_path).published(rehearsal, "2026-11", "A-1") == {}
    assert ScheduleState(tmp_path).get(rehearsal) is None
    production = state_key(partner())
    state = ScheduleState(tmp_path)
    assert state.get(production) == DayState(5, date(2026, 10, 1))
    state.save()
    assert set(json.loads((tmp_path / "schedule.json").read_text())) == {production}
    assert "automatic" in Ledger(tmp_path).published(production, "2026-11", "A-1")
