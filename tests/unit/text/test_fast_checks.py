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
