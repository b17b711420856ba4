"""The sections of the configuration that stand alone (smtp, a site URL, schedule, usage,
managers), validated with their paths; Validator (validation.py) builds the whole from them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from cwpublish.config.clients import ClientReader
from cwpublish.config.fields import join, kind, placeholder_problem
from cwpublish.config.model import (
    SMTP_DEFAULT_PORTS,
    Smtp,
    UsageSource,
    default,
    keys_of,
)
from cwpublish.domain.schedule import Schedule

# `usage:` is the one section whose keys are not its fields: each names UsageSource.kind
USAGE_KINDS = ("csv", "json", "command")
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
# the keys of each section (its dataclass's fields), computed once, not once per partner
_SMTP_KEYS = keys_of(Smtp)
_SCHEDULE_KEYS = keys_of(Schedule)
_USAGE_KEYS = frozenset(USAGE_KINDS)


class SectionReader(ClientReader):
    """Reads one section into its frozen dataclass; problems go to self.problems."""

    def smtp(self, raw: Any) -> Smtp | None:
        where = "smtp"
        m = self.mapping(
            raw,
            where,
            _SMTP_KEYS,
            ("host", "sender"),
        )
        security = self.choice(
            m, "security", where, ("starttls", "ssl", "none"), default(Smtp, "security")
        )
        port = self.integer(m, "port", where, SMTP_DEFAULT_PORTS[security], 1, 65535)
        sender = self.string(m, "sender", where)
        if sender and "@" not in sender:
            self.fail(join(where, "sender"), f"must be an email address, got {sender!r}")
        host = self.string(m, "host", where)
        username = self.string(m, "username", where)
        if security == "none" and username and host and not _is_loopback(host):
            self.fail(
                join(where, "security"),
                f"none would send the SMTP password of {username!r} to {host!r} in clear; "
                "use starttls or ssl (none with a username is only for a loopback host)",
            )
        if not host or not sender:
            return None
        return Smtp(
            host=host,
            sender=sender,
            port=port or SMTP_DEFAULT_PORTS[security],
            security=security,
            username=username,
            timeout=self.number(m, "timeout", where, default(Smtp, "timeout")),
            ca_bundle=self.file(m, "ca_bundle", where),
        )

    def site(self, site: str, where: str, insecure: bool, secret: str = "password") -> str:
        try:
            parts = urlsplit(site)
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            self.fail(where, f"must be a URL such as https://cw.example.com, got {site!r}")
            return site
        if parts.scheme not in ("https", "http") or not parts.hostname:
            self.fail(where, f"must be a URL such as https://cw.example.com, got {site!r}")
        elif parts.username or parts.password:
            self.fail(where, "must not hold a user name or password (secrets go in the keyring)")
        elif parts.path.strip("/") or parts.query or parts.fragment:
            bare = f"{parts.scheme}://{parts.netloc}"
            self.fail(
                where,
                f"the site only, without a path: use {bare!r} (cwpublish adds the API's path; "
                f"a pasted API URL would double it)",
            )
        elif parts.scheme == "http":
            if not insecure:
                self.fail(
                    where,
                    f"http:// would send the {secret} in clear; use "
                    "https:// (allow_insecure_http: true is only for a simulator "
                    "on loopback)",
                )
            elif not _is_loopback(parts.hostname):
                self.fail(
                    where,
                    "allow_insecure_http is only allowed for a loopback host "
                    f"(localhost, 127.0.0.1, ::1), got {parts.hostname!r}",
                )
        return site.rstrip("/")

    def schedule(self, raw: Any, where: str) -> Schedule | None:
        m = self.mapping(
            raw, where, _SCHEDULE_KEYS, ("day",)
        )
        day = self.integer(m, "day", where, None, 1, 31)
        tz = self.string(m, "timezone", where)
        if tz and not _valid_timezone(tz):
            self.fail(
                join(where, "timezone"),
                f"unknown time zone {tz!r} (use an IANA name such as America/New_York)",
            )
        catch_up = self.integer(
            m, "catch_up_days", where, default(Schedule, "catch_up_days"), 0, 27
        )
        ping_url = self.string(m, "ping_url", where)
        if ping_url and urlsplit(ping_url).scheme not in ("http", "https"):
            self.fail(join(where, "ping_url"), f"must be an http(s) URL, got {ping_url!r}")
        period = self.choice(
            m, "period", where, ("current", "previous"), default(Schedule, "period")
        )
        if day and day > 28:  # said here only: check-config shows the config's warnings
            from calendar import monthrange  # only for this warning: not on every night

            short = sum(1 for m in range(1, 13) if monthrange(2025, m)[1] < day)
            self.warnings.append(
                f"{where}.day: {day} does not exist in every month ({short} month(s) of a "
                "common year); months without that day are not published automatically"
            )
        if day is None:
            return None
        return Schedule(
            day=day, timezone=tz, catch_up_days=catch_up or 0, ping_url=ping_url, period=period
        )

    def usage(self, raw: Any, where: str) -> UsageSource | None:
        m = self.mapping(raw, where, _USAGE_KEYS)
        kinds = [k for k in USAGE_KINDS if m.get(k) is not None]
        if len(kinds) != 1:
            self.fail(where, "give exactly one of csv, json or command")
            return None
        kind = kinds[0]
        location = self.string(m, kind, where)
        if not location:
            return None
        problem = placeholder_problem(location)
        if problem:
            self.fail(
                join(where, kind),
                f"bad placeholder ({problem}); use {{year}} and {{month}} or {{month:02d}}",
            )
            return None
        return UsageSource(kind=kind, location=location, base_dir=self.base_dir)

    def managers(self, raw: Any, where: str) -> tuple[str, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.fail(where, f"must be a list of email addresses, got {kind(raw)}")
            return ()
        for i, item in enumerate(raw):
            if not isinstance(item, str) or not _EMAIL_RE.match(item.strip()):
                self.fail(f"{where}[{i}]", f"must be an email address, got {item!r}")
        return tuple(str(x).strip() for x in raw)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
