"""HTTP pieces every ConnectWise target shares: a hardened requests session and error mapping.

Every request carries credentials, so: no redirect is ever followed (a redirect is an error
naming where it pointed; following it would hand the credentials to another origin); TLS is
verified (with `ca_bundle` when set, on every request so REQUESTS_CA_BUNDLE cannot override
it); each request has a total deadline, not a per-read one (a server dribbling a byte at a time
cannot hold a publish and its lock); answers are read up to MAX_RESPONSE bytes; and every
failure becomes a ConnectWiseError whose text names the host and never holds a secret.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from cwpublish.config.model import ConnectWise
from cwpublish.errors import ConnectWiseError
from cwpublish.targets.diagnose import diagnose

MAX_RESPONSE = 16 * 2**20  # bytes; a real answer is far smaller
TRANSIENT_HTTP = (429, 502, 503, 504)
HTTP_REASONS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    429: "too many requests",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway time-out",
}


class ResponseTooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit


class Redirected(Exception):
    """The server answered a credentialed request with a redirect; not followed."""

    def __init__(self, status: int, location: str):
        self.status = status
        self.location = location


class DeadlineExceeded(Exception):
    """The whole request took longer than its deadline (however fast each read was)."""


_local = threading.local()


class _Watch:
    """The connection a request in this thread uses, so a timer can cut it at the deadline."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.fired = False
        self.lock = threading.Lock()

    def cut(self) -> None:
        with self.lock:
            self.fired = True
            sock = getattr(self.conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def send(session: Any, method: str, url: str, deadline: float, **kwargs: Any) -> Any:
    """One request, its whole answer read within `deadline` seconds, redirects refused.

    `deadline` bounds connect, headers and body together; the per-read timeout is the same
    number, so a silent server fails as fast as before.
    """
    watch = _Watch()
    _local.watch = watch
    timer = threading.Timer(deadline, watch.cut)
    timer.daemon = True
    timer.start()
    try:
        response = session.request(
            method,
            url,
            timeout=deadline,
            stream=True,
            allow_redirects=False,
            verify=session.verify,
            **kwargs,
        )
        if response.is_redirect or 300 <= response.status_code < 400:
            response.close()
            raise Redirected(response.status_code, response.headers.get("Location") or "nowhere")
        response._content = read_capped(response)
        return response
    except Exception:
        if watch.fired:  # whatever the cut connection raised, the cause is the deadline
            raise DeadlineExceeded() from None
        raise
    finally:
        timer.cancel()
        _local.watch = None


def new_session(cw: ConnectWise):
    """A requests session for one partner's site: TLS verified, our User-Agent, and pools
    whose connections a deadline timer can cut (see send())."""
    import requests
    from requests.adapters import HTTPAdapter

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = _watched_pools()

    session = requests.Session()
    session.verify = cw.ca_bundle or True
    session.headers["User-Agent"] = "cwpublish"
    pool_size = max(10, cw.parallel_requests)
    for scheme in ("http://", "https://"):
        session.mount(scheme, Adapter(pool_connections=pool_size, pool_maxsize=pool_size))
    return session


def _watched_pools() -> dict:
    """urllib3 pools that tell the current request's _Watch which connection it got."""
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def watched(base: type) -> type:
        class Pool(base):  # type: ignore[misc,valid-type]
            def _get_conn(self, timeout: float | None = None) -> Any:
                conn = super()._get_conn(timeout)
                watch = getattr(_local, "watch", None)
                if watch is not None:
                    with watch.lock:
                        watch.conn = conn
                return conn

        return Pool

    return {"http": watched(HTTPConnectionPool), "https": watched(HTTPSConnectionPool)}


def read_capped(response: Any) -> bytes:
    """The body of a streamed response, refusing more than MAX_RESPONSE bytes."""
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE:
            response.close()
            raise ResponseTooLarge(MAX_RESPONSE)
    return bytes(body)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at 10 min."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, 600.0))


def transport_error(operation: str, host: str, timeout: float, e: Exception) -> ConnectWiseError:
    """The ConnectWiseError for a requests exception or ResponseTooLarge."""
    import requests

    if isinstance(e, Redirected):
        return ConnectWiseError(
            operation,
            f"{host} answered HTTP {e.status}, a redirect to {e.location}; not followed (it "
            "would send the credentials elsewhere): correct the site",
            kind="http",
            http_status=e.status,
        )
    if isinstance(e, DeadlineExceeded):
        return ConnectWiseError(
            operation,
            f"{host} did not answer completely within {timeout:g}s",
            transient=True,
        )
    if isinstance(e, ResponseTooLarge):
        return ConnectWiseError(
            operation,
            f"{host} answered with more than {e.limit // 2**20} MiB; refused",
            kind="response",
        )
    if isinstance(e, requests.exceptions.SSLError):
        return _diagnosed(operation, host, e)
    if isinstance(e, requests.exceptions.Timeout):
        return ConnectWiseError(
            operation, f"{host} did not answer within {timeout:g}s", transient=True
        )
    if isinstance(e, requests.exceptions.ConnectionError):
        return _diagnosed(operation, host, e)
    return ConnectWiseError(operation, f"request to {host} failed ({type(e).__name__})")


def http_error(
    operation: str,
    host: str,
    status: int,
    note: str = "",
    after: float | None = None,
    what: str | None = None,
) -> ConnectWiseError:
    """The ConnectWiseError for an HTTP error status (transient for 429/502/503/504)."""
    what = what or HTTP_REASONS.get(status, "error")
    return ConnectWiseError(
        operation,
        f"HTTP {status} {what} from {host}{note}",
        kind="http",
        http_status=status,
        transient=status in TRANSIENT_HTTP,
        retry_after=after,
    )


def _diagnosed(operation: str, host: str, e: Exception) -> ConnectWiseError:
    """The ConnectWiseError for a connection that failed: its cause in one line (DNS,
    refused, not TLS, TLS verification...), retried only when waiting may help."""
    found = diagnose(host, e)
    return ConnectWiseError(operation, found.message, transient=found.transient)
