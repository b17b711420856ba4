"""`init` and `report`: a configuration to start from, and the outage usage report."""

from __future__ import annotations

import click

from cwpublish.cli.base import State, cli, exit_code_help, partner_option
from cwpublish.errors import InputError
from cwpublish.sanitize import shown
from cwpublish.user_files import make_parents, write_text


@cli.command(epilog=exit_code_help("init"))
@click.pass_obj
def init(obj: State) -> None:
    """Write a commented configuration skeleton (never over an existing file).

    It goes to -c FILE, else $CWPUBLISH_CONFIG, else ~/.config/cwpublish/config.yaml.

    \b
    Example:
      cwpublish -c ./cwpublish.yaml init
    """
    from importlib import resources

    from cwpublish.config import find_config_path

    path = find_config_path(obj.config_path)
    if path.exists():
        raise InputError(f"{path}: already exists; not overwritten")
    text = (resources.files("cwpublish") / "data" / "config.example.yaml").read_text("utf-8")
    try:
        make_parents(path)  # 0700 folders, a 0600 file, whatever the umask
        write_text(path, text, new=True)
    except FileExistsError:
        raise InputError(f"{path}: already exists; not overwritten") from None
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror}") from None
    c = f"cwpublish -c {shown(str(path))}" if obj.config_path else "cwpublish"
    click.echo(
        f"Wrote a commented configuration to {shown(str(path))}. Next:\n"
        "  1. Edit it: ConnectWise site, Company ID, integrator login, Management IT "
        "Name, usage source, clients.\n"
        f"  2. {c} credentials set --partner acme\n"
        f"  3. {c} check-config --online\n"
        f"  4. {c} publish --dry-run"
    )


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
    from cwpublish import plan
    from cwpublish import report as reports

    config = obj.config
    p = plan.pick_partners(config, (partner,))[0]
    [period] = plan.resolve_periods(month, None, None)
    if period is not None:
        plan.check_not_future(p, period, "--month")  # in the partner's time zone
    data = reports.build(config, p, period or plan.partner_period(p))
    text = reports.to_csv(data) if fmt == "csv" else reports.to_html(config, data)
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
