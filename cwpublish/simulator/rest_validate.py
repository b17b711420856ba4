"""How the simulated site checks a POST body or a JSON Patch: the schema first, then its rules.

The schema (rest_schema) refuses unknown names, wrong types, bad enums, lengths and missing
required fields; the rules then resolve references to existing, usable objects and check what
the schema cannot say (a month from 1 to 12, a quantity >= 0). Every bad field of a request is
named in one 400, ConnectWise's shape {"code": "InvalidObject", "message", "errors": [...]}.
"""

from __future__ import annotations

import math
from typing import Any

from cwpublish.simulator import rest_schema
from cwpublish.simulator.rest_conditions import parse_date

BILL_CUSTOMER = ("Billable", "DoNotBill", "NoCharge")
_REFS = {"type": ("id", "name"), "company": ("id", "identifier"), "status": ("id", "name"),
         "product": ("id", "identifier")}
_MISSING = object()


class RestError(Exception):
    """Answered as ConnectWise's JSON error: {"code", "message", "errors"?}."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


class _Invalid(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def ci(obj: dict, name: str) -> Any:
    """A JSON object's member by case-insensitive name (as Newtonsoft binds them)."""
    return next((v for k, v in obj.items() if k.lower() == name.lower()), _MISSING)


def error(code: str, message: str, resource: str, field: str) -> dict:
    return {"code": code, "message": message, "resource": resource, "field": field}


def raise_invalid(resource: str, errors: list[dict]) -> None:
    """400 InvalidObject naming every error, if there is any."""
    if errors:
        text = "; ".join(e["message"] for e in errors)
        raise RestError(400, "InvalidObject", f"{resource} object is invalid: {text}", errors)


def _top(field: str) -> str:
    return field.split("/")[0].split("[")[0]


