"""`history` and `history show`: what happened."""

from __future__ import annotations

import sys

import click

from cwpublish.cli.base import Group, State, cli, dump, exit_code_help, partner_option
from cwpublish.errors import InputError


@cli.group(cls=Group, invoke_without_command=True, epilog=exit_code_help("history"))
@partner_option("Only this partner.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of entries).")
@click.pass_context
def history(ctx: click.Context, partner: str | None, as_json: bool) -> None:
    """List the last publish operations (ten per partner), newest first.

    \b
    Examples:
      cwpublish history --partner acme
      cwpublish history show 3f2a9c
    """
    from cwpublish.domain.record import EntrySummary
    from cwpublish.render import output
    from cwpublish.state.history import History

    if ctx.invoked_subcommand:
        return
    ctx.obj.json = as_json

    entries = History(ctx.obj.config.state_dir).entries(partner, full=as_json)
    if as_json:
        dump(entries)
    else:
        zones = {p.name: p.timezone for p in ctx.obj.config.partners}
        colour = output.colour_enabled(sys.stdout.isatty())
        summaries = [EntrySummary.from_dict(e) for e in entries]
        click.echo(output.history_text(summaries, colour, zones))


@history.command("show", epilog=exit_code_help("history show"))
@click.argument("entry_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
@click.pass_obj
def history_show(obj: State, entry_id: str, as_json: bool) -> None:
    """Show one publish operation in full (any unique prefix of its ID).

    \b
    Example:
      cwpublish history show 3f2a9c
    """
    from cwpublish.domain.record import Entry
    from cwpublish.render import output
    from cwpublish.state.history import History

    obj.json = as_json
    entry = History(obj.config.state_dir).find(entry_id)
    if entry is None:
        raise InputError(f"history: no single entry with ID {entry_id!r}")
    if as_json:
        dump(entry)
    else:
        zones = {p.name: p.timezone for p in obj.config.partners}
        colour = output.colour_enabled(sys.stdout.isatty())
        typed = Entry.from_dict(entry)
        click.echo(output.entry_detail(typed, colour, zones.get(typed.partner)))
