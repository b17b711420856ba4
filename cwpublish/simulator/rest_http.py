"""The simulator's REST v3.0 HTTP side: auth, routing, paging, faults, recording, `show`.

Answers GET /login/companyinfo/{companyId} and /{codebase}apis/3.0/... with ConnectWise's rules
(Basic auth with API member keys, clientId, a pinned Accept version, JSON bodies, JSON Patch),
records every request in `sim.requests` (never its Authorization header) and applies the fault
rules whose "operation" starts the request's "METHOD /path".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
import json
import math
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from cwpublish.simulator.rest_conditions import (
    SCHEMAS,
    ConditionError,
    compile_conditions,
    order_by,
    trim_fields,
)
from cwpublish.simulator.rest_site import AREAS, RestError, RestTenant

API = "/apis/3.0"
COMPANYINFO = "/login/companyinfo/"
VENDOR_JSON = "application/vnd.connectwise.com+json"
JSON_TYPE = "application/json; charset=utf-8"
SYSTEM_INFO = {"version": "v2025.1.10137", "isCloud": False,
               "serverTimeZone": "Eastern Standard Time", "cloudRegion": None}
BAD_GATEWAY = (b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway"
               b"</h1></body></html>")
_NO_BODY, _BAD_BODY = object(), object()


@dataclass
class _Reply:
    status: int
    body: bytes | None  # None: drop the connection without an answer
    ctype: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Ctx:
    tenant: RestTenant
    query: dict[str, str]  # parameter names lower-cased: ConnectWise ignores their case
    params: list[tuple[str, str]]  # as sent, for the Link header
    body: Any
    url: str  # scheme://host/path of this request, without the query
    forward: bool  # pagination-type: forward-only

    def link(self, **override: int) -> str:
        names = {"page": "page", "pageid": "pageId"}
        params = [(k, v) for k, v in self.params if k.lower() not in names]
        if "pagesize" not in self.query:
            params.append(("pageSize", "25"))
        params += [(names[k], str(v)) for k, v in override.items()]
        return f"{self.url}?{urlencode(params, quote_via=quote)}"


class _Allow(RestError):
    """405, with the Allow header HTTP asks for."""

    def __init__(self, allow: list[str], message: str):
        super().__init__(405, "MethodNotAllowed", message)
        self.headers = {"Allow": ", ".join(sorted(allow))}


def is_rest_path(path: str) -> bool:
    """True for a request the REST side answers (the rest stays with the SOAP side)."""
    p = path.split("?", 1)[0].lower()
    return p.startswith(COMPANYINFO) or API + "/" in p or p.endswith(API)


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), JSON_TYPE,
                  headers or {})


def _code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return "Error"


def handle_rest(handler: Any, raw: bytes) -> None:
    """Answer one REST request on `handler` (a BaseHTTPRequestHandler), and record it."""
    sim = handler.server.sim
    started = time.perf_counter()
    raw_path, _, raw_query = handler.path.partition("?")
    path = unquote(raw_path)
    params = parse_qsl(raw_query, keep_blank_values=True)
    at = path.lower().find(API)
    api_path = path[at + len(API):] if at >= 0 else path
    entry: dict[str, Any] = {
        "api": "rest", "operation": f"{handler.command} {api_path or '/'}",
        "method": handler.command, "path": path, "query": dict(params), "status": 0,
        "at": time.time(), "accept": handler.headers.get("Accept"),
        "client_id": handler.headers.get("clientId"), "body": None,
    }
    body: Any = _NO_BODY
    if raw and handler.command in ("POST", "PATCH", "PUT"):
        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
            entry["body"] = body
        except (ValueError, UnicodeDecodeError):
            body = _BAD_BODY
    scheme = "https" if isinstance(handler.connection, ssl.SSLSocket) else "http"
    url = f"{scheme}://{handler.headers.get('Host', '')}{raw_path}"
    try:
        reply = _answer(handler, sim, entry, path, api_path, params, body, url)
    except RestError as e:
        entry["error"] = e.message
        extra = dict(getattr(e, "headers", {}))
        if e.status == 401:
            extra["WWW-Authenticate"] = 'Basic realm="ConnectWise API"'
        reply = _json(e.status, e.body(), extra)
    entry["status"] = reply.status
    sim.answered(entry, started)
    if reply.body is None:
        handler.close_connection = True
        handler.connection.shutdown(2)
        return
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.ctype)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    handler.wfile.write(reply.body)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _fault_reply(rule: dict) -> _Reply | None:
    """What a fault rule answers instead of the site; None lets the request through."""
    time.sleep(float(rule.get("delay", 0)))
    headers = {"Retry-After": str(rule["retry_after"])} if rule.get("retry_after") is not None \
        else {}
    if rule.get("drop"):
        return _Reply(0, None)
    if rule.get("html"):
        return _Reply(int(rule.get("http_status", 502)), BAD_GATEWAY, "text/html", headers)
    if rule.get("raw") is not None:
        return _Reply(int(rule.get("http_status", 200)), str(rule["raw"]).encode("utf-8"),
                      rule.get("content_type") or "text/plain; charset=utf-8", headers)
    if rule.get("http_status"):
        status = int(rule["http_status"])
        message = rule.get("message") or f"Simulated fault: HTTP {status}."
        return _json(status, {"code": _code(status), "message": message}, headers)
    if rule.get("soap_fault"):
        return _json(500, {"code": "InternalServerError", "message": rule["soap_fault"]}, headers)
    return None


def _answer(handler: Any, sim: Any, entry: dict, path: str, api_path: str,
            params: list[tuple[str, str]], body: Any, url: str) -> _Reply:
    rule = sim.take_fault(entry["operation"], prefix=True)
    if rule:
        entry["fault"] = rule
        reply = _fault_reply(rule)
        if reply is not None:
            return reply
    method, headers = entry["method"], handler.headers
    if path.lower().startswith(COMPANYINFO):
        return _companyinfo(sim, method, path[len(COMPANYINFO):], headers.get("Host", ""))
    tenant = _authenticate(sim, headers.get("Authorization"))
    client_id = (headers.get("clientId") or "").strip()
    if not client_id:
        raise RestError(401, "Unauthorized", "The clientId header is required: the "
                        "integration's GUID registered on ConnectWise's developer site.")
    if client_id.lower() not in tenant.client_ids:
        raise RestError(401, "Unauthorized", f"clientId {client_id!r} is not registered.")
    at = path.lower().find(API)
    if path[1:at + 1].lower() != tenant.codebase.lower():
        raise RestError(404, "NotFound", f"No API at {path}: this site's codebase is "
                        f"{tenant.codebase!r} (see GET /login/companyinfo/{tenant.company_id}).")
    _check_accept(headers.get("Accept"), tenant.versions)
    area = api_path.strip("/").split("/")[0].lower()
    if area in AREAS and area not in tenant.permissions:
        raise RestError(403, "Forbidden", f"The API member's security role has no access to "
                        f"'{area}' (/{area}/...).")
    methods, groups = _route(api_path)
    fn = methods.get(method)
    if fn is None:
        raise _Allow(list(methods), f"{method} is not allowed on {api_path}; allowed: "
                     f"{', '.join(sorted(methods))}.")
    if method in ("POST", "PATCH"):
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise RestError(415, "UnsupportedMediaType", "Content-Type must be "
                            f"application/json, not {ctype or 'missing'}.")
        if body is _NO_BODY or body is _BAD_BODY:
            raise RestError(400, "InvalidObject", "The request body is missing or is not "
                            "valid JSON.")
    query = {k.lower(): v for k, v in params}
    forward = (headers.get("pagination-type") or "").strip().lower() == "forward-only"
    ctx = _Ctx(tenant, query, params, body, url, forward)
    with sim.lock:  # answers are built (and serialised) under the lock: no torn reads
        return fn(ctx, *groups)


def _companyinfo(sim: Any, method: str, company_id: str, host: str) -> _Reply:
    company_id = company_id.strip("/")
    tenant = sim.rest.tenant(company_id) if company_id and "/" not in company_id else None
    if tenant is None:
        raise RestError(404, "NotFound", f"Company {company_id!r} was not found.")
    if method != "GET":
        raise _Allow(["GET"], f"{method} is not allowed; use GET.")
    return _json(200, {"CompanyName": tenant.company_name, "Codebase": tenant.codebase,
                       "VersionCode": f"v{tenant.versions[0]}", "CompanyID": tenant.company_id,
                       "IsCloud": False, "SiteUrl": host})


def _authenticate(sim: Any, value: str | None) -> RestTenant:
    scheme, _, token = (value or "").strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise RestError(401, "Unauthorized", "Authentication required: HTTP Basic with user "
                        "'{companyId}+{publicKey}' and the private key as password.")
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode(
            "utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, sep, password = "", "", ""
    company, plus, public = user.partition("+")
    tenant = sim.rest.tenant(company) if sep and plus else None
    if (tenant is None
            or not hmac.compare_digest(public.encode(), tenant.public_key.encode())
            or not hmac.compare_digest(password.encode(), tenant.private_key.encode())):
        raise RestError(401, "Unauthorized", "The company ID, public key or private key is "
                        "wrong (user '{companyId}+{publicKey}', password the private key).")
    return tenant


def _check_accept(accept: str | None, versions: list[str]) -> None:
    """application/json, or ConnectWise's vendor type with a version this site serves."""
    ok = False
    for media_range in (accept or "").split(","):
        media, *params = (p.strip() for p in media_range.split(";"))
        args = dict((k.strip().lower(), v.strip().strip('"')) for k, _, v in
                    (p.partition("=") for p in params))
        if media.lower() == "application/json":
            ok = True
        elif media.lower() == VENDOR_JSON:
            version = args.get("version")
            if version is not None and version not in versions:
                raise RestError(400, "UnsupportedVersion", f"API version {version!r} is not "
                                f"supported by this site; it serves {', '.join(versions)}.")
            ok = True
    if not ok:
        raise RestError(406, "NotAcceptable", f"Accept must be {VENDOR_JSON}; version="
                        f"{versions[0]} (or application/json), not {accept or 'missing'}.")


