"""`migrate --to rest`: a SOAP partner's REST configuration, read from ConnectWise."""

from __future__ import annotations

import sys

import click

from cwpublish.cli.base import State, cli, dump, exit_code_help, partner_option
from cwpublish.text.sanitize import shown

_MAX_SECRET = 4096  # characters read from stdin for the private key


def _private_key() -> str:
    """Asked without echo on a terminal, else all of stdin less one final line break."""
    from cwpublish.errors import InputError

    if sys.stdin.isatty():
        return click.prompt("API private key", hide_input=True)
    key = sys.stdin.read(_MAX_SECRET + 1).removesuffix("\n").removesuffix("\r")
    if not key or len(key) > _MAX_SECRET or "\n" in key:
        raise InputError("stdin: the API private key, one line, please")
    return key


@cli.command("migrate", epilog=exit_code_help("migrate"))
@partner_option("The SOAP partner to move.", required=True)
@click.option("--to", "to", type=click.Choice(["rest"]), required=True, help="The target API.")
@click.option("--public-key", required=True, help="The REST API member's public key.")
@click.option("--client-id", required=True, help="The integration's clientId GUID.")
@click.option("--site", metavar="URL", help="The REST host, when it differs from the SOAP site.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def migrate(obj: State, partner: str, to: str, public_key: str, client_id: str,
            site: str | None, as_json: bool) -> None:
    """Print the REST `connectwise:` section and each client's `company` for a SOAP partner.

    Each client's company is the one holding the configuration SOAP created for it
    (deviceIdentifier rcloud-<Managed ID>); clients that cannot be placed are listed with
    why (exit 3). Runs the REST pre-flight; writes nothing to ConnectWise. The private key
    is asked without echo (or read from stdin) and never printed.

    \b
    Example:
      printf '%s' "$KEY" | cwpublish migrate --partner acme --to rest \\
          --public-key AbC123xYz --client-id 3f0c5a2e-1b2c-4d5e-8f90-123456789abc
    """
    from cwpublish.errors import EXIT_PARTIAL
    from cwpublish.publish import plan
    from cwpublish.render import map as map_text
    from cwpublish.usecases import migrate as migration

    obj.json = as_json
    p = plan.pick_partners(obj.config, (partner,))[0]
    doc = migration.build(p, public_key, client_id, site, _private_key())
    if as_json:
        dump(doc)
    else:
        lines = [f"# {p.name}: REST pre-flight: {doc['preflight']}", "connectwise:"]
        lines += [f"  {k}: {map_text.quoted(v) if isinstance(v, str) else 'true'}"
                  for k, v in doc["connectwise"].items()]
        lines.append("clients:")
        for c in doc["clients"]:
            if c["company"]:
                line = map_text.client_line(c["name"], c["company"], c["managed_id"])
                lines.append(f"  {line}")
            else:
                lines.append(f"  # {shown(c['name'])} ({shown(c['managed_id'])}): "
                             f"not placed: {shown(c['problem'])}")
        lines.append(f"# then store the private key: cwpublish credentials set --partner {p.name}")
        click.echo("\n".join(lines))
    if doc["unplaced"]:
        click.echo(shown(f"{len(doc['unplaced'])} clients not placed: "
                         f"{', '.join(doc['unplaced'])}"), err=True)
        sys.exit(EXIT_PARTIAL)
