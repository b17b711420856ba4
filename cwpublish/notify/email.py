"""Email the partner's managers after every publish, and warn them before a publish would fail.

Messages are rendered with jinja2 from the templates shipped in `cwpublish/notify/templates`
(a text and an HTML part), or from the same names in `templates_dir`. A template that uses an
unknown variable is an error (StrictUndefined), found by `check-config`, never a half-empty email.
Sending happens after the publish is recorded, with time-outs, and a failure only changes the
entry's `notification`, never what was published or the exit code.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cwpublish import log
from cwpublish.config import credentials
from cwpublish.config.model import Config, Partner, Smtp
from cwpublish.domain.advice import is_last_try, next_steps
from cwpublish.domain.period import zone
from cwpublish.domain.record import Entry, PublishStatus
from cwpublish.errors import CwpublishError, NotificationError, unexpected
from cwpublish.render.output import gb, summary, table
from cwpublish.text.redaction import clean_line, redact

TEMPLATE_NAMES = ("publish.txt", "publish.html", "preflight.txt", "preflight.html")
STATUS_COLOURS = {"published": "#1a7f37", "failed": "#cf222e", "skipped": "#57606a"}


def not_emailing(config: Config, partner: Partner, enabled: bool = True) -> dict | None:
    """Whether the partner's managers are emailed (the one place that decides): None if they
    are, else the entry's `notification` saying why not (--no-email, no smtp, no managers)."""
    if not enabled:
        return {"status": "disabled", "recipients": [], "error": "--no-email"}
    if config.smtp is None or not partner.managers:
        missing = "no smtp section" if config.smtp is None else "no managers"
        return {"status": "not-configured", "recipients": list(partner.managers), "error": missing}
    return None


def notify_publish(config: Config, partner: Partner, entry: Entry) -> dict:
    """Send the after-publish email; the `notification` record for the entry (never raises)."""
    recipients = list(partner.managers)
    skipped = not_emailing(config, partner)
    if skipped is not None:
        return skipped
    assert config.smtp is not None
    try:
        send(config.smtp, publish_message(config, partner, entry))
    except Exception as e:  # an email never undoes or hides what was published
        reason = str(e) if isinstance(e, CwpublishError) else unexpected("the email", e)
        log.warning(
            "%s: the email to %s was not sent: %s", partner.name, ", ".join(recipients), reason
        )
        return {"status": "failed", "recipients": recipients, "error": reason}
    return {"status": "sent", "recipients": recipients, "error": None}


def subject_for(entry: Entry, data: dict) -> str:
    """The subject line: one line whatever the texts in the entry (a header must be); `data`
    is the entry's JSON shape, which the advice reads."""
    head = f"[cwpublish] {entry.partner} {entry.period}"
    if is_last_try(data):
        head += " (last automatic try)"
    if entry.status == PublishStatus.FAILED:
        return clean_line(f"{head} FAILED: {short_reason(entry)}", 200)  # masked, then cut
    return clean_line(f"{head}: {summary(entry)}", 200)


def short_reason(entry: Entry) -> str:
    """The failure reason cut to its first clause, for a subject line."""
    reason = summary(entry).removeprefix("FAILED: ")
    for stop in (" (", "; "):
        reason = reason.split(stop, 1)[0]
    return reason[:120]


def publish_message(config: Config, partner: Partner, entry: Entry):
    context = publish_context(partner, entry)
    return _message(config, partner, context["subject"], "publish", context)


def sent_as(partner: Partner, year: int, month: int) -> str:
    """What the partner's target writes, in its own words (SOAP fields or the REST record)."""
    if partner.connectwise.api != "rest":
        return f"Managed Device API (SOAP): BackupYear {year}, BackupMonth {month}"
    rest = partner.connectwise.settings
    if rest.publish_to == "agreement_addition":
        return (
            f"REST API: quantity of addition {rest.product} on each client's "
            f"{rest.agreement_type!r} agreement"
        )
    return f"REST API: configuration record of type {rest.configuration_type!r} per client"


