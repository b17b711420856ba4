"""The whole-table checks that spare a 10,000-row table its per-cell work must agree exactly
with the per-cell functions: a table is never shown with a control character or a secret."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cwpublish.render.output import table
from cwpublish.text import redaction
from cwpublish.text.redaction import MASK, may_hold_secret, redact
from cwpublish.text.sanitize import all_one_line, one_line

CHARS = list("ab Z9-é\u00a0\t\n\r\x1b\u2028\u202e\x00 ")
CELL = st.text(alphabet=st.sampled_from(CHARS), max_size=6)


@given(st.lists(CELL, max_size=6))
def test_all_one_line_is_true_exactly_when_every_cell_is_unchanged(cells):
    if all_one_line(cells):
        assert all(one_line(c) == c for c in cells)
    elif all(c.isascii() for c in cells):  # exact for ASCII; elsewhere it may only say False
        assert any(one_line(c) != c for c in cells)


@pytest.fixture
def secret():
    redaction.register("Pa55/w:rd&x")
    yield "Pa55/w:rd&x"
    redaction.forget_all()


@given(st.text(alphabet=st.sampled_from(list("Pa5/w:rd&xAPSWDamp;%2F%2f+ ")), max_size=30))
def test_may_hold_secret_never_misses_what_redact_masks(text):
    redaction.register("Pa55/w:rd&x")
    try:
        if not may_hold_secret(text):
            assert redact(text) == text
    finally:
        redaction.forget_all()


@pytest.mark.parametrize(
    "echo",
    ["Pa55/w:rd&x", "PA55/W:RD&X", "Pa55/w:rd&amp;x", "Pa55%2Fw%3Ard%26x", "pa55%2fw%3ard%26x"],
)
def test_a_secret_in_any_cell_of_a_big_table_is_masked(secret, echo):
    rows = [[f"Client {i}", "published", ""] for i in range(3000)]
    rows[1234][2] = f"ConnectWise: login {echo} refused"
    text = table(["CLIENT", "RESULT", "REASON"], rows)
    assert echo not in text and secret not in text
    assert f"login {MASK} refused" in text


def test_a_control_character_in_any_cell_of_a_big_table_is_made_harmless():
    rows = [[f"Client {i}", "published"] for i in range(3000)]
    rows[2999][0] = "Evil\rName\x1b[2K  twice"
    text = table(["CLIENT", "RESULT"], rows)
    assert "\r" not in text and "\x1b" not in text
    assert "Evil Name\\x1b[2K twice" in text
    assert len(text.splitlines()) == 3001


NESTED = st.recursive(
    st.none() | st.floats(allow_nan=False) | st.lists(st.sampled_from(
        list("Pa5/w:rd&xé=\n\r \x00") + ["Pa55/w:rd&x", "UGE1NS93OnJkJng=", "Pa55/w:rd&amp;x"]),
        max_size=8).map("".join),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("abc"), inner),
    max_leaves=12,
)


@given(NESTED)
def test_scrub_checking_all_strings_at_once_agrees_with_redacting_each(value):
    redaction.register("Pa55/w:rd&x")
    try:
        assert redaction.scrub(value) == redaction._scrub_each(value, False)
    finally:
        redaction.forget_all()


@pytest.mark.parametrize("accent", [False, True])
def test_a_secret_in_any_row_of_a_big_entry_is_masked_and_rows_are_copies(secret, accent):
    rows = [{"name": f"Client {i}", "status": "published", "error": None} for i in range(5000)]
    rows[4999]["name"] = "Müller" if accent else rows[4999]["name"]
    rows[1234]["error"] = "ConnectWise: login Pa55%2Fw%3Ard%26x refused"
    data = {"partner": "p", "clients": rows, "warnings": ["ends in UGE1NS93OnJkJng="]}
    out = redaction.scrub(data)
    assert out["clients"][1234]["error"] == f"ConnectWise: login {MASK} refused"
    assert out["warnings"] == [f"ends in {MASK}"]
    assert out["clients"][4999] == rows[4999] and out["clients"][0] is not rows[0]
    rows[1234]["error"] = None
    data["warnings"] = ["ends in nothing secret"]
    clean = redaction.scrub(data)
    assert clean == data and clean["clients"] is not rows and clean["clients"][1] is not rows[1]


def test_scrub_of_a_10000_row_entry_masks_a_secret_in_any_chunk(secret):
    rows = [{"name": f"Client {i:05d}", "error": None} for i in range(10_000)]
    clean = {"clients": rows, "warnings": []}
    assert redaction.scrub(clean, fresh=True) is clean  # built for it: not copied
    assert redaction.scrub(clean) == clean and redaction.scrub(clean) is not clean
    last = {"clients": rows + [{"name": f"echo {secret}", "error": None}], "warnings": []}
    accent = {"clients": rows + [{"name": f"Zoë {secret}", "error": None}], "warnings": []}
    for data in (last, accent):
        scrubbed = redaction.scrub(data)
        assert scrubbed["clients"][-1]["name"].endswith(MASK)
        assert secret not in str(scrubbed) and scrubbed["clients"][:3] == rows[:3]
