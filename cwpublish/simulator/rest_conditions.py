"""ConnectWise's `conditions`, `orderBy` and `fields` parameters (fields from rest_schema).

Strings come in double or single quotes. Faithful to SQL Server's default collation, which a
REST client must cope with: string comparisons ignore case and trailing spaces, `like` takes
the % and _ wildcards, and a comparison with a null field is never true (only `= null` /
`!= null` test for null).
"""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<date>\[[^\]]*\])
    | (?P<num>-?\d+(?:\.\d+)?)(?![\w.])
    | (?P<op>!=|<>|<=|>=|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][\w/]*)
    )""",
    re.VERBOSE,
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_KEYWORDS = {"and", "or", "not", "in", "like", "contains", "true", "false", "null"}
_LITERALS = {"true": True, "false": False, "null": None}
Token = tuple[str, str, int]  # kind, text, position
Node = tuple


class ConditionError(ValueError):
    """A conditions or orderBy string that ConnectWise answers with 400."""


def parse_date(text: str) -> datetime | None:
    """An ISO date or date-time (Z allowed; naive means UTC), or None if it is not one."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while text[pos:].strip():
        m = _TOKEN.match(text, pos)
        if m is None:
            at = pos + len(text[pos:]) - len(text[pos:].lstrip())
            quote = text[at] in "\"'"
            what = "unterminated string" if quote else f"unexpected {text[at:at + 12]!r}"
            raise ConditionError(f"{what} at position {at}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent: or-terms of and-factors of comparisons or parenthesised groups."""

    def __init__(self, text: str, schema: dict[str, str]):
        self.toks = _tokens(text)
        self.i = 0
        self.schema = schema
        self.fields = {name.lower(): name for name in schema}

    def take(self) -> Token | None:
        tok = self.toks[self.i] if self.i < len(self.toks) else None
        self.i += 1
        return tok

    def is_word(self, tok: Token | None, *words: str) -> bool:
        return tok is not None and tok[0] == "word" and tok[1].lower() in words

    def fail(self, tok: Token | None, expected: str) -> ConditionError:
        if tok is None:
            return ConditionError(f"expected {expected} at the end")
        return ConditionError(f"expected {expected}, got {tok[1]!r} at position {tok[2]}")

    def parse(self) -> Node:
        if not self.toks:
            raise ConditionError("conditions is empty")
        node = self.expr()
        if self.i < len(self.toks):
            raise self.fail(self.toks[self.i], "'and', 'or' or the end")
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.i < len(self.toks) and self.is_word(self.toks[self.i], "or"):
            self.i += 1
            node = ("or", node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.i < len(self.toks) and self.is_word(self.toks[self.i], "and"):
            self.i += 1
            node = ("and", node, self.factor())
        return node

    def factor(self) -> Node:
        tok = self.take()
        if tok is not None and tok[:2] == ("punct", "("):
            node = self.expr()
            close = self.take()
            if close is None or close[:2] != ("punct", ")"):
                raise self.fail(close, "')'")
            return node
        if tok is None or tok[0] != "word" or tok[1].lower() in _KEYWORDS:
            raise self.fail(tok, "a field name")
        path = field_path(tok[1], self.schema, self.fields)
        ftype = self.schema[path]
        nxt = self.take()
        negate = self.is_word(nxt, "not")
        if negate:
            nxt = self.take()
            if not self.is_word(nxt, "in", "like", "contains"):
                raise self.fail(nxt, "'in', 'like' or 'contains' after 'not'")
        if self.is_word(nxt, "in"):
            return ("in", path, negate, self.value_list(path, ftype))
        if self.is_word(nxt, "like", "contains"):
            if ftype != "str":
                raise ConditionError(f"{path}: {nxt[1]} needs a string field")
            value = self.value(path, "str")
            return (nxt[1].lower(), path, negate, value)
        if nxt is None or nxt[0] != "op":
            raise self.fail(nxt, f"an operator after {path}")
        op = "!=" if nxt[1] == "<>" else nxt[1]
        value = self.value(path, ftype)
        if value is None and op not in ("=", "!="):
            raise ConditionError(f"{path}: null can only be compared with = or !=")
        if ftype == "bool" and op not in ("=", "!="):
            raise ConditionError(f"{path}: a boolean can only be compared with = or !=")
        return ("cmp", path, op, value)

    def value_list(self, path: str, ftype: str) -> list:
        tok = self.take()
        if tok is None or tok[:2] != ("punct", "("):
            raise self.fail(tok, "'(' after 'in'")
        values = [self.value(path, ftype)]
        while True:
            tok = self.take()
            if tok is not None and tok[:2] == ("punct", ")"):
                return values
            if tok is None or tok[:2] != ("punct", ","):
                raise self.fail(tok, "',' or ')' in the list")
            values.append(self.value(path, ftype))

    def value(self, path: str, ftype: str) -> Any:
        tok = self.take()
        if tok is None:
            raise self.fail(tok, f"a value for {path}")
        kind, text, pos = tok
        if kind == "word" and text.lower() in _LITERALS:
            value = _LITERALS[text.lower()]
        elif kind == "str":
            value = re.sub(r"\\(.)", r"\1", text[1:-1])
        elif kind == "num":
            value = float(text) if "." in text else int(text)
        elif kind == "date":
            value = parse_date(text[1:-1])
            if value is None:
                raise ConditionError(f"{text} at position {pos} is not a date-time")
        else:
            raise self.fail(tok, f"a value for {path}")
        expected = {
            "str": (str,),
            "int": (int, float),
            "number": (int, float),
            "bool": (bool,),
            "date": (datetime,),
        }[ftype]
        ok = value is None or (isinstance(value, expected) and not (
            isinstance(value, bool) and ftype in ("int", "number")
        ))
        if not ok:
            hint = {
                "str": 'a string in quotes, e.g. "ACME" or \'ACME\'',
                "int": "a number",
                "number": "a number",
                "bool": "true or false",
                "date": "a date-time in brackets, e.g. [2026-01-31T00:00:00Z]",
            }[ftype]
            raise ConditionError(f"{path} needs {hint}, got {text} at position {pos}")
        return value


def field_path(name: str, schema: dict[str, str], fields: dict[str, str] | None = None) -> str:
    """The schema's spelling of a field path (case-insensitive), or ConditionError."""
    fields = fields or {n.lower(): n for n in schema}
    path = fields.get(name.lower())
    if path is None:
        raise ConditionError(f"unknown field {name!r}; known fields: {', '.join(schema)}")
    return path


def get_path(obj: Any, path: str) -> Any:
    """The value at a slash path (`company/id`) of a JSON object; None if any step is missing."""
    for part in path.split("/"):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _norm(value: Any, ftype: str) -> Any:
    if ftype == "str" and isinstance(value, str):
        return value.rstrip(" ").casefold()  # SQL Server: case and trailing spaces ignored
    if ftype == "date" and isinstance(value, str):
        return parse_date(value)
    return value


def _like(pattern: str) -> re.Pattern:
    parts = ("." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _compile(node: Node, schema: dict[str, str]) -> Callable[[dict], bool]:
    kind = node[0]
    if kind in ("and", "or"):
        left, right = _compile(node[1], schema), _compile(node[2], schema)
        if kind == "and":
            return lambda o: left(o) and right(o)
        return lambda o: left(o) or right(o)
    path, ftype = node[1], schema[node[1]]
    if kind == "cmp":
        op, value = node[2], node[3]
        if value is None:
            return lambda o: (get_path(o, path) is None) == (op == "=")
        want, compare = _norm(value, ftype), _COMPARE[op]

        def cmp(o: dict) -> bool:
            have = _norm(get_path(o, path), ftype)
            return have is not None and compare(have, want)

        return cmp
    negate = node[2]
    if kind == "in":
        wanted = {_norm(v, ftype) for v in node[3] if v is not None}

        def member(o: dict) -> bool:
            have = _norm(get_path(o, path), ftype)
            return have is not None and ((have in wanted) != negate)

        return member
    if kind == "like":
        regex = _like(node[3])
        test: Callable[[str], bool] = lambda s: regex.fullmatch(s) is not None  # noqa: E731
    else:
        needle = node[3].casefold()
        test = lambda s: needle in s.casefold()  # noqa: E731

    def text_test(o: dict) -> bool:
        have = get_path(o, path)
        return isinstance(have, str) and (test(have) != negate)

    return text_test


def compile_conditions(text: str, schema: dict[str, str]) -> Callable[[dict], bool]:
    """A predicate for `conditions` over objects with fields `schema` (path -> type)."""
    return _compile(_Parser(text, schema).parse(), schema)


def order_by(items: list[dict], text: str, schema: dict[str, str]) -> list[dict]:
    """Sort by `orderBy` ("name asc, id desc"); nulls first ascending, as SQL Server does."""
    keys = []
    for part in text.split(","):
        bits = part.split()
        if not bits or len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise ConditionError(f"orderBy: expected 'field [asc|desc]', got {part.strip()!r}")
        keys.append((field_path(bits[0], schema), len(bits) == 2 and bits[1].lower() == "desc"))
    items = list(items)
    for path, desc in reversed(keys):
        ftype = schema[path]

        def key(o: dict, path: str = path, ftype: str = ftype) -> tuple:
            value = _norm(get_path(o, path), ftype)
            return (0, 0) if value is None else (1, value)

        items.sort(key=key, reverse=desc)
    return items


def trim_fields(obj: dict, text: str) -> dict:
    """Only the `fields` asked for (`id,company/name`); unknown names are ignored, as CW does."""
    out: dict = {}
    for name in (f.strip() for f in text.split(",")):
        parts, src, found = name.split("/"), obj, True
        keys = []
        for part in parts:
            key = next((k for k in src if k.lower() == part.lower()), None) if isinstance(
                src, dict
            ) else None
            if key is None:
                found = False
                break
            keys.append(key)
            src = src[key]
        if not name or not found:
            continue
        dst = out
        for key in keys[:-1]:
            if not isinstance(dst.get(key), dict):
                dst[key] = {}
            dst = dst[key]
        dst[keys[-1]] = copy.deepcopy(src)
    return out