def _int_param(query: dict[str, str], name: str, default: int, low: int,
               high: float = math.inf) -> int:
    value = query.get(name.lower())
    if value is None:
        return default
    if not re.fullmatch(r"\d+", value.strip()) or not low <= int(value) <= high:
        limit = f"from {low} to {high}" if high != math.inf else f">= {low}"
        raise RestError(400, "InvalidObject", f"{name} must be an integer {limit}, "
                        f"not {value!r}.")
    return int(value)


def _filtered(kind: str, ctx: _Ctx, parent: int | None) -> list[dict]:
    items = ctx.tenant.collection(kind, parent)
    if ctx.query.get("conditions"):
        try:
            test = compile_conditions(ctx.query["conditions"], SCHEMAS[kind])
        except ConditionError as e:
            raise RestError(400, "InvalidObject", f"conditions: {e}") from None
        items = [o for o in items if test(o)]
    return items


def _trim(obj: dict, ctx: _Ctx) -> dict:
    return trim_fields(obj, ctx.query["fields"]) if ctx.query.get("fields") else obj


def _list(kind: str, ctx: _Ctx, parent: int | None = None) -> _Reply:
    items = _filtered(kind, ctx, parent)
    size = _int_param(ctx.query, "pageSize", 25, 1, 1000)
    links: list[tuple[str, str]] = []
    if ctx.forward:
        if ctx.query.get("orderby"):
            raise RestError(400, "InvalidObject", "orderBy cannot be used with "
                            "pagination-type: forward-only (pages come in id order).")
        after = _int_param(ctx.query, "pageId", 0, 0)
        rest = sorted((o for o in items if o["id"] > after), key=lambda o: o["id"])
        page_items = rest[:size]
        if len(rest) > size:
            links.append((ctx.link(pageid=page_items[-1]["id"]), "next"))
    else:
        page = _int_param(ctx.query, "page", 1, 1)
        if ctx.query.get("orderby"):
            try:
                items = order_by(items, ctx.query["orderby"], SCHEMAS[kind])
            except ConditionError as e:
                raise RestError(400, "InvalidObject", str(e)) from None
        else:
            items = sorted(items, key=lambda o: o["id"])
        last = max(1, math.ceil(len(items) / size))
        page_items = items[(page - 1) * size:page * size]
        if page > 1:
            links += [(ctx.link(page=1), "first"), (ctx.link(page=min(page - 1, last)), "prev")]
        if page < last:
            links += [(ctx.link(page=page + 1), "next"), (ctx.link(page=last), "last")]
    headers = {"Link": ", ".join(f'<{u}>; rel="{r}"' for u, r in links)} if links else {}
    return _json(200, [_trim(o, ctx) for o in page_items], headers)


