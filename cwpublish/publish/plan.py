"""Planning a publish: which partners, periods and clients, and each client's usage record.

Planning touches no network and holds no secret (it only proves the secret is stored), so the
CLI can show the plan and ask before anything is sent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from cwpublish import log
from cwpublish.config import credentials
from cwpublish.config.model import Client, Config, Partner
from cwpublish.domain.period import Period, default_period, zone
from cwpublish.domain.record import (
    NO_USAGE,
    NOT_SENT,
    NOT_SENT_TEXT,
    ClientResult,
    UsageRecord,
    unmapped_names,
)
from cwpublish.errors import EXIT_USAGE, CwpublishError, InputError
from cwpublish.publish.usage import describe_source, read_usage
from cwpublish.state.ledger import LEDGER_PERIODS

MAX_BACKFILL_MONTHS = LEDGER_PERIODS  # the ledger keeps every month a publish may write
_FURTHEST_AHEAD = timezone(timedelta(hours=14))  # Line Islands: the first to reach a new month


@dataclass
class Plan:
    """What one publish of one partner's period will send, before anything is sent."""

    partner: Partner
    period: Period
    mode: str  # manual | automatic
    initiated_by: str
    started_at: str
    to_send: list[UsageRecord] = field(default_factory=list)
    failed: list[ClientResult] = field(default_factory=list)
    skipped: list[ClientResult] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)
    usage_source: str | None = None
    error: str | None = None  # the publish cannot start (usage unreadable, no secret)
    error_exit: int = EXIT_USAGE
    usage_rows: dict | None = None  # every row of the period's usage (summing.py reads it)
    context: list = field(default_factory=list)  # summing.OtherClient: the rest of the partner
    notes: list[str] = field(default_factory=list)  # shown with the plan, kept as warnings
    invoices: list = field(default_factory=list)  # invoicing.AgreementInvoices, when read
    allow_invoiced: bool = False  # publish even after an invoice missed it (asked, --force)
    # usage unreadable: no client rows to show (one error says what to fix), but the entry
    # still records the selected clients as not sent, so `--retry ID` knows whom to retry
    unread: list[ClientResult] = field(default_factory=list)


def default_initiated_by() -> str:
    """$CWPUBLISH_INITIATED_BY, else user@host."""
    import getpass
    import os
    import socket

    if os.environ.get("CWPUBLISH_INITIATED_BY"):
        return os.environ["CWPUBLISH_INITIATED_BY"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def pick_partners(config: Config, names: Iterable[str]) -> list[Partner]:
    """The --partner ones (InputError for an unknown name), or all."""
    names = tuple(names)
    if not names:
        return list(config.partners)
    known = {p.name for p in config.partners}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"--partner: unknown partner {', '.join(map(repr, unknown))} "
            f"(configured: {', '.join(sorted(known))})"
        )
    return [p for p in config.partners if p.name in names]


def partner_period(partner: Partner, now: datetime | None = None) -> Period:
    """The period a publish without --month is for, in the partner's time zone."""
    tz = zone(partner.timezone)
    today = (now or datetime.now(tz)).astimezone(tz).date()
    previous = bool(partner.schedule and partner.schedule.period == "previous")
    return default_period(today, previous)


def partner_month(partner: Partner, now: datetime | None = None) -> Period:
    """The calendar month it is now for the partner, in its time zone (None: the machine's)."""
    tz = zone(partner.timezone)
    return Period.of((now or datetime.now(tz)).astimezone(tz).date())


class Periods(list):
    """What resolve_periods returns: the periods, oldest first ([None]: each partner's default),
    with the options that named the first and last month (for messages) and whether the end
    was left open (--from without --to: up to each partner's own current month)."""

    first_option: str = "--month"
    last_option: str = "--month"
    open_end: bool = False


