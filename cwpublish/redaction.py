"""Masking secrets in any text that leaves the process: output, logs, history, emails.

Every secret cwpublish reads (credentials.py) is registered here, and every exit point masks
all of them, in every form a server or library may echo one: as is, trimmed, XML/HTML-escaped,
JSON-escaped, URL-encoded, and inside a Basic authorization header.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MASK = "********"
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
    import base64
    import html
    import json
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
        base64.b64encode(secret.encode()).decode(),
    }
    return {f for f in found if len(f) >= 4}


def redact(text: str, secret: str | None = None) -> str:
    """`text` with `secret` and every registered secret masked, in all their forms."""
    if not text or not (_known or secret):
        return text
    secrets = frozenset(_known | ({secret} if secret else set()))
    if not _may_hold(text, secrets):
        return text
    pattern = _pattern(secrets)
    return pattern.sub(MASK, text) if pattern else text


def clean_line(text: str, limit: int | None = None, secret: str | None = None) -> str:
    """`text` from outside as one line (sanitize.one_line), every secret masked: also one that
    only folding the server's line breaks or spaces joins up ("correct\\nhorse")."""
    from cwpublish.sanitize import one_line

    line = redact(one_line(redact(text, secret)), secret)
    return one_line(line, limit) if limit is not None else line


def may_hold_secret(text: str) -> bool:
    """Whether redact() could change `text`: one cheap check for a whole table or file."""
    return bool(text and _known and _may_hold(text, frozenset(_known)))


def _may_hold(text: str, secrets: frozenset[str]) -> bool:
    """False only when no form of any secret is in `text`, ignoring case. Exact for ASCII text
    and ASCII secrets (a plain substring test, far cheaper than the case-insensitive regex);
    anything else answers True and is left to the regex."""
    needles = _ascii_needles(secrets)
    if needles is None or not text.isascii():
        return True
    low = text.lower()
    return any(n in low for n in needles)


@functools.lru_cache(maxsize=8)
def _ascii_needles(secrets: frozenset[str]) -> tuple[str, ...] | None:
    found = {f for s in secrets for f in forms(s)}
    return tuple(f.lower() for f in found) if all(f.isascii() for f in found) else None


@functools.lru_cache(maxsize=8)
def _pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    """One regex for every form of every secret, longest first (built once per secret set:
    redact() runs on every table cell of a 10,000-client publish)."""
    found = sorted({f for s in secrets for f in forms(s)}, key=len, reverse=True)
    # case-insensitive: percent-encodings come in both cases (%2F, %2f)
    return re.compile("|".join(map(re.escape, found)), re.IGNORECASE) if found else None


def scrub(value: Any) -> Any:
    """redact() applied to every string inside dicts and lists (a history entry, JSON)."""
    if not _known:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
