"""`migrate --to rest`: a SOAP partner's REST configuration, read from ConnectWise."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cwpublish.cli.base import State, cli, dump, exit_code_help, partner_option
from cwpublish.errors import EXIT_DECLINED, EXIT_PARTIAL, InputError
from cwpublish.text.sanitize import shown

if TYPE_CHECKING:
    from cwpublish.config.model import Partner

_MAX_SECRET = 4096  # characters read from stdin for the private key


def _private_key() -> str:
    """Asked without echo on a terminal, else all of stdin less one final line break."""
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
@click.option("--write", is_flag=True, help="Switch the partner to REST in the configuration "
              "file and store the private key (asks first; FILE.bak kept).")
@click.option("--yes", is_flag=True, help="With --write: do not ask.")
@click.option("--force", is_flag=True,
              help="With --write: leave the clients that cannot be placed out (commented).")
@click.pass_obj
def migrate(obj: State, partner: str, to: str, public_key: str, client_id: str,
            site: str | None, as_json: bool, write: bool, yes: bool, force: bool) -> None:
    """Print the REST `connectwise:` section and each client's `company` for a SOAP partner.

    Each client's company is the one holding the configuration SOAP created for it
    (deviceIdentifier rcloud-<Managed ID>); clients that cannot be placed are listed with
    why (exit 3). Runs the REST pre-flight; writes nothing to ConnectWise. The private key
    is asked without echo (or read from stdin) and never printed.

    --write (after confirmation; --yes in a script) replaces the partner's `connectwise:`
    section and sets each client's `company` in the file, keeping its comments, and stores
    the private key in the keyring at that same moment. A client that cannot be placed
    stops the write (exit 3) unless --force leaves it out, commented out and named.

    \b
    Example:
      printf '%s' "$KEY" | cwpublish migrate --partner acme --to rest \\
          --public-key AbC123xYz --client-id 3f0c5a2e-1b2c-4d5e-8f90-123456789abc
    """
    # the use case loads when the command runs (the CLI seam: the nightly no-op stays light)
    from cwpublish.publish import plan
    from cwpublish.render import map as map_text
    from cwpublish.usecases import migrate as migration

    obj.json = as_json
    config = obj.config
    p = plan.pick_partners(config, (partner,))[0]
    if write and not yes and not sys.stdin.isatty():
        raise InputError("--write: not a terminal, so it cannot ask; add --yes")
    private_key = _private_key()
    doc = migration.build(p, public_key, client_id, site, private_key)
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
        if not write:
            lines.append("# after switching the file to this section, store the private key: "
                         f"cwpublish credentials set --partner {p.name}")
        click.echo("\n".join(lines))
    unplaced = ", ".join(doc["unplaced"])
    if doc["unplaced"]:
        stop = " (nothing written; --force leaves them out)" if write and not force else ""
        click.echo(shown(f"{len(doc['unplaced'])} clients not placed: {unplaced}{stop}"),
                   err=True)
        if not write or not force:
            sys.exit(EXIT_PARTIAL)
    if write:
        _write(config.path, p, doc, private_key, yes)
    if doc["unplaced"]:
        sys.exit(EXIT_PARTIAL)


def _write(path: Path, p: Partner, doc: dict, private_key: str, yes: bool) -> None:
    """Ask, then switch the file and store the key (usecases/migrate.write); 10 on "no"."""
    from cwpublish.config import credentials as creds
    from cwpublish.usecases import migrate as migration

    if not yes:
        click.echo(shown(f"Switch partner {p.name} to REST in {path} and store its REST "
                         "private key in the keyring (replacing the SOAP password)?"), err=True)
        if not click.confirm("Write", default=False, err=True):
            sys.exit(EXIT_DECLINED)
    done = migration.write(path, p, doc, private_key)
    left = f"; left out (commented out): {', '.join(done['left_out'])}" if done["left_out"] else ""
    click.echo(shown(f"Switched partner {p.name} to REST in {path} (previous file: "
                     f"{done['backup']}) and stored the REST private key in the keyring{left}."),
               err=True)
    secret_file = creds.secret_file(creds.partner_key(p))
    if secret_file is not None:
        click.echo(shown(f"cwpublish: warning: {secret_file} exists and takes precedence over "
                         "the keyring ($CREDENTIALS_DIRECTORY); put the REST private key there"),
                   err=True)