def resolve_periods(
    month: str | None, first: str | None, last: str | None, now: datetime | None = None
) -> Periods:
    """The periods of --month or --from/--to, parsed; nothing is judged against a partner yet.

    "The future" depends on the partner's time zone, so it is checked per partner
    (check_not_future, in plan_manual and the report); here only a month that is in the future
    everywhere on Earth is refused, and an open end (--from alone) reaches the newest month any
    zone is in, which plan_manual trims per partner.
    """
    latest = Period.of((now or datetime.now(UTC)).astimezone(_FURTHEST_AHEAD).date())

    def parse(option: str, text: str) -> Period:
        try:
            period = Period.parse(text)
        except ValueError as e:
            raise InputError(f"{option}: {e}") from None
        if period > latest:
            raise InputError(f"{option}: {period} is in the future")
        return period

    if month and (first or last):
        raise InputError("--month cannot be combined with --from/--to")
    if month:
        return Periods([parse("--month", month)])
    if last and not first:
        raise InputError("--to needs --from (the first month of the backfill)")
    if not first:
        return Periods([None])
    start, end = parse("--from", first), parse("--to", last) if last else latest
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    periods = Periods([start])
    periods.first_option, periods.last_option = "--from", "--to" if last else "--from"
    periods.open_end = not last
    while periods[-1] < end:
        periods.append(periods[-1].next())
    if len(periods) > MAX_BACKFILL_MONTHS:
        raise InputError(
            f"--from/--to: {len(periods)} months; at most {MAX_BACKFILL_MONTHS} at once"
        )
    return periods


def check_not_future(
    partner: Partner, period: Period, option: str, now: datetime | None = None
) -> None:
    """InputError if `period` is after the partner's current month in its time zone.

    A month in the future is refused: its usage is not final and it would bill ahead. The
    partner's zone decides, not the machine's: at 13:00 UTC on 30 April it is already May in
    Auckland but still April in London.
    """
    current = partner_month(partner, now)
    if period > current:
        where = partner.timezone or "the machine's time zone"
        raise InputError(
            f"{option}: {period} is in the future for partner {partner.name} "
            f"(it is {current} in {where})"
        )


def check_not_too_old(
    partner: Partner, period: Period, option: str, now: datetime | None = None
) -> None:
    """InputError if `period` is older than the ledger keeps for the partner: the duplicate
    and newer-month guards could not see it, so it could be published twice unnoticed."""
    oldest = oldest_publishable(partner_month(partner, now))
    if period < oldest:
        raise InputError(
            f"{option}: {period} is more than {LEDGER_PERIODS} months ago for partner "
            f"{partner.name}; the oldest month it can publish is {oldest} (the ledger keeps "
            f"{LEDGER_PERIODS} months, so an older one could be published twice unnoticed)"
        )


