"""config/edit.py's textual edits on layouts the generated test configs never have: a
partner followed by another, flow-style client entries, comments inside the sections."""

from __future__ import annotations

import pytest
import yaml

from cwpublish.config.edit import insert_clients, switch_to_rest
from cwpublish.errors import InputError

TEXT = """\
partners:
  - name: a
    connectwise:  # soap for now
      site: https://cw.example
      company_id: acme
      integrator_username: rcloud  # the login
      backup_stats_name: Backup Stats
      timeout: 20  # slow site
    clients:
      - name: X Corp
        managed_id: X
      - {name: Q Ltd, managed_id: Q}  # flow
      - name: W Inc
        managed_id: W
  - name: b
    clients:
      - name: Y
        managed_id: Y
"""
REST = {"api": "rest", "site": "https://cw.example", "company_id": "acme"}


def test_insert_goes_after_the_partners_last_client_not_into_the_next_partner():
    out = insert_clients(TEXT, "a", ['- {name: "Z", company: "Z"}'])
    data = yaml.safe_load(out)
    assert [c["name"] for c in data["partners"][0]["clients"]][-1] == "Z"
    assert data["partners"][1] == {"name": "b", "clients": [{"name": "Y", "managed_id": "Y"}]}


def test_switch_replaces_the_section_sets_companies_and_comments_out_the_left_out():
    out = switch_to_rest(TEXT, "a", REST, {"X": "CO-X", "Q": "CO-Q"}, {"W"})
    data = yaml.safe_load(out)
    a, b = data["partners"]
    assert a["connectwise"] == {**REST, "timeout": 20}
    assert a["clients"] == [{"name": "X Corp", "managed_id": "X", "company": "CO-X"},
                            {"name": "Q Ltd", "managed_id": "Q", "company": "CO-Q"}]
    assert "    connectwise:  # soap for now\n" in out
    assert "      timeout: 20  # slow site\n" in out
    assert '      - {name: Q Ltd, managed_id: Q, company: "CO-Q"}  # flow\n' in out
    assert "      # - name: W Inc\n      #   managed_id: W\n" in out
    assert b == {"name": "b", "clients": [{"name": "Y", "managed_id": "Y"}]}


def test_switch_refuses_a_flow_section():
    text = TEXT.replace("    connectwise:  # soap for now\n",
                        "    connectwise: {site: x, company_id: y}\n    old:\n")
    with pytest.raises(InputError, match=r"partners\[a\]\.connectwise"):
        switch_to_rest(text, "a", REST, {}, set())
