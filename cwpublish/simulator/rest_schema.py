"""ConnectWise's published schemas for the simulated objects, and a small validator of them.

openapi_schemas.json (package data) is trimmed from ConnectWise's public OpenAPI documents
(2026.4 GET subset and the 2025.8 Company.Configuration; see its `_source`): per field its type,
format, enum, maximum length ("Max length: N" in the description) and references, and per GET
path the schema of its answer. Requests and answers are checked against it, so a field, type,
enum or length ConnectWise would refuse is refused here with ConnectWise's 400 shape.
Error codes: NullValue (required), MaxLengthField, InvalidField (type, format, enum),
UnknownField (a name the schema does not have).
"""

from __future__ import annotations

import json
import math
import uuid
from functools import cache
from importlib import resources
from typing import Any

from cwpublish.simulator.rest_conditions import parse_date

INT32 = (-(2**31), 2**31 - 1)
READ_ONLY = ("id", "_info")  # accepted in a POST body and ignored, as ConnectWise does


@cache
def document() -> dict:
    """The trimmed schema document: {"schemas": {...}, "paths": {...}}."""
    text = (resources.files("cwpublish.simulator") / "openapi_schemas.json").read_text("utf-8")
    return json.loads(text)


def schema(name: str) -> dict:
    return document()["schemas"][name]


def _error(code: str, message: str, resource: str, field: str) -> dict:
    return {"code": code, "message": message, "resource": resource, "field": field}


def canonical(name: str, field: str) -> str | None:
    """The schema's spelling of `field` (JSON members bind case-insensitively), or None."""
    props = schema(name)["properties"]
    return next((k for k in props if k.lower() == field.lower()), None)


def check_value(prop: dict, value: Any, resource: str, path: str) -> list[dict]:
    """Errors of one value against one property (null is always allowed here)."""
    if value is None:
        return []
    if "ref" in prop:
        if not isinstance(value, dict):
            return [_error("InvalidField", f"{path} must be an object such as {{\"id\": 12}}, "
                                           f"not {value!r}", resource, path)]
        return check(prop["ref"], value, resource, partial=True, prefix=f"{path}/")
    kind = prop.get("type")

    def bad(expected: str) -> str:
        return f"{path} must be {expected}, not {value!r}"

    if kind == "string":
        if not isinstance(value, str):
            return [_error("InvalidField", bad("a string"), resource, path)]
        if prop.get("format") == "date-time" and parse_date(value) is None:
            return [_error("InvalidField", bad("an ISO 8601 date-time"), resource, path)]
        if prop.get("format") == "uuid":
            try:
                uuid.UUID(value)
            except ValueError:
                return [_error("InvalidField", bad("a GUID"), resource, path)]
        if "enum" in prop and value.casefold() not in [e.casefold() for e in prop["enum"]]:
            return [_error("InvalidField", bad("one of " + ", ".join(prop["enum"])),
                           resource, path)]
        if "maxLength" in prop and len(value) > prop["maxLength"]:
            return [_error("MaxLengthField", f"{path} has a max length of "
                           f"{prop['maxLength']} ({len(value)} given)", resource, path)]
        return []
    if kind == "integer":
        ok = type(value) is int and INT32[0] <= value <= INT32[1]
        return [] if ok else [_error("InvalidField", bad("a 32-bit integer"), resource,
                                     path)]
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
            value)
        return [] if ok else [_error("InvalidField", bad("a number"), resource, path)]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [
            _error("InvalidField", bad("true or false"), resource, path)]
    if kind == "array":
        if not isinstance(value, list):
            return [_error("InvalidField", bad("an array"), resource, path)]
        return [e for i, item in enumerate(value)
                for e in check_value(prop["items"], item, resource, f"{path}[{i}]")]
    if path.rsplit("/", 1)[-1] == "_info" and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
        return [_error("InvalidField", bad("an object of strings"), resource, path)]
    return []  # a free-form object (a custom field's value, a question's answer)


def check(name: str, obj: Any, resource: str, *, partial: bool = False,
          prefix: str = "") -> list[dict]:
    """Errors of `obj` against schema `name`: unknown names, types, enums, lengths, and
    (unless `partial`) required fields missing or null."""
    if not isinstance(obj, dict):
        return [_error("InvalidField", f"{prefix or resource} must be a JSON object",
                       resource, prefix.rstrip("/") or resource)]
    props, errors = schema(name)["properties"], []
    seen: set[str] = set()
    for key, value in obj.items():
        field = canonical(name, key)
        if field is None or field in seen:
            why = "is not a field of" if field is None else "is given twice in"
            errors.append(_error("UnknownField", f"{prefix}{key} {why} {name}", resource,
                                 f"{prefix}{key}"))
            continue
        seen.add(field)
        errors += check_value(props[field], value, resource, prefix + field)
    if not partial:
        for field in schema(name)["required"]:
            if next((v for k, v in obj.items() if k.lower() == field.lower()), None) is None:
                errors.append(_error("NullValue", f"{prefix}{field} is required", resource,
                                     prefix + field))
    return errors


def condition_fields(name: str) -> dict[str, str]:
    """The fields `conditions` and `orderBy` may name for schema `name` (path -> kind):
    its scalar fields, and the scalar fields of its references (`company/identifier`)."""
    out: dict[str, str] = {"_info/lastUpdated": "date"}
    for field, prop in schema(name)["properties"].items():
        if "ref" in prop:
            for sub, sprop in schema(prop["ref"])["properties"].items():
                kind = _kind(sprop)
                if kind:
                    out[f"{field}/{sub}"] = kind
        elif _kind(prop):
            out[field] = _kind(prop) or ""
    return out


def _kind(prop: dict) -> str | None:
    kind = prop.get("type")
    if kind == "string":
        return "date" if prop.get("format") == "date-time" else "str"
    return {"integer": "int", "number": "number", "boolean": "bool"}.get(kind or "")