def _count(kind: str, ctx: _Ctx, parent: int | None = None) -> _Reply:
    return _json(200, {"count": len(_filtered(kind, ctx, parent))})


def _one(kind: str, ctx: _Ctx, *ids: int) -> _Reply:
    parent, ident = (ids[0], ids[1]) if len(ids) == 2 else (None, ids[0])
    return _json(200, _trim(ctx.tenant.get(kind, ident, parent), ctx))


def _created(ctx: _Ctx, obj: dict) -> _Reply:
    return _json(201, obj, {"Location": f"{ctx.url.rstrip('/')}/{obj['id']}"})


_ID = r"(\d+)"
_LISTS = {"company/companies": "companies", "company/configurations/types": "types",
          "company/configurations": "configurations", "finance/agreements": "agreements",
          rf"finance/agreements/{_ID}/additions": "additions", "procurement/catalog": "catalog"}
_TABLE: dict[str, dict[str, Callable[..., _Reply]]] = {
    "system/info": {"GET": lambda ctx: _json(200, SYSTEM_INFO)}}
for _base, _kind in _LISTS.items():
    _TABLE[_base] = {"GET": partial(_list, _kind)}
    _TABLE[f"{_base}/count"] = {"GET": partial(_count, _kind)}
    _TABLE[f"{_base}/{_ID}"] = {"GET": partial(_one, _kind)}
