"""Issue 21, item 4: a usage file that cannot be read fails the partner with one error that
lists every bad row (up to a cap) and says "empty" for an empty file."""

from __future__ import annotations

import json
from datetime import date

from conftest import soap_requests

THIS = f"{date.today():%Y-%m}"


def _error(run, config) -> tuple[int, str]:
    result = run(config, "publish", "--yes", "--json")
    [entry] = json.loads(result.stdout)["entries"]
    return result.exit_code, entry["error"]


def test_every_bad_row_is_named_in_one_error(sim, make_config, password, run):
    usage = (
        "client,billable_gb\nLaw Office of R. Smith,12x\nContoso Dental,310.5\n"
        "Northwind Traders,-4\n,7\n"
    )
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": usage})
    code, error = _error(run, config)
    assert code == 2
    assert "3 bad rows" in error
    assert "row 2:" in error and "row 4:" in error and "row 5:" in error
    assert "must not be negative" in error and "client name is empty" in error
    assert soap_requests(sim) == []


def test_many_bad_rows_are_capped(sim, make_config, password, run):
    usage = "client,billable_gb\n" + "".join(f"C{i},x\n" for i in range(30))
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": usage})
    code, error = _error(run, config)
    assert code == 2 and "30 bad rows" in error and "and 10 more" in error
    assert "row 21:" in error and "row 22:" not in error


def test_an_empty_usage_file_says_empty(sim, make_config, password, run):
    config = make_config(sim.url, usage={f"acme-{THIS}.csv": "\n"})
    code, error = _error(run, config)
    assert code == 2 and ": empty; expected the header 'client,billable_gb'" in error
    assert "got ''" not in error
