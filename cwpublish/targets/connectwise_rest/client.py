"""HTTP for the ConnectWise REST API v3.0: codebase discovery, auth headers, paging, errors.

Basic auth with the API member's keys, the integration's clientId and a pinned Accept version
go on every call. Every request to a site waits its turn on that site's pacer (pacing.py): a 429
or a Retry-After slows every request to the site to the rate it serves and pauses them for the
Retry-After, not only the refused one; 429/5xx and connection failures are retried within the
time budget; 401/403 mean the keys, role or clientId are wrong; 400/404/409 are ConnectWise
refusing one record (RestRejected, with ConnectWise's own message). Every wait honours the
time budget and Ctrl-C/SIGTERM. A create (POST) is never repeated blind: only when it surely
was not stored (429, no connection made); otherwise it is OutcomeUnknown and the caller reads
first. Answers are checked for shape (answers.py): anything else is a ConnectWiseError
"response".
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote, urlsplit

from cwpublish import interrupt
from cwpublish.config.model import ConnectWise
from cwpublish.errors import ConnectWiseError
from cwpublish.targets import pacing
from cwpublish.targets.connectwise_rest.answers import parse_json, plain_text, records
from cwpublish.targets.http import (
    DeadlineExceeded,
    Redirected,
    ResponseTooLarge,
    http_error,
    new_session,
    retry_after,
    send,
    transport_error,
)
from cwpublish.targets.retry import with_retries, within_budget
from cwpublish.text.redaction import clean_line, register

PAGE_SIZE = 1000  # ConnectWise's maximum
MAX_PAGES = 200  # 200,000 objects for one look-up: past that the server is not paging
MAX_ERROR_TEXT = 300


class RestRejected(Exception):
    """ConnectWise refused one request (400/404/409): that record fails, the run goes on."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class OutcomeUnknown(ConnectWiseError):
    """A create whose answer never came whole (time-out, connection lost, 5xx, an answer of
    the wrong shape): ConnectWise may have stored it, so it must be read before sent again."""

    def __init__(self, cause: ConnectWiseError):
        super().__init__(
            cause.operation, cause.message, kind=cause.kind, http_status=cause.http_status
        )

    def after(self, attempts: int) -> ConnectWiseError:
        return self if attempts == 1 else OutcomeUnknown(super().after(attempts))


