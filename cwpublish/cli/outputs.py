"""What `report` and `reconcile` share: --output/--email, the one partner and month, the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cwpublish.errors import InputError
from cwpublish.text.sanitize import shown


def output_option():
    """--output FILE: write there instead of stdout."""
    return click.option(
        "--output",
        type=click.Path(dir_okay=False, writable=True),
        metavar="FILE",
        help="Write to FILE instead of stdout.",
    )


def email_option(help: str):
    """--email: send the result to the partner's managers."""
    return click.option("--email", "send_email", is_flag=True, help=help)


def partner_and_period(config: Any, partner: str, month: str | None) -> tuple[Any, Any]:
    """The one partner named and its --month (never in its future), or its default period."""
    from cwpublish.publish import plan

    p = plan.pick_partners(config, (partner,))[0]
    [period] = plan.resolve_periods(month, None, None)
    if period is not None:
        plan.check_not_future(p, period, "--month")  # in the partner's time zone
    return p, period or plan.partner_period(p)


def write_output(output: str, text: str, said: str) -> None:
    """Write `text` to --output (never group/world-writable), then say `said` on stderr."""
    from cwpublish.state.user_files import write_text

    try:
        write_text(Path(output), text)
    except OSError as e:
        raise InputError(f"--output {output}: cannot write: {e.strerror}") from None
    click.echo(shown(said), err=True)
