"""The duplicate check is repeated under the lock after the confirmation: a publish made by
someone else while the user read the prompt is never overwritten by the stale plan unasked."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import USAGE, soap_requests
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
