"""The night before a partner's day: run the pre-flight and warn the managers once if
tomorrow's automatic publish would fail (login, setup, unknown clients)."""

from __future__ import annotations

from cwpublish import log
from cwpublish.config.model import Config, Partner
from cwpublish.domain.schedule import Decision
from cwpublish.errors import CwpublishError
from cwpublish.notify.email import not_emailing, preflight_message, send
from cwpublish.publish.online_checks import online_checks


def warn_if_tomorrow_fails(config: Config, partner: Partner, tomorrow: Decision, notify: bool):
    """Check what tomorrow's run would publish; warn on stderr and (once) by email."""
    problems = [c.message for c in online_checks(partner, selected_only=True) if c.status == "fail"]
    if not problems:
        log.info("%s: pre-flight for tomorrow's publish passed", partner.name)
        return
    log.warning(
        "%s: tomorrow's automatic publish (%s) would fail: %s",
        partner.name,
        tomorrow.period,
        "; ".join(problems),
    )
    if not_emailing(config, partner, notify) is not None:
        return

    assert tomorrow.run_date is not None and config.smtp is not None
    try:
        send(
            config.smtp,
            preflight_message(config, partner, tomorrow.run_date, str(tomorrow.period), problems),
        )
    except CwpublishError as e:
        log.warning("%s: the pre-flight warning email was not sent: %s", partner.name, e)
