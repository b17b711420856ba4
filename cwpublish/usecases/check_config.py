"""`check-config`: prove a configuration before money depends on it.

Offline checks read the file, the keyring and this month's usage; `--online` also logs in to
each ConnectWise site and verifies every Managed ID. Each check is a line marked ok, warn or fail.
"""

from __future__ import annotations

from cwpublish.config import credentials
from cwpublish.config.billing_modes import billing_statement
from cwpublish.config.model import Config, Partner
from cwpublish.domain.record import unmapped_names
from cwpublish.errors import EXIT_FAILED, EXIT_USAGE, CwpublishError
from cwpublish.notify.email import check_smtp, check_templates
from cwpublish.publish.connection import describe
from cwpublish.publish.online_checks import Check, online_checks
from cwpublish.publish.plan import partner_period, pick_partners
from cwpublish.publish.usage import read_usage
from cwpublish.usecases.invoice_guard import invoice_checks
from cwpublish.usecases.state_checks import state_checks


def check_config(config: Config, partner_names: tuple[str, ...], online: bool) -> list[Check]:
    """Every check of the configuration (and with `online`, of each ConnectWise and SMTP)."""
    partners = pick_partners(config, partner_names)
    checks = [
        Check(
            "ok",
            "config",
            f"{config.path}: valid, {len(config.partners)} partner(s); state in {config.state_dir}",
        )
    ]
    checks += [Check("warn", "config", w) for w in config.warnings]
    checks += state_checks(config)
    checks += _smtp(config, online)
    for partner in partners:
        checks += _partner(partner, online)
    return checks


def _smtp(config: Config, online: bool) -> list[Check]:
    problems = check_templates(config)
    checks = [Check("fail", "templates", p, EXIT_USAGE) for p in problems]
    if not problems:
        where = config.templates_dir or "the built-in templates"
        checks.append(Check("ok", "templates", f"email templates render ({where})"))
    smtp = config.smtp
    if smtp is None:
        return [*checks, Check("warn", "smtp", "no smtp section: managers will not be emailed")]
    checks.append(
        Check("ok", "smtp", f"{smtp.host}:{smtp.port} ({smtp.security}), from {smtp.sender}")
    )
    if smtp.username:
        password = _secret(
            credentials.smtp_key(smtp),
            "smtp",
            f"SMTP password for {smtp.username}",
            "cwpublish credentials set --smtp",
        )
        checks.append(password)
        if password.status != "ok":
            return checks
    if online:
        try:
            check_smtp(smtp)
            login = f", logged in as {smtp.username}" if smtp.username else ""
            checks.append(
                Check("ok", "smtp", f"connected to {smtp.host}:{smtp.port}{login} (nothing sent)")
            )
        except CwpublishError as e:
            checks.append(Check("fail", "smtp", str(e), EXIT_FAILED))
    return checks


def _secret(key: str, scope: str, what: str, hint: str) -> Check:
    try:
        if credentials.has_secret(key):
            return Check("ok", scope, f"{what} is {credentials.secret_location(key)}")
        return Check("fail", scope, f"{what} is not in the keyring; run `{hint}`", EXIT_USAGE)
    except CwpublishError as e:
        return Check("fail", scope, str(e), e.exit_code)


def _partner(partner: Partner, online: bool) -> list[Check]:
    name, cw = partner.name, partner.connectwise
    bills, statement = billing_statement(partner)
    checks = [Check("ok", name, describe(partner)), Check(bills, name, statement)]
    if cw.allow_insecure_http and cw.site.startswith("http://"):
        checks.append(
            Check("warn", name, "plain http:// site (allow_insecure_http): only for the simulator")
        )
    period = partner_period(partner)
    if partner.schedule:
        s = partner.schedule
        tz = s.timezone or "the machine's time zone"
        checks.append(
            Check(
                "ok",
                name,
                f"automatic publishing on day {s.day} ({tz}), "
                f"{s.period} month, catch-up {s.catch_up_days} days",
            )
        )
    else:
        checks.append(Check("ok", name, "no schedule: manual publishing only"))
    if not partner.managers:
        checks.append(Check("warn", name, "no managers: nobody is emailed after a publish"))
    label = credentials.partner_secret_label(partner)
    password = _secret(
        credentials.partner_key(partner),
        name,
        f"{label} for {credentials.partner_secret_owner(partner)}",
        f"cwpublish credentials set --partner {name}",
    )
    checks.append(password)
    checks += _usage(partner, period)
    if online:
        if password.status != "ok":
            checks.append(
                Check("fail", name, f"online checks skipped: no {label}", EXIT_USAGE)
            )
        else:
            checks += online_checks(partner)
            checks += invoice_checks(partner)
    return checks


def _usage(partner: Partner, period) -> list[Check]:
    name = partner.name
    try:
        usage = read_usage(partner.usage, period)
    except CwpublishError as e:
        return [Check("fail", name, f"usage for {period}: {e}", e.exit_code)]
    checks = [
        Check("ok", name, f"usage for {period}: {len(usage.rows)} row(s) from {usage.source}")
    ]
    unmapped = unmapped_names(usage.rows, (c.name for c in partner.clients))
    if unmapped:
        checks.append(
            Check(
                "warn",
                name,
                f"unmapped usage rows (no client in the config): {', '.join(unmapped)}",
            )
        )
    no_usage = [c.name for c in partner.clients if c.publish and c.name not in usage.rows]
    if no_usage:
        checks.append(
            Check(
                "warn",
                name,
                f"selected clients without a usage row for {period} "
                f"(would fail): {', '.join(no_usage)}",
            )
        )
    return checks
