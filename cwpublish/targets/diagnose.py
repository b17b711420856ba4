"""Why a connection to a ConnectWise site failed, in one line with its fix, and whether to retry.

Each cause has its own words because each has its own fix: a name that does not resolve (the
`site` is mistyped, or DNS is down), a refused port (nothing listens there), a server that does
not speak TLS (`https://` to a plain-HTTP port), a certificate that cannot be verified (a
private CA), a proxy from the environment that cannot be used (not the site's fault: its
port is right). Unresolvable names, refused connections and TLS problems are not retried: waiting
does not change them, and retrying only made `check-config --online` sit silent for 15 s.
"""

from __future__ import annotations

from dataclasses import dataclass

DNS_TEXTS = (
    "Name or service not known",
    "nodename nor servname",
    "Temporary failure in name resolution",
    "No address associated with hostname",
    "getaddrinfo failed",
    "Failed to resolve",
)
NOT_TLS_TEXTS = (
    "WRONG_VERSION_NUMBER",
    "wrong version number",
    "record layer failure",
    "packet length too long",
    "HTTP_REQUEST",
)
VERIFY_TEXTS = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "hostname mismatch")


@dataclass(frozen=True)
class Diagnosis:
    """A transport failure's cause: the one line to show and whether a retry may help."""

    cause: str  # dns | refused | proxy | not-tls | tls-verify | tls | connection
    message: str
    transient: bool


def diagnose(host: str, e: Exception) -> Diagnosis:
    """The Diagnosis of a requests SSLError or ConnectionError raised for `host`."""
    import requests

    text = _chain_text(e)
    if isinstance(e, requests.exceptions.SSLError):
        if any(t in text for t in VERIFY_TEXTS):
            return Diagnosis(
                "tls-verify",
                f"TLS certificate of {host} could not be verified "
                "(for a private CA set connectwise.ca_bundle)",
                False,
            )
        if any(t in text for t in NOT_TLS_TEXTS):
            return Diagnosis(
                "not-tls",
                f"{host} does not speak TLS (https:// to a plain-HTTP port?); check the "
                "scheme and port of connectwise.site",
                False,
            )
        return Diagnosis("tls", f"TLS handshake with {host} failed: {_ssl_reason(text)}", False)
    if isinstance(e, requests.exceptions.ProxyError):  # before the site's own causes
        refused = "Connection refused" in text or _errno_in_chain(e, 111)
        return Diagnosis(
            "proxy",
            f"the proxy in this machine's environment (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) "
            f"{'refused the connection' if refused else 'failed: ' + _reason(text, e)} on "
            f"the way to {host}; check that proxy, or exempt the site with NO_PROXY",
            not refused,
        )
    if _name_unresolved(e, text):
        return Diagnosis(
            "dns",
            f"cannot resolve the host name {host} (DNS); check connectwise.site for a typo, "
            "or this machine's DNS",
            False,
        )
    if "Connection refused" in text or _errno_in_chain(e, 111):
        return Diagnosis(
            "refused",
            f"{host} refused the connection (nothing listens on that port); check the port "
            "in connectwise.site and that the server runs",
            False,
        )
    return Diagnosis("connection", f"cannot connect to {host}: {_reason(text, e)}", True)


def _name_unresolved(e: Exception, text: str) -> bool:
    try:
        from urllib3.exceptions import NameResolutionError
    except ImportError:  # urllib3 1.x has no such class
        NameResolutionError = ()  # type: ignore[assignment,misc]  # noqa: N806
    for link in _chain(e):
        if NameResolutionError and isinstance(link, NameResolutionError):
            return True
        if type(link).__name__ == "gaierror":
            return True
    return any(t in text for t in DNS_TEXTS)


def _errno_in_chain(e: Exception, number: int) -> bool:
    return any(getattr(link, "errno", None) == number for link in _chain(e))


def _chain(e: BaseException) -> list[BaseException]:
    """`e`, its causes and contexts, and the `reason` urllib3 wraps, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [e]
    while todo:
        link = todo.pop()
        if any(link is s for s in seen) or len(seen) > 20:
            continue
        seen.append(link)
        linked = [link.__cause__, link.__context__, getattr(link, "reason", None)]
        linked += list(getattr(link, "args", ()))
        todo += [a for a in linked if isinstance(a, BaseException)]
    return seen


def _chain_text(e: Exception) -> str:
    return " | ".join(str(link) for link in _chain(e))


def _ssl_reason(text: str) -> str:
    """'[SSL: X] y' → 'y' (the library's short reason), else 'unknown reason'."""
    import re

    found = re.search(r"\[SSL: [A-Z_]+\] ([^(\]'\"]+)", text)
    return found.group(1).strip() if found else "unknown reason"


def _reason(text: str, e: Exception) -> str:
    for known in ("Connection reset", "Remote end closed connection", "No route to host",
                  "Network is unreachable", "timed out"):
        if known in text:
            return known.lower()
    return type(e).__name__
