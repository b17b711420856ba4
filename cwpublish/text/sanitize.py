"""Text from outside (fault texts, usage names) made safe for a terminal, an email header, a
table or a CSV cell: one line, no control characters, bounded length."""

from __future__ import annotations

import functools
import re

# C0/C1 controls, DEL, and Unicode line/paragraph separators and bidi overrides (which can
# make a line read differently from what it holds).
_UNSAFE_TEXT = r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
# Already one clean line: no unsafe character, no run of spaces, no space at either end.
_CLEAN_TEXT = (
    r"(?:[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
    r"(?: ?[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069])*)?"
)


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(unsafe, spaces, clean), compiled on first use, once: every command imports this
    module (log, cli), and the nightly no-op, which says nothing, need not compile them."""
    return re.compile(_UNSAFE_TEXT), re.compile(r"\s{2,}"), re.compile(_CLEAN_TEXT)


def one_line(text: str, limit: int | None = None) -> str:
    """`text` on one line: line breaks and tabs become spaces, other controls are shown
    escaped (`\\x1b`), runs of spaces fold; cut to `limit` characters with an ellipsis."""

    unsafe, spaces, clean = _patterns()
    if (limit is None or len(text) <= limit) and clean.fullmatch(text):
        return text  # the common case, checked in one pass (every cell of a 10,000-row table)

    def replace(m: re.Match) -> str:
        ch = m.group()
        return " " if ch in "\r\n\t\v\f\u2028\u2029" else ch.encode("unicode_escape").decode()

    cleaned = spaces.sub(" ", unsafe.sub(replace, text)).strip()
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


def all_one_line(texts: list[str]) -> bool:
    """Whether one_line() would return every text unchanged: one check for a whole table
    (exact for ASCII, where only a single space is whitespace the unsafe pattern lets through;
    anything else answers False and is left to one_line)."""
    flat = "".join(texts)
    if not flat.isascii() or _patterns()[0].search(flat):
        return False
    cut = "\x00".join(texts)  # \x00 is in no text now: it marks where each one starts and ends
    return not (
        "  " in cut or " \x00" in cut or "\x00 " in cut or cut.startswith(" ") or cut.endswith(" ")
    )


def shown(text: str) -> str:
    """`text` with every control or separator character shown escaped (`\\x1b`, `\\n`) and
    nothing else changed (spaces kept: a name's double space is part of it); safe to print
    as one terminal line."""
    unsafe = _patterns()[0]
    if not unsafe.search(text):
        return text
    return unsafe.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def shown_lines(text: str) -> str:
    """shown() on each line of `text` (a message of several lines stays several lines)."""
    return "\n".join(shown(line) for line in text.split("\n"))


