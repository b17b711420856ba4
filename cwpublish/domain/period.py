"""The billing period (a calendar month) that a publish is for."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A calendar month; `str()` gives YYYY-MM, the form used in history, output and email."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __lt__(self, other: Period) -> bool:
        return (self.year, self.month) < (other.year, other.month)

    def __gt__(self, other: Period) -> bool:
        return (self.year, self.month) > (other.year, other.month)

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse YYYY-MM; ValueError with a readable message otherwise."""
        m = _PERIOD_RE.match(text.strip())
        if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
            raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    def previous(self) -> Period:
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    def next(self) -> Period:
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)


def local_zone() -> tzinfo:
    """The machine's time zone, as an IANA zone when it can be found (so DST is right)."""
    from zoneinfo import ZoneInfo

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ValueError, OSError, KeyError):
                continue
    return datetime.now().astimezone().tzinfo or UTC


def zone(name: str | None) -> tzinfo:
    """The named IANA zone, or the machine's zone for None."""
    if not name:
        return local_zone()
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def default_period(today: date, previous: bool) -> Period:
    """The period a publish without --month is for: this month, or last month in arrears."""
    current = Period.of(today)
    return current.previous() if previous else current
