"""`report`: the outage usage report (CSV, HTML or text, or emailed)."""

from __future__ import annotations

import click

from cwpublish.cli.base import State, cli, exit_code_help, partner_option
from cwpublish.cli.outputs import email_option, output_option, partner_and_period, write_output


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
@output_option()
@email_option("Email the report to the partner's managers.")
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
    from cwpublish.render import report as report_text
    from cwpublish.usecases import report as reports

    config = obj.config
    p, period = partner_and_period(config, partner, month)
    data = reports.build(config, p, period)
    text = report_text.to_csv(data) if fmt == "csv" else reports.to_html(config, data)
    if output:
        write_output(output, text, f"Wrote the {data['period']} report of {p.name} to {output}.")
    elif not send_email:
        click.echo(text, nl=False)
    if send_email:
        reports.email(config, p, data)
        click.echo(f"Emailed the report to {', '.join(p.managers)}.", err=True)
