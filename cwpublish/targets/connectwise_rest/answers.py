"""The shape of REST answers: JSON that parses, lists of objects with numeric ids.

A server that answers something else (a non-object, an `id` that is not a number, JSON nested
too deep for Python, bytes that are not JSON) fails that call cleanly as a ConnectWiseError of
kind "response", naming the call; it never reaches the code as an internal error.
"""

from __future__ import annotations

import json
from typing import Any

from cwpublish.errors import ConnectWiseError

MAX_PLAIN_TEXT = 120


def parse_json(operation: str, host: str, content: bytes) -> Any:
    """The JSON value of an answer's body, or a ConnectWiseError "response"."""
    try:
        return json.loads(content)
    except RecursionError:
        why = "JSON nested too deep"
    except (ValueError, UnicodeDecodeError):
        why = "invalid JSON"
    raise ConnectWiseError(operation, f"{host} answered with {why}", kind="response")


def number(value: object) -> int | None:
    """An id as ConnectWise gives it: an integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def records(operation: str, host: str, value: object) -> list[dict]:
    """`value` as a list of JSON objects that each have a numeric `id`."""
    if not isinstance(value, list):
        raise ConnectWiseError(
            operation, f"{host} answered {_kind(value)} where a list was due", kind="response"
        )
    for item in value:
        if not isinstance(item, dict):
            raise ConnectWiseError(
                operation, f"{host} answered {_kind(item)} where an object was due",
                kind="response",
            )
        if number(item.get("id")) is None:
            raise ConnectWiseError(
                operation,
                f"{host} answered an object whose id is {_kind(item.get('id'))}, not a number",
                kind="response",
            )
    return value


def ref_id(obj: dict, key: str) -> int | None:
    """The numeric id of the reference `obj[key]` ({"id": 12, ...}), None when absent or
    not a number."""
    ref = obj.get(key)
    return number(ref.get("id")) if isinstance(ref, dict) else None


def plain_text(response: Any) -> str:
    """The start of a body that is not JSON (a proxy's page or text), for an error line."""
    text = response.content[:MAX_PLAIN_TEXT * 4].decode("utf-8", "replace")
    if "<" in text[:20]:  # an HTML page: its markup says nothing useful
        return ""
    return text[:MAX_PLAIN_TEXT].strip()


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return {dict: "an object", list: "a list"}.get(type(value), f"a {type(value).__name__}")
