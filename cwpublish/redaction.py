"""Masking secrets in text that came back from a server or a library, before anyone sees it."""

from __future__ import annotations

MASK = "********"


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` masked."""
    return text.replace(secret, MASK) if secret else text
