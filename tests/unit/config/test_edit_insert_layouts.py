"""insert_clients on hand-written layouts: the new entry lands as the last client of the
right partner, or the insert is refused (never a wrong place)."""

from __future__ import annotations

import pytest
import yaml

from cwpublish.config.edit import insert_clients
from cwpublish.errors import InputError

NEW = {"name": "New", "company": "N1"}
LAYOUTS = {
    "block item, comment, more keys": "partners:\n  - name: p\n    clients:\n      - name: A\n"
    "        company: X\n\n    # a comment\n    site: s\n  - name: q\n    clients: [ ]\n",
    "block item, next partner": "partners:\n  - name: p\n    clients:\n      - name: A\n"
    "        company: X\n  - name: q\n    x: 1\n",
    "block scalar last": "partners:\n  - name: p\n    clients:\n      - name: A\n"
    "        note: |\n          hi\n\n    site: s\n",
    "spaces after the dash": "partners:\n  - name: p\n    clients:\n      -   name: A\n"
    "          company: X\n    site: s\n",
    "multi-line flow item": "partners:\n  - name: p\n    clients:\n      - {name: A,\n"
    "         company: X}\n    site: s\n",
    "CRLF": "partners:\r\n  - name: p\r\n    clients:\r\n      - {name: A, company: X}\r\n"
    "    site: s\r\n",
    "BOM, no final newline": "\ufeffpartners:\n  - name: p\n    clients:\n"
    "      - {name: A, company: X}",
}


@pytest.mark.parametrize("text", LAYOUTS.values(), ids=list(LAYOUTS))
def test_the_entry_is_the_partners_last_client(text):
    data = yaml.safe_load(insert_clients(text, "p", ["- {name: New, company: N1}"]))
    partner = next(p for p in data["partners"] if p["name"] == "p")
    assert partner["clients"][-1] == NEW and len(partner["clients"]) == 2
    assert {k for k in partner} == {k for k in yaml.safe_load(text)["partners"][0]}


def test_a_last_entry_ending_in_an_alias_is_refused():
    text = "x: &c X\npartners:\n  - name: p\n    clients:\n      - name: A\n" \
        "        company: *c\n    site: s\n"
    with pytest.raises(InputError, match="alias"):
        insert_clients(text, "p", ["- {name: New, company: N1}"])


def test_a_crlf_file_stays_crlf():
    text = LAYOUTS["CRLF"]
    out = insert_clients(text, "p", ["- {name: New, company: N1}"])
    assert out.count("\n") == out.count("\r\n") == text.count("\r\n") + 1
