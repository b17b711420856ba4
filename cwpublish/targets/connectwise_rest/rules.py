"""The REST target's pure decisions: which addition bills a period, names and identifiers cut
to ConnectWise's lengths, and whether a record holds what was written. (The deviceIdentifier's
limit is checked with the config, in settings.py.)

Lengths are the public schema's (Company.Configuration: `name` and `deviceIdentifier` at most
100 characters); a longer value is a 400 MaxLengthField.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from cwpublish.domain.period import Period
from cwpublish.targets.connectwise_rest.settings import MAX_DEVICE_ID
from cwpublish.text.redaction import clean_line

MAX_NAME = MAX_DEVICE_ID  # configuration `name`: the same 100 characters
NAME_PREFIX = "rCloud Backup - "
ELLIPSIS = "…"
CENT = Decimal("0.01")
MAX_SHOWN = 60  # characters of a held value shown in a message


def gb(value: object) -> Decimal | None:
    """A quantity ConnectWise holds, to the cent (None when it holds nothing usable)."""
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(CENT)
    except (ArithmeticError, ValueError, TypeError):
        return None


def cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: its start and an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def configuration_name(client: str) -> str:
    """The name a new configuration gets: the prefix and as much of the client's name as
    fits (the record stays recognisable; the deviceIdentifier is what finds it)."""
    return cut(NAME_PREFIX + client, MAX_NAME)


def _day(value: object) -> date | None | bool:
    """The date of an ISO date(-time) string; None when absent, False when unreadable."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return False


def period_days(period: Period) -> tuple[date, date]:
    """The first and last day of the period."""
    first = date(period.year, period.month, 1)
    following = period.next()
    return first, date(following.year, following.month, 1) - timedelta(days=1)


def in_effect(addition: dict, period: Period) -> bool:
    """Whether the addition bills during the period: effective on or before its last day and
    not cancelled before its first day, whatever its status word. A date that cannot be
    read counts as in effect: taking a billing line for gone would create a second one."""
    first, last = period_days(period)
    effective, cancelled = _day(addition.get("effectiveDate")), _day(addition.get("cancelledDate"))
    starts_in_time = effective is None or effective is False or effective <= last
    still_on = cancelled is None or cancelled is False or cancelled >= first
    return starts_in_time and still_on


def starts_later(addition: dict, period: Period) -> bool:
    """Whether the addition is not in effect for the period but bills after it (effective
    after its last day, not cancelled before its first): a line created for the period,
    open-ended, would bill beside it from its start."""
    first, _ = period_days(period)
    cancelled = _day(addition.get("cancelledDate"))
    ended = isinstance(cancelled, date) and cancelled < first
    return not in_effect(addition, period) and not ended


def not_kept(held: dict, expected: dict[str, object]) -> str | None:
    """What `held` (ConnectWise's record) does not hold of `expected`, as "ConnectWise kept
    backupMonth 4 (sent 5)"; None when it holds all. Quantities compare to the cent, strings
    without case."""
    wrong = []
    for name, want in expected.items():
        have = held.get(name)
        if isinstance(want, Decimal):
            same = gb(have) == want
        elif isinstance(want, str):
            same = isinstance(have, str) and have.casefold() == want.casefold()
        else:
            same = type(have) is type(want) and have == want
        if not same:
            shown = "nothing" if have is None else clean_line(repr(have), MAX_SHOWN)
            wrong.append(f"{name} {shown} (sent {want})")
    return "ConnectWise kept " + ", ".join(wrong) if wrong else None
