"""The simulator's REST v3.0 HTTP side: auth, Accept, routing, paging, faults, recording.

Answers GET /login/companyinfo/{companyId} and /{codebase}apis/3.0/... with ConnectWise's rules
(Basic auth with API member keys, clientId, a pinned Accept version, JSON bodies, JSON Patch),
records every request in `sim.requests` (never its Authorization header) and applies the fault
rules whose "operation" starts the request's "METHOD /path".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hmac
import json
import math
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from cwpublish.simulator import rest_faults
from cwpublish.simulator.rest_conditions import (
    ConditionError,
    compile_conditions,
    order_by,
    trim_fields,
)
from cwpublish.simulator.rest_faults import Reply as _Reply
from cwpublish.simulator.rest_faults import json_reply as _json
from cwpublish.simulator.rest_limit import company_of
from cwpublish.simulator.rest_schema import condition_fields
from cwpublish.simulator.rest_site import AREAS, SCHEMA_OF, RestError, RestTenant

API = "/apis/3.0"
COMPANYINFO = "/login/companyinfo/"
VENDOR_JSON = "application/vnd.connectwise.com+json"
SYSTEM_INFO = {"version": "v2025.1.10137", "isCloud": False,
               "serverTimeZone": "Eastern Standard Time", "cloudRegion": None}
_NO_BODY, _BAD_BODY = object(), object()


@dataclass
class _Ctx:
    tenant: RestTenant
    query: dict[str, str]  # parameter names lower-cased: ConnectWise ignores their case
    params: list[tuple[str, str]]  # as sent, for the Link header
    body: Any
    url: str  # scheme://host/path of this request, without the query
    forward: bool  # pagination-type: forward-only
    fault: dict = field(default_factory=dict)  # the fault rule applying to this request

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


def _answer(handler: Any, sim: Any, entry: dict, path: str, api_path: str,
            params: list[tuple[str, str]], body: Any, url: str) -> _Reply:
    limited = sim.limits.refuse(company_of(path, handler.headers.get("Authorization"),
                                           COMPANYINFO))
    if limited is not None:  # Cloudflare, in front of the site: before anything else
        return limited
    rule = sim.take_fault(entry["operation"], prefix=True) or {}
    if rule:
        entry["fault"] = rule
        reply = rest_faults.before(rule)
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
    ctx = _Ctx(tenant, query, params, body, url, forward, rule)
    if rule.get("store_later") is not None:  # a gateway gave up; the site stores it later
        later = threading.Timer(float(rule["store_later"]), _apply_late, (sim, fn, ctx, groups))
        later.daemon = True
        later.start()
        return rest_faults.after(rule, _json(200, {}))
    with sim.lock:  # answers are built (and serialised) under the lock: no torn reads
        try:
            reply = fn(ctx, *groups)
        except RestError as e:
            if not any(rule.get(k) for k in rest_faults.AFTER_KEYS):
                raise
            reply = _json(e.status, e.body())
    return rest_faults.after(rule, reply) if rule else reply


def _apply_late(sim: Any, fn: Callable, ctx: Any, groups: tuple) -> None:
    """Apply a request whose answer was already given (fault `store_later`)."""
    with sim.lock, contextlib.suppress(RestError):  # refused later: nothing stored
        fn(ctx, *groups)


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
    """As real sites do, only the first media type counts: */* or application/json (the newest
    model), or ConnectWise's vendor type with a version this site serves; none means */*."""
    media, *params = (p.strip() for p in (accept or "*/*").split(",")[0].split(";"))
    args = dict((k.strip().lower(), v.strip().strip('"')) for k, _, v in
                (p.partition("=") for p in params))
    ok = media.lower() in ("*/*", "application/json", VENDOR_JSON)
    version = args.get("version") if media.lower() == VENDOR_JSON else None
    if version is not None and version not in versions:
        raise RestError(400, "UnsupportedVersion", f"API version {version!r} is not "
                        f"supported by this site; it serves {', '.join(versions)}.")
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
            test = compile_conditions(ctx.query["conditions"], _fields(kind))
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
    endless = bool(ctx.fault.get("ignore_page"))  # the same first page, and always a next
    if ctx.forward:
        if ctx.query.get("orderby"):
            raise RestError(400, "InvalidObject", "orderBy cannot be used with "
                            "pagination-type: forward-only (pages come in id order).")
        after = _int_param(ctx.query, "pageId", 0, 0)
        rest = sorted((o for o in items if o["id"] > after * (not endless)),
                      key=lambda o: o["id"])
        page_items = rest[:size]
        if len(rest) > size or (endless and page_items):
            links.append((ctx.link(pageid=page_items[-1]["id"]), "next"))
    else:
        asked = page = _int_param(ctx.query, "page", 1, 1)
        page = 1 if endless else page
        if ctx.query.get("orderby"):
            try:
                items = order_by(items, ctx.query["orderby"], _fields(kind))
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
        elif endless:
            links = [(ctx.link(page=asked + 1), "next")]
    headers = {"Link": ", ".join(f'<{u}>; rel="{r}"' for u, r in links)} if links else {}
    return _json(200, [_trim(o, ctx) for o in page_items], headers)


def _count(kind: str, ctx: _Ctx, parent: int | None = None) -> _Reply:
    return _json(200, {"count": len(_filtered(kind, ctx, parent))})


def _one(kind: str, ctx: _Ctx, *ids: int) -> _Reply:
    parent, ident = (ids[0], ids[1]) if len(ids) == 2 else (None, ids[0])
    return _json(200, _trim(ctx.tenant.get(kind, ident, parent), ctx))


def _created(ctx: _Ctx, obj: dict) -> _Reply:
    return _json(201, obj, {"Location": f"{ctx.url.rstrip('/')}/{obj['id']}"})


def _patched(ctx: _Ctx, kind: str, ids: tuple[int, ...], apply: Callable[[], dict]) -> _Reply:
    """A PATCH's answer; under a `keep_old` fault the change is answered but not kept."""
    if not ctx.fault.get("keep_old"):
        return _json(200, apply())
    target = ctx.tenant.get(kind, ids[-1], ids[0] if len(ids) == 2 else None)
    old = copy.deepcopy(target)
    apply()
    target.clear()
    target.update(old)
    return _json(200, old)


