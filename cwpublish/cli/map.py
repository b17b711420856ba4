"""`map`: candidate ConnectWise companies for usage rows with no client, and `--write`."""

from __future__ import annotations

import sys

import click

from cwpublish.cli.base import State, cli, dump, exit_code_help, partner_option
from cwpublish.text.sanitize import shown


@cli.command("map", epilog=exit_code_help("map"))
@partner_option("The partner whose unmapped usage rows are matched.", required=True)
@click.option("--month", metavar="YYYY-MM", help="The usage period (default: the publish default).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--write", is_flag=True,
              help="Add the clear matches to the configuration file (asks first; FILE.bak kept).")
@click.option("--yes", is_flag=True, help="With --write: do not ask.")
@click.pass_obj
def map_command(
    obj: State, partner: str, month: str | None, as_json: bool, write: bool, yes: bool
) -> None:
    """The ConnectWise companies that most likely are each usage row with no client.

    REST: per row, up to three active companies by similarity of normalised names (case,
    accents, punctuation, legal suffixes, word order); only a clear winner is proposed, ties
    and weak matches are shown as comments for you to choose. SOAP: the Managed IDs
    ConnectWise knows (GetManagedGroup) that no client uses. Never writes to ConnectWise.

    \b
    Examples:
      cwpublish map --partner acme
      cwpublish map --partner acme --write
    """
    from cwpublish.config.edit import add_clients
    from cwpublish.errors import InputError
    from cwpublish.publish import plan
    from cwpublish.render import map as map_text
    from cwpublish.usecases import map_clients

    obj.json = as_json
    config = obj.config
    p = plan.pick_partners(config, (partner,))[0]
    [period] = plan.resolve_periods(month, None, None)
    if period is not None:
        plan.check_not_future(p, period, "--month")
    doc = map_clients.build(p, period or plan.partner_period(p))
    if as_json:
        dump(doc)
    else:
        click.echo(map_text.to_text(doc), nl=False)
    if not write:
        return
    chosen = doc.get("clients") or []
    if not chosen:
        raise InputError("--write: no clear match to add (ties and weak matches are never "
                         "chosen for you: paste the one you mean)")
    entries = [map_text.client_line(c["name"], c["company"]) for c in chosen]
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("--write: not a terminal, so it cannot ask; add --yes")
        click.echo(shown(f"Add {len(entries)} clients to {config.path}?"), err=True)
        if not click.confirm("Write", default=False, err=True):
            from cwpublish.errors import EXIT_DECLINED

            sys.exit(EXIT_DECLINED)
    backup = add_clients(config.path, p.name, entries)
    click.echo(shown(f"Added {len(entries)} clients to {config.path} (previous file: {backup})."),
               err=True)