def publish_context(partner: Partner, entry: Entry) -> dict[str, Any]:
    """The variables of publish.txt and publish.html (documented in the README): `entry` is
    the entry's JSON shape (the templates' contract, masked), the rest is read typed."""
    data = entry.to_dict()
    subject = subject_for(entry, data)
    tz = zone(partner.timezone)
    year, month = entry.period.split("-")
    rows = [[c.name, c.managed_id, gb(c.billable_gb), c.status, c.error or ""]
            for c in entry.clients]
    failed = entry.status == PublishStatus.FAILED
    context = {
        "subject": subject,
        "entry": data,
        "year": int(year),
        "month": int(month),
        # a failure's reason is stated once, under "What went wrong", not in the headline too
        "headline": f"{entry.partner} {entry.period}: "
        + ("FAILED" if failed and entry.error else summary(entry)),
        "started": local_time(entry.started_at, tz),
        "finished": local_time(entry.finished_at, tz),
        "client_table": table(["CLIENT", "MANAGED ID", "GB", "RESULT", "REASON"], rows, right=(2,)),
        "sent_as": sent_as(partner, int(year), int(month)),
        "actions": [str(a) for a in entry.actions],
        "next_steps": next_steps(data, partner.connectwise.api),
        "status_colours": STATUS_COLOURS,
        "colour": {"success": "#1a7f37", "partial": "#9a6700"}.get(entry.status, "#cf222e"),
    }
    return context


def preflight_message(
    config: Config, partner: Partner, run_date: date, period: str, problems: list[str]
):
    context = preflight_context(partner, run_date, period, problems)
    return _message(config, partner, context["subject"], "preflight", context)


def preflight_context(
    partner: Partner, run_date: date, period: str, problems: list[str]
) -> dict[str, Any]:
    """The variables of preflight.txt and preflight.html."""
    subject = f"[cwpublish] {partner.name} {period}: tomorrow's automatic publish would fail"
    return {
        "subject": subject,
        "partner": partner.name,
        "period": period,
        "run_date": run_date.isoformat(),
        "site": partner.connectwise.site,
        # for templates written for SOAP partners; empty for an API without it
        "management_it_name": getattr(partner.connectwise.settings, "management_it_name", ""),
        "problems": problems,
    }