def oldest_publishable(current: Period) -> Period:
    """The oldest month a publish may write: the ledger keeps every one from it to `current`."""
    index = current.year * 12 + current.month - 1 - (LEDGER_PERIODS - 1)
    return Period(index // 12, index % 12 + 1)


def select_clients(partner: Partner, wanted: Iterable[str]) -> list[Client]:
    """`--client` names or Managed IDs matched in this partner; all `publish: true` if none."""
    wanted = list(wanted)
    if not wanted:
        return [c for c in partner.clients if c.publish]
    keys = {w.casefold() for w in wanted}
    return [
        c for c in partner.clients if c.name.casefold() in keys or c.managed_id.casefold() in keys
    ]


def check_client_names(partners: list[Partner], wanted: Iterable[str]) -> None:
    """InputError naming every --client that matches no client of the selected partners."""
    known = {k.casefold() for p in partners for c in p.clients for k in (c.name, c.managed_id)}
    unknown = [w for w in wanted if w.casefold() not in known]
    if unknown:
        raise InputError(
            f"--client: no configured client named {', '.join(map(repr, unknown))}"
            f" (a client name or Managed ID from the config)"
        )
    for p in partners:  # one value naming two clients (one's name, another's ID) is ambiguous
        for w in wanted:
            folded = w.casefold()
            hits = [c for c in p.clients if folded in (c.name.casefold(), c.managed_id.casefold())]
            if len(hits) > 1:
                listing = ", ".join(f"{c.name!r} (Managed ID {c.managed_id!r})" for c in hits)
                raise InputError(
                    f"--client {w!r} names {len(hits)} clients of {p.name}: {listing}; "
                    "give the other one's name or Managed ID"
                )


def plan_partner(
    partner: Partner, period: Period, clients: list[Client], mode: str, initiated_by: str
) -> Plan:
    """Read usage and prove the secret is stored; never raises for partner-level problems."""
    plan = Plan(
        partner,
        period,
        mode,
        initiated_by,
        datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    plan.usage_source = describe_source(partner.usage, period)
    not_sent = [
        ClientResult(c.name, c.managed_id, None, "failed", NOT_SENT_TEXT, NOT_SENT) for c in clients
    ]
    try:
        usage = read_usage(partner.usage, period)
    except CwpublishError as e:
        plan.error, plan.error_exit, plan.unread = str(e), e.exit_code, not_sent
        return plan
    try:
        credentials.require_partner_secret(partner)
    except CwpublishError as e:
        plan.error, plan.error_exit, plan.failed = str(e), e.exit_code, not_sent
        return plan
    plan.usage_source = usage.source
    plan.usage_rows = usage.rows
    plan.unmapped = [
        {"client": name, "billable_gb": float(usage.rows[name])}
        for name in unmapped_names(usage.rows, (c.name for c in partner.clients))
    ]
    # Near misses: an unmapped row and a client without a row whose names differ only in
    # case, spacing or Unicode form. Named in both messages, never matched silently: which
    # of the two spellings is right is for a person to say.
    rowless = {name_key(c.name): c.name for c in partner.clients if c.name not in usage.rows}
    row_of: dict[str, str] = {}
    for name in (u["client"] for u in plan.unmapped):
        row_of.setdefault(name_key(name), name)
        owner = rowless.get(name_key(name))
        log.warning(
            "%s: usage row for %r has no client in the config (unmapped, not published)%s",
            partner.name,
            name,
            f"; it probably belongs to client {owner!r} (the names differ only in case, "
            "spacing or Unicode form)"
            if owner
            else "",
        )
    for c in clients:
        if c.name in usage.rows:
            plan.to_send.append(UsageRecord(c.name, c.managed_id, usage.rows[c.name], period))
        else:
            near = row_of.get(name_key(c.name))
            hint = f" (did you mean the row {near!r}?)" if near else ""
            plan.failed.append(
                ClientResult(
                    c.name,
                    c.managed_id,
                    None,
                    "failed",
                    f"no usage for {period} in {usage.source}{hint}",
                    NO_USAGE,
                )
            )
    return plan


def name_key(name: str) -> str:
    """A client name as compared for a near miss: Unicode compatibility form (NFKC), case
    folded, surrounding and repeated whitespace ignored. Only for hints: publishing matches
    names exactly, because a guessed match could bill the wrong client."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def plan_manual(
    config: Config,
    partner_names: tuple[str, ...],
    client_names: tuple[str, ...],
    periods: list[Period | None],
    initiated_by: str,
) -> list[Plan]:
    """Plans for a manual publish, oldest period first; every usage source is read up front.

    Each partner's months are judged in its own time zone before anything is read: a month
    after its current month is refused, except past an open end (--from alone), where that
    partner's backfill simply stops at its current month.
    """
    partners = pick_partners(config, partner_names)
    check_client_names(partners, client_names)
    now = datetime.now(UTC)
    current = {p.name: partner_month(p, now) for p in partners}
    named = [p for p in periods if p is not None]
    if named:
        options = periods if isinstance(periods, Periods) else Periods(named)
        for partner in partners:
            check_not_future(partner, named[0], options.first_option, now)
            check_not_too_old(partner, named[0], options.first_option, now)
            if not options.open_end:
                check_not_future(partner, named[-1], options.last_option, now)
    plans = []
    for period in periods:
        for partner in partners:
            if period is not None and period > current[partner.name]:
                continue  # past the open end, in this partner's zone
            clients = select_clients(partner, client_names)
            if period is not None and period != partner_period(partner):
                check_source_has_period(partner, period)
            if clients:
                plans.append(
                    plan_partner(
                        partner, period or partner_period(partner), clients, "manual", initiated_by
                    )
                )
    if not plans:
        raise InputError(
            "no clients selected: every client has `publish: false`; name them with --client"
        )
    return plans


def check_source_has_period(partner: Partner, period: Period) -> None:
    """InputError when another month is asked of a usage source that names no month: a
    file without {year}/{month} holds one month's usage, and publishing it as `period` would
    bill this month's GB as that month's."""
    source = partner.usage
    if "{year" not in source.location and "{month" not in source.location:
        raise InputError(
            f"{partner.name}: usage.{source.kind} {source.location!r} has no {{year}}/{{month}} "
            f"placeholder, so it holds one month only; it cannot be published as {period} "
            "(name the month in the source, e.g. usage/acme-{year}-{month:02d}.csv)"
        )


def check_backfill(plans: list[Plan]) -> None:
    """A backfill starts only if every month can run: InputError listing those that cannot."""
    broken = [p for p in plans if p.error]
    if broken:
        listing = "\n".join(f"  {p.partner.name} {p.period}: {p.error}" for p in broken)
        raise InputError(
            f"backfill refused, nothing was sent: {len(broken)} month(s) cannot "
            f"be published:\n{listing}"
        )
