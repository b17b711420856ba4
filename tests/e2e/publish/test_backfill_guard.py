"""A backfill never silently leaves ConnectWise holding an older month than it holds (issue 19,
item 2): SOAP devices, REST configurations and additions hold one value per client. Through
the CLI against the simulator, with the ledger as what ConnectWise holds before the run."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from conftest import (
    USAGE,
    read_history,
    rest_partner_config,
    sim_state,
    soap_requests,
)

NOW = "2026-12-15 12:00:00"
MONTHS = {
    f"acme-2026-{m:02d}.csv": USAGE.replace("1250.456", f"{1000 + m}") for m in range(8, 13)
}


@pytest.fixture(autouse=True)
def frozen():
    with freeze_time(NOW, tick=True):
        yield


def held(sim) -> dict[str, tuple[int, int]]:
    """What the SOAP simulator holds per Managed ID: (year, month)."""
    return {k: (v["year"], v["month"]) for k, v in sim_state(sim)["configurations"]["acme"].items()}


def updates(sim) -> int:
    return len(soap_requests(sim, "UpdateManagedDevices"))


def test_a_backfill_after_a_newer_month_is_refused_in_a_script(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage=MONTHS)
    assert run(config, "publish", "--yes").exit_code == 0  # December
    before = updates(sim)
    result = run(config, "publish", "--from", "2026-08", "--to", "2026-10", "--yes", "--json")
    assert result.exit_code == 2, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["status"], doc["exit_code"]) == ("error", 2)
    assert "3 client(s) hold a newer month in ConnectWise" in doc["error"]
    assert (
        "acme: Law Office of R. Smith (LAWSMITH) holds 2026-12 in ConnectWise (published"
        in doc["error"]
    )
    assert "this run sends 2026-08, 2026-09, 2026-10 and leaves 2026-10 there" in doc["error"]
    safe, force = doc["error"].index("Safe: keep ConnectWise at 2026-12"), doc["error"].index(
        "add --force alone"
    )
    assert safe < force  # the safe choices are named first
    assert "--to 2026-12 --force" in doc["error"]
    assert (
        "cwpublish publish --partner acme --client LAWSMITH --client CONTOSO-01 "
        "--client NORTHWIND --month 2026-12 --force" in doc["error"]
    )
    assert updates(sim) == before and held(sim)["LAWSMITH"] == (2026, 12)
    assert [e["period"] for e in read_history(tmp_path)] == ["2026-12"]


def test_a_single_older_month_is_refused_too_and_force_sends_it(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage=MONTHS)
    assert run(config, "publish", "--yes", "--client", "LAWSMITH").exit_code == 0
    refused = run(config, "publish", "--month", "2026-11", "--yes")
    assert refused.exit_code == 2 and "1 client(s) hold a newer month" in refused.stderr
    assert "LAWSMITH" in refused.stderr and "CONTOSO-01" not in refused.stderr
    dry = run(config, "publish", "--month", "2026-11", "--dry-run", "--json")
    assert dry.exit_code == 2
    rows = {c["managed_id"]: c["status"] for c in json.loads(dry.stdout)["entries"][0]["clients"]}
    assert rows == {"LAWSMITH": "newer-held", "CONTOSO-01": "would-publish",
                    "NORTHWIND": "would-publish"}
    assert json.loads(dry.stdout)["entries"][0]["clients"][0]["held"] == "2026-12"
    text = run(config, "publish", "--month", "2026-11", "--dry-run").stdout
    assert "Safe: publish 2026-12 (cwpublish publish --partner acme --month 2026-12)" in text
    forced = run(config, "publish", "--month", "2026-11", "--yes", "--force", "--json")
    assert forced.exit_code == 0 and json.loads(forced.stdout)["status"] == "success"
    assert held(sim)["LAWSMITH"] == (2026, 11)  # deliberately: what --force means


def test_a_backfill_that_ends_at_or_after_the_newest_month_is_not_flagged(
    sim, make_config, password, run, tmp_path
):
    config = make_config(sim.url, usage=MONTHS)
    assert run(config, "publish", "--yes", "--month", "2026-10").exit_code == 0
    result = run(config, "publish", "--from", "2026-08", "--to", "2026-12", "--yes")
    # 2026-10 itself is a duplicate (the duplicate guard), but nothing is left older
    assert result.exit_code == 2 and "already published" in result.stderr
    assert "newer month" not in result.stderr
    result = run(config, "publish", "--from", "2026-11", "--to", "2026-12", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert held(sim)["LAWSMITH"] == (2026, 12)


class Person:
    """A person at the terminal (manual_publish.Prompter): says no to replacing a newer month."""

    interactive = True

    def __init__(self):
        self.asked: list[str] = []

    def confirm_duplicates(self, duplicates) -> bool:
        raise AssertionError("no duplicate here")

    def confirm_overwrites(self, overwrites) -> bool:
        self.asked += [str(o) for o in overwrites]
        return False

    def confirm_plans(self, plans) -> bool:
        return True


def test_a_person_is_asked_and_no_leaves_the_older_month_out(
    sim, make_config, password, run, tmp_path
):
    from cwpublish.config.load import load_config
    from cwpublish.usecases.manual_publish import ManualRequest, publish_manual

    config = make_config(sim.url, usage=MONTHS)
    assert run(config, "publish", "--yes", "--client", "LAWSMITH").exit_code == 0
    person = Person()
    result = publish_manual(
        load_config(config), ManualRequest(month="2026-11", notify=False), person
    )
    assert len(person.asked) == 1 and "(LAWSMITH) holds 2026-12" in person.asked[0]
    assert (result.status, result.exit_code) == ("success", 0)
    [nov, _] = read_history(tmp_path)
    assert sorted(c["managed_id"] for c in nov["clients"]) == ["CONTOSO-01", "NORTHWIND"]
    assert held(sim) == {"LAWSMITH": (2026, 12), "CONTOSO-01": (2026, 11),
                         "NORTHWIND": (2026, 11)}


def test_a_rest_configuration_is_guarded_like_a_device(
    sim, make_config, rest_key, run, tmp_path
):
    config = make_config(partners=[rest_partner_config(sim.url)], usage=MONTHS)
    assert run(config, "publish", "--yes").exit_code == 0
    writes = len(sim_state(sim)["requests"])
    result = run(config, "publish", "--month", "2026-09", "--yes")
    assert result.exit_code == 2 and "3 client(s) hold a newer month" in result.stderr
    assert len(sim_state(sim)["requests"]) == writes


def test_an_agreement_addition_names_the_current_period_first_not_force(
    sim, make_config, rest_key, run, tmp_path
):
    config = make_config(
        partners=[rest_partner_config(sim.url, "agreement_addition")], usage=MONTHS
    )
    result = run(config, "publish", "--from", "2026-08", "--to", "2026-10", "--yes")
    assert result.exit_code == 2
    assert "holds 2026-12 in ConnectWise (the current period: an agreement addition holds one " \
        "quantity, not one per month)" in result.stderr
    advice = result.stderr[result.stderr.index("Safe:"):]
    assert advice.index("--partner acme --client LAWSMITH") < advice.index("add --force alone")
    assert "--client NORTHWIND --month 2026-12)" in advice  # not published yet: no --force
    assert sim_state(sim)["rest"].get("acme", {}) == {} or not any(
        c.get("additions") for c in sim_state(sim)["rest"]["acme"].values()
    )


def test_the_ledger_keeps_every_month_a_publish_may_write(
    sim, make_config, password, run, tmp_path
):
    from cwpublish.publish.plan import MAX_BACKFILL_MONTHS
    from cwpublish.state.ledger import LEDGER_PERIODS

    assert MAX_BACKFILL_MONTHS <= LEDGER_PERIODS == 60
    usage = {f"acme-{y}-{m:02d}.csv": USAGE for y in range(2022, 2027) for m in range(1, 13)}
    config = make_config(sim.url, usage=usage)
    old = run(config, "publish", "--month", "2021-12", "--yes")  # 61 months before 2026-12
    assert old.exit_code == 2
    assert "--month: 2021-12 is more than 60 months ago" in old.stderr
    assert "the oldest month it can publish is 2022-01" in old.stderr
    assert soap_requests(sim) == []
    # the longest backfill allowed: every one of its months is still known afterwards
    full = run(config, "publish", "--client", "LAWSMITH", "--from", "2022-01", "--to", "2026-12",
               "--yes", "--json", "--no-email")
    assert full.exit_code == 0, full.stderr
    assert len(json.loads(full.stdout)["entries"]) == 60
    ledger = sorted(p.stem for p in (tmp_path / "state" / "ledger").glob("*/*.json"))
    assert len(ledger) == 60 and ledger[0] == "2022-01"
    sent = updates(sim)
    again = run(config, "publish", "--client", "LAWSMITH", "--month", "2022-01", "--yes")
    assert again.exit_code == 2 and "already published" in again.stderr
    assert updates(sim) == sent
