"""Publishing one partner's period: plan (selection, usage), then send and record the outcome.

Planning touches no network, so the CLI can show the plan and ask before anything is sent.
Sending starts with the GetManagementItSetupsName pre-flight, drops clients whose Managed ID
ConnectWise does not know, and sends the rest in batches; a batch that ConnectWise answers with
an error text is split in halves down to single devices, so only the bad clients fail and the
text is never parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cwpublish import credentials, log
from cwpublish.config import Client, Partner
from cwpublish.connectwise import ConnectWiseClient
from cwpublish.envelope import DeviceUpdate
from cwpublish.errors import (
    EXIT_FAILED,
    EXIT_LOGIN,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    ConnectWiseError,
    CwpublishError,
    InputError,
)
from cwpublish.history import ClientResult, Entry
from cwpublish.period import Period, default_period, zone
from cwpublish.usage import describe_source, read_usage

Progress = Callable[[int], None]


@dataclass
class Plan:
    """What one publish of one partner's period will send, before anything is sent."""

    partner: Partner
    period: Period
    mode: str
    initiated_by: str
    started_at: str
    to_send: list[DeviceUpdate] = field(default_factory=list)
    failed: list[ClientResult] = field(default_factory=list)
    skipped: list[ClientResult] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)
    usage_source: str | None = None
    error: str | None = None  # the publish cannot start (usage unreadable, no password)
    error_exit: int = EXIT_USAGE
    password: str | None = field(default=None, repr=False)


