"""HTTP pieces every ConnectWise target shares: a hardened requests session and error mapping.

TLS is verified (with `ca_bundle` when set, on every request so REQUESTS_CA_BUNDLE cannot
override it), answers are read up to MAX_RESPONSE bytes, and every requests failure becomes a
ConnectWiseError whose text names the host and never holds a secret.
"""

from __future__ import annotations

from typing import Any

from cwpublish.config import ConnectWise
from cwpublish.errors import ConnectWiseError

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


def new_session(cw: ConnectWise):
    """A requests session for one partner's site: TLS verified, our User-Agent."""
    import requests

    session = requests.Session()
    session.verify = cw.ca_bundle or True
    session.headers["User-Agent"] = "cwpublish"
    return session


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

    if isinstance(e, ResponseTooLarge):
        return ConnectWiseError(
            operation,
            f"{host} answered with more than {e.limit // 2**20} MiB; refused",
            kind="response",
        )
    if isinstance(e, requests.exceptions.SSLError):
        return ConnectWiseError(
            operation,
            f"TLS certificate of {host} could not be verified "
            "(for a private CA set connectwise.ca_bundle)",
        )
    if isinstance(e, requests.exceptions.Timeout):
        return ConnectWiseError(
            operation, f"{host} did not answer within {timeout:g}s", transient=True
        )
    if isinstance(e, requests.exceptions.ConnectionError):
        return ConnectWiseError(
            operation, f"cannot connect to {host}: {_reason(e)}", transient=True
        )
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


def _reason(e: Exception) -> str:
    text = str(e)
    for known in (
        "Connection refused",
        "Name or service not known",
        "Connection reset",
        "Remote end closed connection",
        "No route to host",
        "timed out",
    ):
        if known in text:
            return known.lower()
    return type(e).__name__