_ID = r"(\d+)"
_LISTS = {"company/companies": "companies", "company/companies/statuses": "company_statuses",
          "company/configurations/types": "types",
          "company/configurations/statuses": "configuration_statuses",
          "company/configurations": "configurations", "finance/agreements": "agreements",
          rf"finance/agreements/{_ID}/additions": "additions", "procurement/catalog": "catalog",
          "finance/invoices": "invoices", "finance/agreementrecap": "recaps"}
_TABLE: dict[str, dict[str, Callable[..., _Reply]]] = {
    "system/info": {"GET": lambda ctx: _json(200, SYSTEM_INFO)}}
for _base, _kind in _LISTS.items():
    _TABLE[_base] = {"GET": partial(_list, _kind)}
    if _kind != "recaps":  # ConnectWise has no /finance/agreementrecap/count
        _TABLE[f"{_base}/count"] = {"GET": partial(_count, _kind)}
    _TABLE[f"{_base}/{_ID}"] = {"GET": partial(_one, _kind)}
_TABLE["company/configurations"]["POST"] = lambda ctx: _created(
    ctx, ctx.tenant.create_configuration(ctx.body))
_TABLE[f"company/configurations/{_ID}"]["PATCH"] = lambda ctx, i: _patched(
    ctx, "configurations", (i,), lambda: ctx.tenant.patch_configuration(i, ctx.body))
_TABLE[f"finance/agreements/{_ID}/additions"]["POST"] = lambda ctx, a: _created(
    ctx, ctx.tenant.create_addition(a, ctx.body))
_TABLE[f"finance/agreements/{_ID}/additions/{_ID}"]["PATCH"] = lambda ctx, a, i: _patched(
    ctx, "additions", (a, i), lambda: ctx.tenant.patch_addition(a, i, ctx.body))
_ROUTES = [(re.compile(pattern, re.IGNORECASE), methods) for pattern, methods in _TABLE.items()]
# What the simulator serves, in the OpenAPI document's spelling ({parentId}, {id}): the
# contract test checks each against ConnectWise's schemas.
SERVED: dict[str, list[str]] = {
    "/" + "/".join("{id}" if s == _ID and i == p.count("/") else "{parentId}" if s == _ID
                   else s for i, s in enumerate(p.split("/"))): sorted(m)
    for p, m in _TABLE.items()}


@cache
def _fields(kind: str) -> dict[str, str]:
    return condition_fields(SCHEMA_OF[kind])


def _route(api_path: str) -> tuple[dict[str, Callable[..., _Reply]], list[int]]:
    """The methods answering `api_path` and its ids, or 404."""
    target = api_path.strip("/")
    for pattern, methods in _ROUTES:
        m = pattern.fullmatch(target)
        if m:
            return methods, [int(g) for g in m.groups()]
    raise RestError(404, "NotFound", f"No such endpoint: {api_path or '/'}.")