def local_time(iso: str | None, tz) -> str:
    """`2026-11-05 02:00:03 EST (UTC-05:00)` in the partner's zone."""
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso).astimezone(tz)
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M:%S} {moment.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def _message(
    config: Config, partner: Partner, subject: str, template: str, context: dict[str, Any]
):
    text = redact(render(config, f"{template}.txt", context))
    html = redact(render(config, f"{template}.html", context))
    return build_message(config, partner, redact(subject), text, html)


def build_message(config: Config, partner: Partner, subject: str, text: str, html: str):
    """A multipart/alternative email from the configured sender to the partner's managers."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    if config.smtp is None:
        raise NotificationError("no smtp section in the configuration")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config.smtp.sender
    msg["To"] = ", ".join(partner.managers)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=config.smtp.host)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def render(config: Config, name: str, context: dict[str, Any]) -> str:
    """Render a template (the user's in templates_dir first); NotificationError if it fails."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("cwpublish.notify", "templates")]
    if config.templates_dir:
        loaders.insert(0, jinja2.FileSystemLoader(str(config.templates_dir)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateError as e:
        where = getattr(e, "filename", None) or name
        line = f", line {e.lineno}" if getattr(e, "lineno", None) else ""
        raise NotificationError(f"email template {where}{line}: {e.message or e}") from None


def check_templates(config: Config) -> list[str]:
    """Render every template with sample data; the problems found (empty if none)."""
    partner = config.partners[0]
    sample = {
        "id": "0123456789ab",
        "partner": partner.name,
        "mode": "manual",
        "initiated_by": "someone@example.com",
        "period": "2026-11",
        "started_at": "2026-11-05T02:00:00+00:00",
        "finished_at": "2026-11-05T02:00:05+00:00",
        "site": partner.connectwise.site,
        "status": "partial",
        "exit_code": 3,
        "error": None,
        "usage_source": "usage.csv",
        "clients": [
            {
                "name": "A",
                "managed_id": "A-1",
                "billable_gb": 1.5,
                "status": "published",
                "error": None,
            },
            {
                "name": "B",
                "managed_id": "B-1",
                "billable_gb": 2.0,
                "status": "failed",
                "error": "Managed ID 'B-1' is not set up",
                "kind": "unknown-key",
            },
        ],
        "unmapped": [{"client": "C", "billable_gb": 3.0}],
        "warnings": [],
        "notification": None,
    }
    contexts = {
        "publish": publish_context(partner, Entry.from_dict(sample)),
        "preflight": preflight_context(partner, date(2026, 11, 5), "2026-11", ["login failed"]),
    }
    problems = []
    for name in TEMPLATE_NAMES:
        try:
            render(config, name, contexts[name.split(".")[0]])
        except NotificationError as e:
            problems.append(str(e))
    return problems


def send(smtp: Smtp, message) -> None:
    """Deliver `message` to its To: recipients; NotificationError (without secrets) if not."""
    _with_server(smtp, lambda server: server.send_message(message))


def check_smtp(smtp: Smtp) -> None:
    """Connect and log in without sending (`check-config --online`)."""
    _with_server(smtp, lambda server: server.noop())


def _with_server(smtp: Smtp, action) -> None:
    """Run `action` on a logged-in connection; every failure as one NotificationError."""
    import smtplib
    import ssl

    password = credentials.smtp_password(smtp)
    try:
        with connect(smtp, password) as server:
            action(server)
    except (smtplib.SMTPException, ssl.SSLError, OSError, ValueError) as e:
        # ValueError: smtplib encoding a password or address it cannot send (UnicodeError)
        raise NotificationError(_smtp_reason(smtp, e, password)) from None


def connect(smtp: Smtp, password: str | None):
    """An SMTP connection with TLS as configured, logged in; the caller closes it."""
    import smtplib
    import ssl

    context = ssl.create_default_context(cafile=smtp.ca_bundle)
    if smtp.security == "ssl":
        server = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.security == "starttls":
            server.starttls(context=context)
        if smtp.username:
            server.login(smtp.username, password or "")
    except BaseException:
        server.close()
        raise
    return server


def _smtp_reason(smtp: Smtp, e: Exception, password: str | None) -> str:
    """One line saying why the SMTP server failed us; the server's own text is masked (the
    password in any form: AUTH PLAIN and AUTH LOGIN echo it in base64) before it is cut."""
    return clean_line(_smtp_failure(smtp, e, password), 400, password)


def _smtp_failure(smtp: Smtp, e: Exception, password: str | None) -> str:
    import smtplib
    import socket
    import ssl

    def said(text: str | bytes) -> str:  # the server's text, masked before it is cut
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return clean_line(text, 200, password)

    where = f"{smtp.host}:{smtp.port}"
    if isinstance(e, smtplib.SMTPAuthenticationError):
        answer = said(e.smtp_error)
        return f"SMTP server {where} refused the login of {smtp.username} ({e.smtp_code})" + (
            f": {answer}" if answer else ""
        )
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return f"SMTP server {where} refused the recipients {', '.join(e.recipients)}"
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS certificate of {where} could not be verified (smtp.ca_bundle for a private CA)"
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return f"SMTP server {where} does not support STARTTLS (set smtp.security)"
    if isinstance(e, (TimeoutError, socket.timeout)) or "timed out" in str(e):
        return f"SMTP server {where} did not answer within {smtp.timeout:g}s"
    if isinstance(e, ConnectionRefusedError):
        return f"cannot connect to SMTP server {where}: connection refused"
    if isinstance(e, smtplib.SMTPResponseException):
        return f"SMTP server {where} answered {e.smtp_code}: {said(e.smtp_error)}"
    return f"SMTP server {where}: {type(e).__name__}: {said(str(e))}"