def quoted(value: str) -> str:
    """A string literal in ConnectWise's conditions syntax."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RestClient:
    """One partner's ConnectWise over REST, authenticated as its API member."""

    def __init__(self, cw: ConnectWise, private_key: str):
        import base64

        self.cw = cw
        self.rest = cw.settings
        parts = urlsplit(cw.site)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.hostname or parts.netloc
        token = base64.b64encode(
            f"{cw.company_id}+{self.rest.public_key}:{private_key}".encode()
        ).decode()
        register(token)  # the header's value is masked wherever an echo of it might appear
        self._secret = private_key
        self.headers = {
            "Authorization": f"Basic {token}",
            "clientId": self.rest.client_id,
            "Accept": f"application/vnd.connectwise.com+json; version={self.rest.api_version}",
        }
        self.session = new_session(cw)
        self.gate = pacing.for_site(self.origin, self.rest.max_requests_per_second)
        self.base: str | None = None

    def close(self) -> None:
        self.session.close()

    def discover(self) -> str:
        """GET /login/companyinfo/{company_id}: the codebase, hence the API's base URL."""
        url = f"{self.origin}/login/companyinfo/{quote(self.cw.company_id, safe='')}"
        info = self._call("companyinfo", "GET", url, auth=False)
        codebase = info.get("Codebase") if isinstance(info, dict) else None
        if not isinstance(codebase, str) or not codebase.strip("/"):
            raise ConnectWiseError(
                "companyinfo",
                f"{self.host} does not know the company ID {self.cw.company_id!r} "
                "(no codebase in /login/companyinfo)",
                kind="auth",
                http_status=404,
            )
        self.base = f"{self.origin}/{codebase.strip('/')}/apis/3.0"
        return self.base

    def get(self, path: str, **params: Any) -> Any:
        return self._call(f"GET {path}", "GET", self._url(path), params=params)

    def pages(self, path: str, conditions: str, fields: str) -> list[dict]:
        """Every object matching `conditions` (all when empty), PAGE_SIZE at a time; each a
        JSON object with a numeric id. A server that repeats a page (it ignores `page`) or
        pages past MAX_PAGES is stopped with an error, as is a signal between pages."""
        operation = f"GET {path}"
        found: list[dict] = []
        seen: set[int] = set()
        query = {"conditions": conditions} if conditions else {}
        for page in range(1, MAX_PAGES + 1):
            if interrupt.requested():
                raise ConnectWiseError(operation, f"{interrupt.reason()} while reading pages")
            batch = records(operation, self.host, self.get(
                path, **query, fields=fields, page=page, pageSize=PAGE_SIZE
            ))
            fresh = [o for o in batch if o["id"] not in seen]
            if batch and not fresh:
                raise ConnectWiseError(
                    operation,
                    f"{self.host} answered page {page} with the objects of an earlier page "
                    "(it ignores `page`); stopped",
                    kind="response",
                )
            seen.update(o["id"] for o in fresh)
            found += fresh
            if len(batch) < PAGE_SIZE:
                return found
        raise ConnectWiseError(
            operation,
            f"{self.host} had more than {MAX_PAGES} pages of {PAGE_SIZE}; stopped",
            kind="response",
        )

    def create(self, path: str, body: dict, started: float | None = None) -> dict:
        """POST a new record; its answer, a JSON object with a numeric id. Retried only when
        it surely was not stored (429, no connection made), within the budget counted from
        `started`; otherwise OutcomeUnknown (create.py reads before sending it again)."""
        operation, url = f"POST {path}", self._url(path)
        started = time.monotonic() if started is None else started

        def once() -> dict:
            answer = self._once(operation, "POST", url, True, started, json=body)
            try:
                return records(operation, self.host, [answer])[0]
            except ConnectWiseError as e:
                raise OutcomeUnknown(e) from None

        return with_retries(self.cw, once, started)

    def patch(self, path: str, ops: list[dict]) -> Any:
        return self._call(f"PATCH {path}", "PATCH", self._url(path), json=ops)

    def _url(self, path: str) -> str:
        if self.base is None:
            self.discover()
        return f"{self.base}{path}"

    def _call(self, operation: str, method: str, url: str, auth: bool = True, **kw: Any) -> Any:
        started = time.monotonic()
        return with_retries(
            self.cw, lambda: self._once(operation, method, url, auth, started, **kw), started
        )

    def _once(
        self, operation: str, method: str, url: str, auth: bool, started: float, **kw: Any
    ) -> Any:
        """One request. A POST that may have been stored fails as OutcomeUnknown."""
        try:
            return self._request(operation, method, url, auth, started, **kw)
        except ConnectWiseError as e:
            if method == "POST" and e.http_status != 429 and (
                e.transient or e.kind == "response"
            ) and not getattr(e, "unsent", False):
                raise OutcomeUnknown(e) from None
            raise

    def _request(
        self, operation: str, method: str, url: str, auth: bool, started: float, **kw: Any
    ) -> Any:
        import requests

        left = self.gate.wait(started + self.cw.retry_max_seconds)
        if left:
            raise self._gate_closed(operation, left)
        headers = dict(self.headers) if auth else {"Accept": "application/json"}
        sent = time.monotonic()
        try:
            response = send(self.session, method, url, self.cw.timeout, headers=headers, **kw)
        except (
            requests.exceptions.RequestException, ResponseTooLarge, Redirected, DeadlineExceeded
        ) as e:
            error = transport_error(operation, self.host, self.cw.timeout, e)
            error.unsent = _never_connected(e)  # type: ignore[attr-defined]
            raise error from None
        status = response.status_code
        after = retry_after(response.headers.get("Retry-After"))
        saturated = status == 429 or (status >= 500 and after is not None)
        self.gate.answered(sent, saturated, after if saturated else None, self.cw.retry_backoff)
        if 200 <= status < 300:
            return self._json(operation, response)
        detail = self._error_text(response)
        if status in (400, 404, 409) and method in ("POST", "PATCH"):
            raise RestRejected(status, detail or f"HTTP {status}")  # this record only
        error = http_error(operation, self.host, status, f": {detail}" if detail else "", after)
        if status == 429 and self.gate.learn and (
            after is None or within_budget(self.cw, started, after)
        ):
            error.retry_after = 0.0  # its retry waits its turn on the pacer, like the others
        if status in (401, 403):
            error.kind = "auth"
        elif status >= 500:
            error.transient = True
        raise error

    def _gate_closed(self, operation: str, left: float) -> ConnectWiseError:
        if interrupt.requested():
            return ConnectWiseError(
                operation, f"{interrupt.reason()} while {self.host} asked to wait (Retry-After)"
            )
        if self.gate.paused() or not self.gate.rate:
            why = f"{self.host} asked every request to wait {left:.0f}s more (Retry-After)"
        else:  # the pace alone: a low max_requests_per_second, or a rate learnt from 429s
            source = ("connectwise.max_requests_per_second" if self.gate.rate == self.gate.ceiling
                      else "learnt from its 429s")
            why = (f"requests to {self.host} go at {self.gate.rate:.3g} a second ({source}), "
                   f"so this one's turn is {left:.0f}s away")
        return ConnectWiseError(
            operation,
            f"{why}, past the time budget "
            f"(connectwise.retry_max_seconds: {self.cw.retry_max_seconds:g})",
            kind="http",
            http_status=429,
        )

    def _json(self, operation: str, response: Any) -> Any:
        if not response.content.strip():
            return None
        if "json" not in response.headers.get("Content-Type", "").lower():
            raise ConnectWiseError(
                operation,
                f"{self.host} answered {response.status_code} with "
                f"{response.headers.get('Content-Type') or 'no content type'}, not JSON "
                "(a proxy or login page?)",
                kind="response",
            )
        return parse_json(operation, self.host, response.content)

    def _error_text(self, response: Any) -> str:
        """ConnectWise's own message (and field errors) from a JSON error body, one line;
        the start of a plain-text body (a proxy's, e.g. Cloudflare's `error code: 1015`)."""
        try:
            body = parse_json("", self.host, response.content)
        except ConnectWiseError:
            return clean_line(plain_text(response), MAX_ERROR_TEXT, self._secret)
        if not isinstance(body, dict):
            return ""
        parts = [str(body.get("message") or body.get("code") or "")]
        for e in body.get("errors") or []:
            if isinstance(e, dict):
                field = f"{e.get('field')}: " if e.get("field") else ""
                parts.append(f"{field}{e.get('message') or e.get('code') or ''}")
        text = "; ".join(p for p in parts if p)
        return clean_line(text, MAX_ERROR_TEXT, self._secret)


def _never_connected(e: Exception) -> bool:
    """Whether the request failed before a connection was made (so it surely was not
    stored): refused, unresolvable or timed out while connecting."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError

    if isinstance(e, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(e.args[0], "reason", None) if e.args else None
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError is one too
