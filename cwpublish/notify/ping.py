"""Dead-man's switch pings (healthchecks.io style): `/start`, success, `/fail`.

A monitor that expects a ping every night notices a cron job that silently stopped running.
A failed ping is logged as a warning and never changes the publish result.
"""

from __future__ import annotations

from cwpublish import log

PING_TIMEOUT = 10


def ping(url: str | None, event: str = "") -> bool:
    """Request `url` (event "" = success), `url/start` or `url/fail`; False if it failed."""
    if not url:
        return True
    from urllib.error import URLError
    from urllib.request import Request, urlopen

    target = url.rstrip("/") + (f"/{event}" if event else "")
    try:
        req = Request(target, headers={"User-Agent": "cwpublish"})
        with urlopen(req, timeout=PING_TIMEOUT) as resp:  # noqa: S310 - configured http(s) URL
            resp.read(1024)
        return True
    except (URLError, OSError, ValueError) as e:
        log.warning(
            "ping %s failed (%s); the publish result is unaffected", target, getattr(e, "reason", e)
        )
        return False
