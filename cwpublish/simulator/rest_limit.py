"""A rate limit like Cloudflare's in front of a tenant's REST API: at most N requests served
per rolling second; the rest answered 429 `error code: 1015` (plain text), with a Retry-After
when one is configured. Set by the tenant's `rest: {rate_limit: {requests_per_second: N,
retry_after: S}}` or POST /_sim/rate_limit (see __init__)."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import deque
from typing import Any

from cwpublish.simulator.rest_faults import CLOUDFLARE_1015, TEXT_TYPE, Reply

WINDOW = 1.0  # seconds: the rolling window counted


class Limit:
    """One tenant's limit: the send times served in the last WINDOW."""

    def __init__(self, per_second: int, retry_after: float | None = None):
        self.per_second, self.retry_after = per_second, retry_after
        self.served: deque[float] = deque()


class RateLimits:
    """Every tenant's limit (by company id, lower-cased); thread-safe."""

    def __init__(self, tenants: Any):
        self._lock = threading.Lock()
        self.limits: dict[str, Limit] = {}
        for t in tenants:
            spec = (t.get("rest") or {}).get("rate_limit")
            if spec:
                self.set(str(t["company_id"]), spec)

    def set(self, company_id: str, spec: dict | None) -> None:
        """Limit (or with no requests_per_second, free) one tenant."""
        with self._lock:
            per_second = (spec or {}).get("requests_per_second")
            if not per_second:
                self.limits.pop(company_id.lower(), None)
                return
            if type(per_second) is not int or per_second < 1:
                raise ValueError("requests_per_second must be a positive integer")
            after = spec.get("retry_after") if spec else None
            self.limits[company_id.lower()] = Limit(per_second, after)

    def refuse(self, company_id: str | None) -> Reply | None:
        """Cloudflare's 429 if the tenant served its limit in the last second; else None
        (and this request counts)."""
        if not company_id or not self.limits:
            return None
        with self._lock:
            limit = self.limits.get(company_id.lower())
            if limit is None:
                return None
            now = time.monotonic()
            while limit.served and limit.served[0] <= now - WINDOW:
                limit.served.popleft()
            if len(limit.served) < limit.per_second:
                limit.served.append(now)
                return None
            headers = {} if limit.retry_after is None else {"Retry-After": str(limit.retry_after)}
            return Reply(429, CLOUDFLARE_1015.encode(), TEXT_TYPE, headers)


def company_of(path: str, authorization: str | None, companyinfo: str) -> str | None:
    """Which tenant a request is for: the company in /login/companyinfo/{id}, else the
    Basic user's `{companyId}+`."""
    if path.lower().startswith(companyinfo):
        return path[len(companyinfo):].strip("/") or None
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user.partition("+")[0] or None
