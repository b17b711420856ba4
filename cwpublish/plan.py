"""Planning a publish: which partners, periods and clients, and each client's usage record.

Planning touches no network and holds no secret (it only proves the secret is stored), so the
CLI can show the plan and ask before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from cwpublish import credentials, log
from cwpublish.config import Client, Config, Partner
from cwpublish.errors import EXIT_USAGE, CwpublishError, InputError
from cwpublish.history import ClientResult
from cwpublish.period import Period, default_period, zone
from cwpublish.targets.base import NO_USAGE, NOT_SENT, UsageRecord
from cwpublish.usage import describe_source, read_usage

MAX_BACKFILL_MONTHS = 60


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


def resolve_periods(
    month: str | None, first: str | None, last: str | None, today: date | None = None
) -> list[Period | None]:
    """The periods of --month or --from/--to, oldest first; [None] means each partner's default.

    A month in the future is refused: its usage is not final and it would bill ahead.
    """
    now = Period.of(today or date.today())

    def parse(option: str, text: str) -> Period:
        try:
            period = Period.parse(text)
        except ValueError as e:
            raise InputError(f"{option}: {e}") from None
        if period > now:
            raise InputError(f"{option}: {period} is in the future")
        return period

    if month and (first or last):
        raise InputError("--month cannot be combined with --from/--to")
    if month:
        return [parse("--month", month)]
    if last and not first:
        raise InputError("--to needs --from (the first month of the backfill)")
    if not first:
        return [None]
    start, end = parse("--from", first), parse("--to", last) if last else now
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    periods = [start]
    while periods[-1] < end:
        periods.append(periods[-1].next())
    if len(periods) > MAX_BACKFILL_MONTHS:
        raise InputError(
            f"--from/--to: {len(periods)} months; at most {MAX_BACKFILL_MONTHS} at once"
        )
    return periods


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
    try:
        usage = read_usage(partner.usage, period)
        credentials.require_partner_secret(partner)
    except CwpublishError as e:
        plan.error, plan.error_exit = str(e), e.exit_code
        plan.failed = [
            ClientResult(c.name, c.managed_id, None, "failed", f"not sent: {e}", NOT_SENT)
            for c in clients
        ]
        return plan
    plan.usage_source = usage.source
    configured = {c.name for c in partner.clients}
    plan.unmapped = [
        {"client": name, "billable_gb": float(gb)}
        for name, gb in usage.rows.items()
        if name not in configured
    ]
    for name in (u["client"] for u in plan.unmapped):
        log.warning(
            "%s: usage row for %r has no client in the config (unmapped, not published)",
            partner.name,
            name,
        )
    for c in clients:
        if c.name in usage.rows:
            plan.to_send.append(UsageRecord(c.name, c.managed_id, usage.rows[c.name], period))
        else:
            plan.failed.append(
                ClientResult(
                    c.name,
                    c.managed_id,
                    None,
                    "failed",
                    f"no usage for {period} in {usage.source}",
                    NO_USAGE,
                )
            )
    return plan


def plan_manual(
    config: Config,
    partner_names: tuple[str, ...],
    client_names: tuple[str, ...],
    periods: list[Period | None],
    initiated_by: str,
) -> list[Plan]:
    """Plans for a manual publish, oldest period first; every usage source is read up front."""
    partners = pick_partners(config, partner_names)
    check_client_names(partners, client_names)
    plans = []
    for period in periods:
        for partner in partners:
            clients = select_clients(partner, client_names)
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


def check_backfill(plans: list[Plan]) -> None:
    """A backfill starts only if every month can run: InputError listing those that cannot."""
    broken = [p for p in plans if p.error]
    if broken:
        listing = "\n".join(f"  {p.partner.name} {p.period}: {p.error}" for p in broken)
        raise InputError(
            f"backfill refused, nothing was sent: {len(broken)} month(s) cannot "
            f"be published:\n{listing}"
        )
