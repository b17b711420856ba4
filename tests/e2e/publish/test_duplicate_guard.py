"""The duplicate guard through the CLI, in one place: what the ledger says was published is not
sent again unasked (scripts refused without --force, people asked about what changed, --retry
and a company id's case included), and the check is repeated under the lock after the
confirmation, so a publish made meanwhile is never overwritten by the stale plan.
The guard's pure rule: tests/unit/publish/test_duplicates.py."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import add_entry, rows, sent_ids

from conftest import (
    USAGE,
    partner_config,
    read_history,
    soap_requests,
)
from cwpublish.config.load import load_config
from cwpublish.errors import InputError
from cwpublish.usecases.manual_publish import ManualRequest, publish_manual

PERIOD = f"{date.today():%Y-%m}"


class Prompter:
    """Says yes to the plan; meanwhile someone else publishes Contoso Dental."""

    def __init__(self, interactive: bool, run, config, answer_duplicates: bool):
        self.interactive = interactive
        self.run, self.config = run, config
        self.answer = answer_duplicates
        self.asked: list[list[str]] = []

    def confirm_plans(self, plans) -> bool:
        other = self.run(self.config, "publish", "--yes", "--client", "CONTOSO-01",
                         "--initiated-by", "colleague@example.com")
        assert other.exit_code == 0, other.stderr
        return True

    def confirm_duplicates(self, duplicates) -> bool:
        self.asked.append([d.managed_id for d in duplicates])
        return self.answer


def updates(sim) -> list[str]:
    sent = []
    for r in soap_requests(sim, "UpdateManagedDevices"):
        sent += [d["managed_id"] for d in r.get("devices", [])]
    return sent


@pytest.mark.parametrize("again", [False, True])
def test_the_user_is_asked_again_about_what_changed(sim, make_config, password, run, again):
    path = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})
    prompter = Prompter(True, run, path, again)
    result = publish_manual(load_config(path), ManualRequest(notify=False), prompter)
    assert prompter.asked == [["CONTOSO-01"]]
    [entry] = result.entries
    names = sorted(c.managed_id for c in entry.clients)
    expected = ["CONTOSO-01", "LAWSMITH", "NORTHWIND"] if again else ["LAWSMITH", "NORTHWIND"]
    assert names == expected
    assert updates(sim).count("CONTOSO-01") == (2 if again else 1)


def test_a_script_is_refused_when_something_changed(
    sim, make_config, password, run, monkeypatch
):
    path = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})

    prompter = Prompter(False, run, path, False)  # a script: never asked
    config = load_config(path)
    import cwpublish.usecases.manual_publish as mp

    real = mp.find_duplicates
    calls = []

    def racing(state_dir, plans):
        calls.append(1)
        found = real(state_dir, plans)
        if len(calls) == 1:  # right after the first check, before the lock is taken
            prompter.confirm_plans(plans)
        return found

    monkeypatch.setattr(mp, "find_duplicates", racing)
    with pytest.raises(InputError, match="already published"):
        publish_manual(config, ManualRequest(notify=False), prompter)
    assert updates(sim) == ["CONTOSO-01"]  # only the colleague's publish reached ConnectWise


THIS = f"{date.today():%Y-%m}"


def test_the_company_ids_case_does_not_bypass_the_duplicate_guard(sim, make_config, password,
                                                                   run):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    assert run(config, "publish", "--yes").exit_code == 0
    upper = partner_config(sim.url)
    upper["connectwise"]["company_id"] = "ACME"
    config = make_config(partners=[upper], usage={f"acme-{THIS}.csv": USAGE})
    again = run(config, "publish", "--yes")
    assert again.exit_code == 2 and "already published for the period" in again.stderr
    assert len(soap_requests(sim, "UpdateManagedDevices")) == 1





def test_retry_goes_through_the_duplicate_guard(sim, make_config, password, run, tmp_path):
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE})
    entry = add_entry(tmp_path, sim.url, rows(("CONTOSO-01", "failed", "rejected")))
    assert run(config, "publish", "--client", "CONTOSO-01", "--yes").exit_code == 0
    before = len(soap_requests(sim))
    refused = run(config, "publish", "--retry", entry.id, "--yes")
    assert refused.exit_code == 2 and "already published for the period" in refused.stderr
    assert len(soap_requests(sim)) == before
    forced = run(config, "publish", "--retry", entry.id, "--yes", "--force")
    assert forced.exit_code == 0 and sent_ids(sim, before) == ["CONTOSO-01"]


def test_republishing_is_refused_in_scripts_unless_forced(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE})
    assert run(config, "publish", "--yes").exit_code == 0
    before = len(soap_requests(sim))
    again = run(config, "publish", "--yes", "--client", "LAWSMITH", "--client", "NORTHWIND")
    assert again.exit_code == 2
    lines = again.stderr.splitlines()
    assert "2 client(s) were already published for the period; nothing was sent" in lines[0]
    assert any(
        f"acme {THIS}: Law Office of R. Smith (LAWSMITH) was published" in line
        and "by tester@example.com (manual)" in line
        for line in lines
    )
    assert len(soap_requests(sim)) == before and len(read_history(tmp_path)) == 1
    forced = run(config, "publish", "--yes", "--force", "--client", "LAWSMITH")
    assert forced.exit_code == 0 and len(read_history(tmp_path)) == 2
