"""HTTP for the ConnectWise REST API v3.0: codebase discovery, auth headers, paging, errors.

Basic auth with the API member's keys, the integration's clientId and a pinned Accept version
go on every call. A 429 pauses every request to the site for its Retry-After (a shared gate),
not only the refused one; 429/5xx and connection failures are retried within the time budget;
401/403 mean the keys, role or clientId are wrong; 400/404/409 are ConnectWise refusing one
record (RestRejected, with ConnectWise's own message).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

from cwpublish.config import ConnectWise
from cwpublish.errors import ConnectWiseError
from cwpublish.redaction import clean_line, register
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
from cwpublish.targets.retry import with_retries

PAGE_SIZE = 1000  # ConnectWise's maximum
MAX_ERROR_TEXT = 300


class RestRejected(Exception):
    """ConnectWise refused one request (400/404/409): that record fails, the run goes on."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Gate:
    """A pause shared by every request to one site: a 429's Retry-After holds them all."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        while True:
            with self._lock:
                left = self._until - time.monotonic()
            if left <= 0:
                return
            time.sleep(left)


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
        self.gate = Gate()
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
        """Every object matching `conditions`, PAGE_SIZE at a time."""
        found: list[dict] = []
        page = 1
        while True:
            batch = self.get(
                path, conditions=conditions, fields=fields, page=page, pageSize=PAGE_SIZE
            )
            if not isinstance(batch, list):
                raise ConnectWiseError(
                    f"GET {path}", f"{self.host} answered a list with something else",
                    kind="response",
                )
            found += [o for o in batch if isinstance(o, dict)]
            if len(batch) < PAGE_SIZE:
                return found
            page += 1

    def post(self, path: str, body: dict) -> Any:
        return self._call(f"POST {path}", "POST", self._url(path), json=body)

    def patch(self, path: str, ops: list[dict]) -> Any:
        return self._call(f"PATCH {path}", "PATCH", self._url(path), json=ops)

    def _url(self, path: str) -> str:
        if self.base is None:
            self.discover()
        return f"{self.base}{path}"

    def _call(self, operation: str, method: str, url: str, auth: bool = True, **kw: Any) -> Any:
        return with_retries(self.cw, lambda: self._once(operation, method, url, auth, **kw))

    def _once(self, operation: str, method: str, url: str, auth: bool, **kw: Any) -> Any:
        import requests

        self.gate.wait()
        headers = dict(self.headers) if auth else {"Accept": "application/json"}
        try:
            response = send(self.session, method, url, self.cw.timeout, headers=headers, **kw)
        except (
            requests.exceptions.RequestException, ResponseTooLarge, Redirected, DeadlineExceeded
        ) as e:
            raise transport_error(operation, self.host, self.cw.timeout, e) from None
        status = response.status_code
        if 200 <= status < 300:
            return self._json(operation, response)
        after = retry_after(response.headers.get("Retry-After"))
        if status == 429:
            self.gate.pause(after if after is not None else self.cw.retry_backoff)
        detail = self._error_text(response)
        if status in (400, 404, 409) and method in ("POST", "PATCH"):
            raise RestRejected(status, detail or f"HTTP {status}")  # this record only
        error = http_error(operation, self.host, status, f": {detail}" if detail else "", after)
        if status in (401, 403):
            error.kind = "auth"
        elif status >= 500:
            error.transient = True
        raise error

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
        try:
            return response.json()
        except ValueError:
            raise ConnectWiseError(
                operation, f"{self.host} answered with invalid JSON", kind="response"
            ) from None

    def _error_text(self, response: Any) -> str:
        """ConnectWise's own message (and field errors) from a JSON error body, one line."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        parts = [str(body.get("message") or body.get("code") or "")]
        for e in body.get("errors") or []:
            if isinstance(e, dict):
                field = f"{e.get('field')}: " if e.get("field") else ""
                parts.append(f"{field}{e.get('message') or e.get('code') or ''}")
        text = "; ".join(p for p in parts if p)
        return clean_line(text, MAX_ERROR_TEXT, self._secret)