class Validation:
    """The checks of RestTenant's writes (mixed into it; it provides the lists referred to)."""

    def _ref_items(self, kind: str) -> list[dict]:
        raise NotImplementedError

    def _ref(self, kind: str, value: Any) -> dict:
        """A reference ({id} or {name}/{identifier}) to an existing, usable object."""
        if not isinstance(value, dict):
            raise _Invalid("InvalidObject", f"must be an object such as {{\"id\": 12}}, "
                                            f"not {value!r}")
        items = self._ref_items(kind)
        by_id, by_name = (ci(value, key) for key in _REFS[kind])
        if by_id is not _MISSING and by_id is not None:
            if not isinstance(by_id, int) or isinstance(by_id, bool):
                raise _Invalid("InvalidObject", f"id must be an integer, not {by_id!r}")
            found = next((o for o in items if o["id"] == by_id), None)
            what = f"id {by_id}"
        elif isinstance(by_name, str):
            key = _REFS[kind][1]
            found = next((o for o in items
                          if o[key].rstrip().casefold() == by_name.rstrip().casefold()), None)
            what = f"{key} {by_name!r}"
        else:
            raise _Invalid("NullValue", f"needs an id or {_REFS[kind][1]}")
        if found is None:
            raise _Invalid("InvalidObject", f"{what} was not found")
        if found.get("deletedFlag") or found.get("inactiveFlag"):
            state = "deleted" if found.get("deletedFlag") else "inactive"
            raise _Invalid("InvalidObject", f"{what} is {state}")
        keys = {"company": ("id", "identifier", "name"), "product": ("id", "identifier")}
        return {k: found[k] for k in keys.get(kind, ("id", "name"))}

    def _value(self, kind: str, value: Any) -> Any:
        """`value` checked for a field of `kind`, or _Invalid."""
        if kind in _REFS:
            return self._ref(kind, value)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        checks = {
            "str": (isinstance(value, str), "a string"),
            "number": (number and math.isfinite(value), "a number"),
            "quantity": (number and math.isfinite(value) and value >= 0, "a number >= 0"),
            "int": (isinstance(value, int) and not isinstance(value, bool), "an integer"),
            "month": (type(value) is int and 1 <= value <= 12, "an integer from 1 to 12"),
            "bool": (isinstance(value, bool), "true or false"),
            "date": (isinstance(value, str) and parse_date(value) is not None,
                     "an ISO 8601 date or date-time string"),
            "billCustomer": (str(value).casefold() in [b.casefold() for b in BILL_CUSTOMER],
                             "one of " + ", ".join(BILL_CUSTOMER)),
        }
        ok, expected = checks[kind]
        if not ok:
            raise _Invalid("InvalidObject", f"must be {expected}, not {value!r}")
        if kind == "billCustomer":
            return next(b for b in BILL_CUSTOMER if b.casefold() == value.casefold())
        return value

    def _validate(self, resource: str, name: str, spec: dict, body: Any) -> tuple[dict, dict]:
        """A POST body checked: (the rule fields of `spec`, the other schema fields); 400
        listing every bad field."""
        if not isinstance(body, dict):
            raise RestError(400, "InvalidObject", f"The {resource} must be a JSON object.")
        errors = rest_schema.check(name, body, resource)
        bad = {_top(e["field"]) for e in errors}
        values, extras = {}, {}
        for key, value in body.items():
            field = rest_schema.canonical(name, key)
            if field is None or field in bad or field in rest_schema.READ_ONLY:
                continue
            if field not in spec:
                extras[field] = value
            elif value is None:
                values[field] = None
            else:
                try:
                    values[field] = self._value(spec[field], value)
                except _Invalid as e:
                    errors.append(error(e.code, f"{field} {e.message}", resource, field))
        raise_invalid(resource, errors)
        return values, extras

    def _patch(self, resource: str, name: str, spec: dict, current: dict, body: Any,
               fixed: tuple[str, ...] = ()) -> dict:
        """The changes of a JSON Patch body (replace/add/remove) to `current`, checked against
        the schema and the rules, the result included; all or nothing."""
        if not isinstance(body, list):
            raise RestError(400, "InvalidObject", "A PATCH body must be a JSON array of JSON "
                            'Patch operations, e.g. [{"op": "replace", "path": "quantity", '
                            '"value": 12.5}].')
        props = rest_schema.schema(name)["properties"]
        changes, errors = {}, []
        for i, op in enumerate(body):
            if not isinstance(op, dict):
                errors.append(error("InvalidObject", f"operation {i} is not an object",
                                    resource, f"[{i}]"))
                continue
            verb, path, value = ci(op, "op"), ci(op, "path"), ci(op, "value")
            parts = path.strip("/").split("/") if isinstance(path, str) else [""]
            field = rest_schema.canonical(name, parts[0])
            if not isinstance(verb, str) or verb.lower() not in ("replace", "add", "remove"):
                errors.append(error("InvalidObject", f"operation {i}: op must be replace, add "
                                    f"or remove, not {verb!r}", resource, f"[{i}].op"))
                continue
            if field is None or len(parts) > 2 or (len(parts) == 2 and "ref" not in props[field]):
                errors.append(error("UnknownField", f"operation {i}: path {path!r} is not a "
                                    f"field of {resource}", resource, str(path)))
                continue
            if field in rest_schema.READ_ONLY + fixed:
                errors.append(error("InvalidField", f"operation {i}: {field} is read-only",
                                    resource, field))
                continue
            if verb.lower() == "remove":
                value = None
            elif value is _MISSING:
                errors.append(error("NullValue", f"operation {i}: value is required",
                                    resource, field))
                continue
            elif len(parts) == 2:
                value = {parts[1]: value}
            found = rest_schema.check_value(props[field], value, resource, field)
            if found:
                errors += found
            elif value is None or field not in spec:
                changes[field] = value
            else:
                try:
                    changes[field] = self._value(spec[field], value)
                except _Invalid as e:
                    errors.append(error(e.code, f"{field} {e.message}", resource, field))
        raise_invalid(resource, errors)
        result = {k: v for k, v in {**current, **changes}.items() if k not in ("_info",)}
        raise_invalid(resource, rest_schema.check(name, result, resource))
        return changes