def partner_period(partner: Partner, now: datetime | None = None) -> Period:
    """The period a publish without --month is for, in the partner's time zone."""
    tz = zone(partner.timezone)
    today = (now or datetime.now(tz)).astimezone(tz).date()
    previous = bool(partner.schedule and partner.schedule.period == "previous")
    return default_period(today, previous)


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
    partner: Partner,
    period: Period,
    clients: list[Client],
    mode: str,
    initiated_by: str,
    *,
    need_password: bool = True,
) -> Plan:
    """Read usage and credentials for one partner; never raises for partner-level problems.

    With `need_password` false (a dry run) the password is only checked to be present.
    """
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
        secret = credentials.partner_password(partner)
        if need_password:  # a dry run only proves it is there
            plan.password = secret
    except CwpublishError as e:
        plan.error, plan.error_exit = str(e), e.exit_code
        plan.failed = [
            ClientResult(c.name, c.managed_id, None, "failed", f"not sent: {e}") for c in clients
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
            plan.to_send.append(DeviceUpdate(c.name, c.managed_id, usage.rows[c.name], period))
        else:
            plan.failed.append(
                ClientResult(
                    c.name, c.managed_id, None, "failed", f"no usage for {period} in {usage.source}"
                )
            )
    return plan


def execute(plan: Plan, progress: Progress | None = None) -> Entry:
    """Send a plan to ConnectWise and return the finished history entry (nothing raised)."""
    p = plan.partner
    entry = Entry(
        partner=p.name,
        mode=plan.mode,
        initiated_by=plan.initiated_by,
        period=str(plan.period),
        started_at=plan.started_at,
        site=p.connectwise.site,
        usage_source=plan.usage_source,
        unmapped=plan.unmapped,
        clients=list(plan.skipped),
    )
    if plan.error:
        entry.clients += plan.failed
        return _finish(entry, plan.error, plan.error_exit)
    if not plan.to_send:
        entry.clients += plan.failed
        reason = "nothing to send: no selected client has usage" if plan.failed else None
        return _finish(entry, reason, EXIT_USAGE if plan.failed else EXIT_OK)
    results, error, code = _send_all(plan, progress)
    entry.clients += results + plan.failed
    return _finish(entry, error, code)


def _send_all(
    plan: Plan, progress: Progress | None
) -> tuple[list[ClientResult], str | None, int | None]:
    cw = plan.partner.connectwise
    results: list[ClientResult] = []

    def fail_all(devices: list[DeviceUpdate], reason: str) -> list[ClientResult]:
        return [_result(d, f"not sent: {reason}") for d in devices]

    try:
        client = ConnectWiseClient(cw, plan.password or "")
    except ConnectWiseError as e:
        return fail_all(plan.to_send, str(e)), str(e), EXIT_FAILED
    try:
        try:
            if not client.management_it_name():
                raise ConnectWiseError(
                    "GetManagementItSetupsName",
                    f"ConnectWise does not know the Management IT Name {cw.management_it_name!r}",
                    kind="fault",
                )
        except ConnectWiseError as e:
            if e.rejects_login:
                reason = (
                    f"ConnectWise rejected the login or the Management IT Name ({e}); "
                    f"check the integrator login of company {cw.company_id!r} and run "
                    f"`cwpublish check-config --online --partner {plan.partner.name}`"
                )
                return fail_all(plan.to_send, reason), reason, EXIT_LOGIN
            return fail_all(plan.to_send, str(e)), str(e), EXIT_FAILED
        to_send = _drop_unknown_ids(client, plan, results)
        sent, error = _send_batches(client, to_send, progress)
        results += sent
        return results, error, None
    finally:
        client.close()


def _send_batches(
    client: ConnectWiseClient, devices: list[DeviceUpdate], progress: Progress | None
) -> tuple[list[ClientResult], str | None]:
    """Send in batches, `parallel_requests` at a time, results in order.

    After a transport failure (ConnectWise down, retries exhausted) no further batch is
    started: those clients are reported as not sent, with the error.
    """
    from concurrent.futures import ThreadPoolExecutor
    from threading import Event

    cw = client.cw
    batches = [devices[i : i + cw.batch_size] for i in range(0, len(devices), cw.batch_size)]
    stop = Event()
    first_error: list[str] = []

    def send(batch: list[DeviceUpdate]) -> list[ClientResult]:
        if stop.is_set():
            return [_result(d, f"not sent: {first_error[0]}") for d in batch]
        try:
            return _send_batch(client, batch)
        except ConnectWiseError as e:
            if not stop.is_set():
                first_error.append(str(e))
                stop.set()
            return [_result(d, f"not sent: {e}") for d in batch]

    results: list[ClientResult] = []
    with ThreadPoolExecutor(max_workers=cw.parallel_requests) as pool:
        for batch, outcome in zip(batches, pool.map(send, batches), strict=True):
            results += outcome
            if progress:
                progress(len(batch))
    return results, (first_error[0] if first_error else None)


def _drop_unknown_ids(
    client: ConnectWiseClient, plan: Plan, results: list[ClientResult]
) -> list[DeviceUpdate]:
    """Fail clients whose Managed ID ConnectWise does not list; keep all if it cannot say."""
    try:
        known = client.managed_ids()
    except ConnectWiseError as e:
        log.warning("%s: could not verify Managed IDs (%s); sending anyway", plan.partner.name, e)
        return plan.to_send
    keep = []
    for d in plan.to_send:
        if d.managed_id in known:
            keep.append(d)
        else:
            results.append(
                _result(
                    d,
                    f"Managed ID {d.managed_id!r} is not set up in ConnectWise "
                    f"for {plan.partner.connectwise.management_it_name!r} "
                    "(company > Management tab)",
                )
            )
    return keep


def _send_batch(client: ConnectWiseClient, batch: list[DeviceUpdate]) -> list[ClientResult]:
    """Send a batch; on an error text, split it to find exactly which devices it concerns."""
    error = client.update_devices(batch)
    if error is None:
        return [_result(d, None) for d in batch]
    if len(batch) == 1:
        return [_result(batch[0], f"ConnectWise: {error}")]
    half = len(batch) // 2
    return _send_batch(client, batch[:half]) + _send_batch(client, batch[half:])


def _result(d: DeviceUpdate, error: str | None) -> ClientResult:
    return ClientResult(
        d.client, d.managed_id, float(d.billable_gb), "failed" if error else "published", error
    )


def _finish(entry: Entry, error: str | None, code: int | None) -> Entry:
    published = entry.count("published")
    failed = entry.count("failed")
    entry.status = "success" if not failed else "partial" if published else "failed"
    if code is None or (code in (EXIT_OK, EXIT_FAILED) and entry.status != "failed"):
        code = {"success": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_FAILED}[entry.status]
    entry.exit_code = code
    entry.error = error
    entry.finished_at = datetime.now().astimezone().isoformat(timespec="seconds")
    return entry


def preview(plan: Plan, duplicates: set[str]) -> dict:
    """What a plan would do, shaped like a history entry (for --dry-run and its --json)."""
    clients = [
        {
            "name": d.client,
            "managed_id": d.managed_id,
            "billable_gb": float(d.billable_gb),
            "status": "duplicate" if d.managed_id in duplicates else "would-publish",
            "error": "already published for this period; needs --force"
            if d.managed_id in duplicates
            else None,
        }
        for d in plan.to_send
    ]
    clients += [
        {
            "name": c.name,
            "managed_id": c.managed_id,
            "billable_gb": c.billable_gb,
            "status": "failed",
            "error": c.error,
        }
        for c in plan.failed
    ]
    sending = sum(1 for c in clients if c["status"] == "would-publish")
    failing = len(clients) - sending
    status = "success" if not failing else "partial" if sending else "failed"
    code = {"success": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_USAGE}[status]
    return {
        "partner": plan.partner.name,
        "mode": plan.mode,
        "initiated_by": plan.initiated_by,
        "period": str(plan.period),
        "site": plan.partner.connectwise.site,
        "dry_run": True,
        "status": status,
        "exit_code": plan.error_exit if plan.error else code,
        "error": plan.error,
        "usage_source": plan.usage_source,
        "clients": clients,
        "unmapped": plan.unmapped,
    }
