"""What a REST fault rule does to an answer: instead of the site, or after it (see __init__).

Before the site: delay, drop, html, raw/body, cloudflare, http_status, soap_fault. After the
site applied the request: lose_answer (drop the connection), store_then_status (an error
status, the write kept), store_later (a 504 at once, the write applied that many seconds
later), keep_old (a PATCH answered but not kept: see rest_http), bad_id, nest.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
CLOUDFLARE_1015 = "error code: 1015"
BAD_GATEWAY = (b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway"
               b"</h1></body></html>")
AFTER_KEYS = ("lose_answer", "store_then_status", "store_later")  # let the request through


@dataclass
class Reply:
    """One answer: status, body (None: drop the connection without one), type, headers."""

    status: int
    body: bytes | None
    ctype: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), JSON_TYPE,
                 headers or {})


def status_code(status: int) -> str:
    """ConnectWise's `code` for an HTTP status: its phrase without spaces."""
    try:
        return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return "Error"


def _headers(rule: dict) -> dict[str, str]:
    after = rule.get("retry_after")
    return {"Retry-After": str(after)} if after is not None else {}


def _error_reply(rule: dict, status: int) -> Reply:
    if rule.get("html"):
        return Reply(status, BAD_GATEWAY, "text/html", _headers(rule))
    message = rule.get("message") or f"Simulated fault: HTTP {status}."
    return json_reply(status, {"code": status_code(status), "message": message}, _headers(rule))


def before(rule: dict) -> Reply | None:
    """What a fault rule answers instead of the site; None lets the request through."""
    time.sleep(float(rule.get("delay", 0)))
    if any(rule.get(k) for k in AFTER_KEYS):
        return None
    if rule.get("drop"):
        return Reply(0, None)
    if rule.get("cloudflare"):  # Cloudflare's rate limit page: plain text, not JSON
        return Reply(int(rule.get("http_status", 429)), CLOUDFLARE_1015.encode(), TEXT_TYPE,
                     _headers(rule))
    if rule.get("html"):
        return Reply(int(rule.get("http_status", 502)), BAD_GATEWAY, "text/html",
                     _headers(rule))
    raw = rule["raw"] if rule.get("raw") is not None else rule.get("body")
    if raw is not None:
        return Reply(int(rule.get("http_status", 200)), str(raw).encode("utf-8"),
                     rule.get("content_type") or TEXT_TYPE, _headers(rule))
    if rule.get("http_status"):
        return _error_reply(rule, int(rule["http_status"]))
    if rule.get("soap_fault"):
        return json_reply(500, {"code": "InternalServerError", "message": rule["soap_fault"]},
                          _headers(rule))
    return None


def _bad_ids(value: Any, bad: Any) -> Any:
    if isinstance(value, list):
        return [_bad_ids(v, bad) for v in value]
    if isinstance(value, dict) and "id" in value:
        return {**value, "id": f"{value['id']}x" if bad is True else bad}
    return value


def after(rule: dict, reply: Reply) -> Reply:
    """The site's answer, changed by a rule that let the request through."""
    if rule.get("lose_answer"):
        return Reply(0, None)
    if rule.get("store_then_status"):
        return _error_reply(rule, int(rule["store_then_status"]))
    if rule.get("store_later") is not None:
        return _error_reply(rule, int(rule.get("http_status") or 504))
    if reply.status >= 400 or reply.body is None:
        return reply
    if "bad_id" in rule and rule["bad_id"] is not False:
        body = _bad_ids(json.loads(reply.body), rule["bad_id"])
        return json_reply(reply.status, body, reply.headers)
    if rule.get("nest"):
        depth = int(rule["nest"])
        return Reply(reply.status, b"[" * depth + b"]" * depth, JSON_TYPE, reply.headers)
    return reply
