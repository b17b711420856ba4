"""Masking secrets in any text that leaves the process: output, logs, history, emails.

Every secret cwpublish reads (credentials.py) is registered here, and every exit point masks
all of them, in every form a server or library may echo one: as is, trimmed, XML/HTML-escaped,
JSON-escaped, URL-encoded, quoted-printable, base64 (alone, as in AUTH LOGIN, or inside any
longer base64 such as AUTH PLAIN's "\\0user\\0password" or a Basic authorization header), and
broken across lines, spaces or quoted-printable soft line breaks. Text is masked before it is
cut, so no part of a secret survives a cut.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from cwpublish.text.sanitize import one_line

MASK = "********"
_SOFT_BREAK = re.compile(r"=\r?\n")  # quoted-printable's soft line break: `=` ending a line
_known: set[str] = set()


def register(secret: str | None) -> None:
    """Remember a secret so that every later redact() masks it."""
    if secret:
        _known.add(secret)


def forget_all() -> None:
    """Forget every registered secret (a new run in the same process: the tests)."""
    _known.clear()


def forms(secret: str) -> set[str]:
    """The ways `secret` can appear in an echo of a request."""
    import html
    import json
    import quopri
    from urllib.parse import quote, quote_plus

    found = {
        secret,
        secret.strip(),
        html.escape(secret, quote=False),
        html.escape(secret, quote=True),
        secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote(secret),  # "/" left as is
        quote_plus(secret),
        quote_plus(secret, safe="/"),
        quote_plus(secret, safe="!*()"),  # .NET HttpUtility.UrlEncode leaves these
        _SOFT_BREAK.sub("", quopri.encodestring(secret.encode("utf-8")).decode("ascii")),
        *base64_forms(secret.encode("utf-8")),
    }
    return {f for f in found if len("".join(f.split())) >= 4}  # shorter ones match anything


def base64_forms(data: bytes) -> set[str]:
    """`data` in base64 alone (AUTH LOGIN), and the characters that encode only `data` wherever
    it sits inside a longer encoded string (AUTH PLAIN "\\0user\\0password", "user:password"):
    one string per alignment of `data` in the 3-byte groups (the 1-2 edge characters shared
    with the neighbours' bits hold under a byte of it and are left)."""
    import base64

    found = {base64.b64encode(data).decode("ascii")}
    for before in range(3):
        encoded = base64.b64encode(b"\0" * before + data + b"\0\0").decode("ascii")
        first = -(-8 * before // 6)  # the first character made of data's bits only
        end = 8 * (before + len(data)) // 6  # after the last one
        found.add(encoded[first:end])
    return found


def redact(text: str, secret: str | None = None) -> str:
    """`text` with `secret` and every registered secret masked, in all their forms (each
    occurrence, overlapping ones too, and across line breaks and spaces)."""
    if not text or not (_known or secret):
        return text
    secrets = frozenset(_known | ({secret} if secret else set()))
    if not _may_hold(text, secrets):
        return text
    anywhere, each = _patterns(secrets)
    if anywhere is None or not anywhere.search(text):
        return text
    spans: list[tuple[int, int]] = []
    for pattern in each:
        found = pattern.search(text)
        while found:
            spans.append(found.span())
            found = pattern.search(text, found.start() + 1)
    out, at = [], 0
    for start, end in _merged(spans):
        out += [text[at:start], MASK]
        at = end
    out.append(text[at:])
    return "".join(out)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans joined, in order."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def clean_line(text: str, limit: int | None = None, secret: str | None = None) -> str:
    """`text` from outside as one line (sanitize.one_line), every secret masked before it is
    cut to `limit`: a secret straddling the cut never leaves its first characters."""

    line = redact(one_line(redact(text, secret)), secret)
    return one_line(line, limit) if limit is not None else line


def may_hold_secret(text: str) -> bool:
    """Whether redact() could change `text`: one cheap check for a whole table or file."""
    return bool(text and _known and _may_hold(text, frozenset(_known)))


def _may_hold(text: str, secrets: frozenset[str]) -> bool:
    """False only when no form of any secret is in `text`, ignoring case and whitespace. Exact
    for ASCII text and ASCII secrets (plain substring tests, far cheaper than the regex);
    anything else answers True and is left to the regex."""
    needles = _ascii_needles(secrets)
    if needles is None or not text.isascii():
        return True
    low = text.lower()
    if any(n in low for n in needles):
        return True
    squeezed = "".join(_SOFT_BREAK.sub("", low).split())  # broken across lines or spaces
    return len(squeezed) != len(low) and any(n in squeezed for n in needles)


@functools.lru_cache(maxsize=8)
def _ascii_needles(secrets: frozenset[str]) -> tuple[str, ...] | None:
    found = {"".join(f.split()) for s in secrets for f in forms(s)}
    return tuple(f.lower() for f in found) if all(f.isascii() for f in found) else None


@functools.lru_cache(maxsize=8)
def _patterns(secrets: frozenset[str]) -> tuple[re.Pattern[str] | None, list[re.Pattern[str]]]:
    """(one regex finding any form of any secret, one regex per form), built once per secret
    set: redact() runs on every table cell of a 10,000-client publish. Case-insensitive
    (percent-encodings come in both cases: %2F, %2f); whitespace may sit between any two
    characters (a server folding its text, or a quoted-printable soft line break), and a space
    in a secret may be any whitespace."""
    found = sorted({f for s in secrets for f in forms(s)}, key=len, reverse=True)
    if not found:
        return None, []
    sources = [_spaced(f) for f in found]
    each = [re.compile(s, re.IGNORECASE) for s in sources]
    return re.compile("|".join(sources), re.IGNORECASE), each


def _spaced(form: str) -> str:
    r"""A regex for `form` with optional whitespace or soft line breaks between its characters."""
    return r"(?:\s|=\r?\n)*".join(re.escape(c) for c in form if not c.isspace())


def scrub(value: Any, fresh: bool = False) -> Any:
    """redact() applied to every string inside dicts and lists (a history entry, JSON), its
    dicts and lists copied. A few checks of all the strings first: a 10,000-row entry with no
    secret in it (the usual case) costs a few substring searches, not 60,000 redact() calls;
    `fresh` (the caller built it for this): returned as it is then, never held twice."""
    if not _known:
        return value
    chunk: list[str] = []
    size = 0
    accented = False
    for text in _strings(value):
        if not text.isascii():
            accented = True  # a name with an accent: only such strings are checked
            continue
        chunk.append(text)
        size += len(text) + 1
        if size >= _CHUNK:
            if may_hold_secret(_SEPARATOR.join(chunk)):
                return _scrub_each(value, False)
            chunk, size = [], 0
    if chunk and may_hold_secret(_SEPARATOR.join(chunk)):
        return _scrub_each(value, False)
    if accented:
        return _scrub_each(value, True)
    return value if fresh else _scrub_each(value, True)  # all ASCII and clean: a plain copy


# Between the strings of one check: neither whitespace nor part of a soft line break, so each
# string's text (and its text squeezed of whitespace) is a substring of the joined check's:
# a secret that redact() finds in any one string, _may_hold() finds in the joined text. The
# strings are checked a chunk at a time (each string whole in one chunk), so that the check of
# a 10,000-row entry never holds a copy of all its text (and its lowered, squeezed copies).
_SEPARATOR = "\0"
_CHUNK = 64 * 1024  # characters per check


def _strings(value: Any) -> Iterator[str]:
    """Every string inside `value` (its dicts' values and its lists' items), in order."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _scrub_each(value: Any, ascii_clean: bool) -> Any:
    """redact() applied to every string inside dicts and lists, one by one (`ascii_clean`: the
    ASCII ones are known to hold no secret and are left as they are)."""
    if isinstance(value, str):
        return value if ascii_clean and value.isascii() else redact(value)
    if isinstance(value, dict):
        return {k: _scrub_each(v, ascii_clean) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_each(v, ascii_clean) for v in value]
    return value
