"""Issue 21, item 5: `schedule.day: 31` is warned once by check-config, naming the key and how
many months lack the day, in the product's own words."""

from __future__ import annotations

from datetime import date

from conftest import USAGE, partner_config


def test_day_31_is_warned_once(make_config, password, run):
    partner = partner_config("http://127.0.0.1:9", schedule={"day": 31})
    config = make_config(partners=[partner], usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    result = run(config, "check-config")
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if "exist" in line]
    assert len(said) == 1, said
    assert "partners[0].schedule.day: 31 does not exist in every month (5 month(s)" in said[0]
    assert "source document" not in result.output
