"""`report`: the outage usage report (CSV, HTML or text, or emailed)."""

from __future__ import annotations

import click

from cwpublish.cli.base import State, cli, exit_code_help, partner_option
from cwpublish.errors import InputError
from cwpublish.text.sanitize import shown


@cli.command(epilog=exit_code_help("report"))
@partner_option("The partner whose clients are reported.", required=True)
@click.option("--month", metavar="YYYY-MM", help="The period (default: the publish default).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "html"]),
    default="csv",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write to FILE instead of stdout.",
)
@click.option(
    "--email", "send_email", is_flag=True, help="Email the report to the partner's managers."
)
@click.pass_obj
def report(
    obj: State, partner: str, month: str | None, fmt: str, output: str | None, send_email: bool
) -> None:
    """The usage report for a partner, for when publishing is impossible (an outage).

    Per client: name, Managed ID, billable GB, period, and whether it reached ConnectWise
    (from the ledger); usage rows with no client are listed too.

    \b
    Examples:
      cwpublish report --partner acme --month 2026-10 --format html --output acme.html
      cwpublish report --partner acme --email
    """
    from cwpublish.publish import plan
    from cwpublish.render import report as report_text
    from cwpublish.state.user_files import write_text
    from cwpublish.usecases import report as reports

    config = obj.config
    p = plan.pick_partners(config, (partner,))[0]
    [period] = plan.resolve_periods(month, None, None)
    if period is not None:
        plan.check_not_future(p, period, "--month")  # in the partner's time zone
    data = reports.build(config, p, period or plan.partner_period(p))
    text = report_text.to_csv(data) if fmt == "csv" else reports.to_html(config, data)
    if output:
        from pathlib import Path

        try:
            write_text(Path(output), text)  # never group/world-writable, whatever the umask
        except OSError as e:
            raise InputError(f"--output {output}: cannot write: {e.strerror}") from None
        click.echo(shown(f"Wrote the {data['period']} report of {p.name} to {output}."), err=True)
    elif not send_email:
        click.echo(text, nl=False)
    if send_email:
        reports.email(config, p, data)
        click.echo(f"Emailed the report to {', '.join(p.managers)}.", err=True)