_TABLE["company/configurations"]["POST"] = lambda ctx: _created(
    ctx, ctx.tenant.create_configuration(ctx.body))
_TABLE[f"company/configurations/{_ID}"]["PATCH"] = lambda ctx, i: _json(
    200, ctx.tenant.patch_configuration(i, ctx.body))
_TABLE[f"finance/agreements/{_ID}/additions"]["POST"] = lambda ctx, a: _created(
    ctx, ctx.tenant.create_addition(a, ctx.body))
_TABLE[f"finance/agreements/{_ID}/additions/{_ID}"]["PATCH"] = lambda ctx, a, i: _json(
    200, ctx.tenant.patch_addition(a, i, ctx.body))
_ROUTES = [(re.compile(pattern, re.IGNORECASE), methods) for pattern, methods in _TABLE.items()]


def _route(api_path: str) -> tuple[dict[str, Callable[..., _Reply]], list[int]]:
    """The methods answering `api_path` and its ids, or 404."""
    target = api_path.strip("/")
    for pattern, methods in _ROUTES:
        m = pattern.fullmatch(target)
        if m:
            return methods, [int(g) for g in m.groups()]
    raise RestError(404, "NotFound", f"No such endpoint: {api_path or '/'}.")


def _rows(state: dict) -> tuple[list[tuple], list[tuple]]:
    configs, additions = [], []
    for tenant, companies in sorted((state.get("rest") or {}).items()):
        for ident, held in sorted(companies.items()):
            configs += [(tenant, ident, c) for c in held["configurations"]]
            additions += [(tenant, ident, a) for a in held["additions"]]
    return configs, additions


def _num(value: Any, width: int) -> str:
    return f"{value:>{width}.2f}" if isinstance(value, int | float) else f"{'-':>{width}}"


def format_rest_tab(state: dict) -> str:
    """The REST side as text for `show`: configurations, then agreement additions; "" if none."""
    if not state.get("rest"):
        return ""
    configs, additions = _rows(state)
    lines = ["REST API v3.0 configurations",
             f"{'COMPANY ID':<12} {'IDENTIFIER':<14} {'ID':>6} {'BILLABLE GB':>12} {'YEAR':>5} "
             f"{'MONTH':>5}  TYPE / DEVICE IDENTIFIER"]
    lines += [f"{t:<12} {i:<14} {c['id']:>6} {_num(c['backupBillableSpaceGb'], 12)} "
              f"{c['backupYear'] or '-':>5} {c['backupMonth'] or '-':>5}  "
              f"{c['type']} / {c['deviceIdentifier'] or '-'}" for t, i, c in configs]
    lines += ["(none)"] if not configs else []
    lines += ["", "REST API v3.0 agreement additions",
              f"{'COMPANY ID':<12} {'IDENTIFIER':<14} {'ID':>6} {'QUANTITY':>12}  "
              "PRODUCT / AGREEMENT"]
    lines += [f"{t:<12} {i:<14} {a['id']:>6} {_num(a['quantity'], 12)}  {a['product']} / "
              f"{a['agreement']} (#{a['agreement_id']})" for t, i, a in additions]
    lines += ["(none)"] if not additions else []
    return "\n".join(lines)


def render_rest_tab(state: dict) -> str:
    """The REST side for GET /, after the SOAP table; "" if no tenant answers REST."""
    text = format_rest_tab(state)
    return f"<h1>REST API v3.0</h1><pre>{html.escape(text)}</pre>" if text else ""
