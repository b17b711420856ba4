"""Property: a registered secret echoed by a server in any form leaves no 8-character run of
itself (or of the characters that encode it) in what redact() and clean_line() return, cut
or not. The forms: as is, broken across lines or spaces, XML/JSON/URL-escaped, base64 alone
(AUTH LOGIN) and inside AUTH PLAIN's "\\0user\\0password" (and the "user\\0password" and
"authzid\\0user\\0password" variants), wrapped across lines as MIME does."""

from __future__ import annotations

import base64
import html
import json
import string
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwpublish.text import redaction
from cwpublish.text.redaction import MASK, clean_line, redact

# "*" is left out: the mask itself is a run of them. The filler shares no character with the
# secrets or with base64, so any 8-character run found in the output came from the secret.
SECRET_CHARS = string.ascii_letters + string.digits + "!#$%&()+,-./:;<=>?@[]^_{|}~é€"
FILLER = st.text(alphabet=st.sampled_from(list("αβγδλμ ·\n\t\r«»")), max_size=40)
SECRETS = st.text(alphabet=st.sampled_from(list(SECRET_CHARS)), min_size=8, max_size=40)
USERS = st.text(alphabet=st.sampled_from(list(string.ascii_letters + "@._-")), max_size=30)
BREAKS = st.lists(
    st.tuples(st.integers(min_value=1, max_value=200), st.sampled_from([" ", "\n", "\r\n", "\t"])),
    max_size=3,
)
KINDS = ["plain", "xml", "json", "url", "login", "plain-auth", "user-password", "authzid"]


@pytest.fixture(autouse=True)
def _fresh():
    yield
    redaction.forget_all()


def runs(text: str, n: int = 8) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def secret_only(prefix: bytes, secret: bytes) -> str:
    """The base64 characters of prefix+secret whose bits all come from the secret."""
    encoded = base64.b64encode(prefix + secret + b"\0\0").decode()
    return "".join(
        encoded[i]
        for i in range(len(encoded))
        if 6 * i >= 8 * len(prefix) and 6 * i + 6 <= 8 * (len(prefix) + len(secret))
    )


def echo(kind: str, secret: str, user: str) -> tuple[str, str]:
    """(what the server echoes, the part of it that must not survive)."""
    raw, name = secret.encode(), user.encode()
    prefix = {
        "login": b"",
        "plain-auth": b"\0" + name + b"\0",
        "user-password": name + b"\0",
        "authzid": name + b"\0" + name + b"\0",
    }
    if kind in prefix:
        return base64.b64encode(prefix[kind] + raw).decode(), secret_only(prefix[kind], raw)
    text = {
        "plain": secret,
        "xml": html.escape(secret),
        "json": json.dumps(secret, ensure_ascii=False)[1:-1],
        "url": quote(secret, safe=""),
    }[kind]
    return text, text


def broken(text: str, breaks: list[tuple[int, str]]) -> str:
    for at, space in sorted(breaks, reverse=True):
        at = at % (len(text) + 1)
        text = text[:at] + space + text[at:]
    return text


def assert_nothing_left(out: str, secret: str, guarded: str) -> None:
    squeezed = "".join(out.split())
    for leaked in (runs(secret) | runs(guarded)) & (runs(out) | runs(squeezed)):
        raise AssertionError(f"{leaked!r} survived in {out!r}")


@settings(max_examples=300, deadline=None)
@given(
    secret=SECRETS,
    user=USERS,
    kind=st.sampled_from(KINDS),
    breaks=BREAKS,
    before=FILLER,
    after=FILLER,
    cut=st.integers(min_value=8, max_value=400),
)
def test_no_run_of_a_secret_survives_any_echo_form(secret, user, kind, breaks, before, after, cut):
    redaction.forget_all()
    redaction.register(secret)
    shown, guarded = echo(kind, secret, user)
    text = before + broken(shown, breaks) + after
    assert_nothing_left(redact(text), secret, guarded)
    assert_nothing_left(clean_line(text), secret, guarded)
    assert_nothing_left(clean_line(text, cut), secret, guarded)  # masked before it is cut


@settings(max_examples=100, deadline=None)
@given(secret=SECRETS, user=USERS, kind=st.sampled_from(KINDS), before=FILLER, after=FILLER)
def test_a_secret_given_only_to_the_call_is_masked_too(secret, user, kind, before, after):
    redaction.forget_all()  # the SMTP password: passed to redact(), maybe never registered
    shown, guarded = echo(kind, secret, user)
    assert_nothing_left(clean_line(before + shown + after, 200, secret), secret, guarded)


def test_auth_plain_of_a_known_login_is_masked_but_the_user_part_stays():
    redaction.register("mail-secret")
    argument = base64.b64encode(b"\0billing@example.com\0mail-secret").decode()
    out = redact(f"535 5.7.8 AUTH PLAIN {argument} rejected")
    assert out.startswith("535 5.7.8 AUTH PLAIN AGJpbGxpbmdAZXhhbXBsZS5jb20A") and MASK in out
    assert "bWFpbC1zZWNyZXQ" not in out and "1zZWNy" not in out


def test_a_secret_straddling_the_cut_leaves_no_first_characters():
    redaction.register("Straddle-Secret-123")
    text = "x" * 195 + "Straddle-Secret-123 and more"
    out = clean_line(text, 200)
    assert "Stra" not in out and len(out) <= 200


def test_overlapping_echoes_of_a_periodic_secret_are_all_masked():
    redaction.register("abcdefgh" * 2)
    out = redact("abcdefgh" * 5)  # occurrences overlap: each one's characters are masked
    assert "abcdefgh" not in out and out == MASK


def test_whitespace_only_or_tiny_forms_never_mask_everything():
    redaction.register("  a ")
    assert redact("a plain sentence") == "a plain sentence"
