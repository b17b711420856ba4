"""`reconcile`: what ConnectWise holds and will invoice against usage and the ledger."""

from __future__ import annotations

import json

import click

from cwpublish.cli.base import State, cli, dump, exit_code_help, partner_option
from cwpublish.cli.outputs import email_option, output_option, partner_and_period, write_output
from cwpublish.text.redaction import scrub


@cli.command(epilog=exit_code_help("reconcile"))
@partner_option("The partner to reconcile.", required=True)
@click.option("--month", metavar="YYYY-MM", help="The period (default: the publish default).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "html", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json (errors too).")
@output_option()
@email_option("Email the result to the partner's managers.")
@click.pass_obj
def reconcile(
    obj: State, partner: str, month: str | None, fmt: str, as_json: bool, output: str | None,
    send_email: bool,
) -> None:
    """Compare usage, what cwpublish sent and what ConnectWise holds and will invoice.

    Per client (and per agreement in addition mode): usage GB, the last publish (ledger),
    the value ConnectWise holds now (REST; SOAP cannot be read back), invoice dates, unit
    price, lessIncluded, the next invoice's amount, and with cost_per_gb the cost and
    margin. Each difference names its cause. Read-only: nothing is written to ConnectWise.

    \b
    Examples:
      cwpublish reconcile --partner acme --month 2026-10
      cwpublish reconcile --partner acme --format csv --output acme.csv
    """
    from cwpublish.usecases import reconcile as reconciling

    if as_json:
        fmt, obj.json = "json", True
    config = obj.config
    p, period = partner_and_period(config, partner, month)
    data = reconciling.build(config, p, period)
    if output:
        if fmt == "json":
            text = json.dumps(scrub(data), indent=2, ensure_ascii=False) + "\n"
        else:
            text = reconciling.render(data, fmt)
        write_output(output, text, f"Wrote the {data['period']} reconciliation of {p.name} to "
                     f"{output}.")
    elif fmt == "json":
        dump(data)
    elif not send_email:
        click.echo(reconciling.render(data, fmt), nl=False)
    if send_email:
        reconciling.email(config, p, data)
        click.echo(f"Emailed the reconciliation to {', '.join(p.managers)}.", err=True)
    if data["exit_code"]:
        click.echo(f"{p.name} {data['period']}: differences found (see the causes).", err=True)
    click.get_current_context().exit(data["exit_code"])
