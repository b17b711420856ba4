"""`credentials set|status|delete`: the secrets, in the keyring or secret files."""

from __future__ import annotations

import sys

import click

from cwpublish.cli.base import Group, State, cli, dump, exit_code_help, partner_option
from cwpublish.errors import EXIT_USAGE, InputError
from cwpublish.text.sanitize import shown


@cli.group(cls=Group, epilog=exit_code_help("credentials"))
def credentials() -> None:
    """Store, check and delete passwords in the OS keyring (never in the YAML).

    Where there is no keyring (containers, systemd, Kubernetes), a file
    $CREDENTIALS_DIRECTORY/partner.NAME (or .../smtp) is used instead, and wins over the
    keyring: mode 0600 or 0400, owned by the user cwpublish runs as (or root).

    \b
    Examples:
      cwpublish credentials set --partner acme
      printf '%s' "$PW" | cwpublish credentials set --partner acme
      cwpublish credentials status
    """


def _credential_target(config, partner: str | None, smtp: bool) -> tuple[str, str]:
    """The keyring key and a description of the password --partner/--smtp names."""
    from cwpublish.config import credentials as creds
    from cwpublish.publish.plan import pick_partners

    if bool(partner) == smtp:
        raise InputError("give exactly one of --partner NAME or --smtp")
    if smtp:
        if config.smtp is None:
            raise InputError("--smtp: the configuration has no smtp section")
        return creds.smtp_key(config.smtp), f"SMTP password for {config.smtp.username or '-'}"

    p = pick_partners(config, (partner,))[0]
    what = f"{creds.partner_secret_label(p)} of {creds.partner_secret_owner(p)} for {p.name}"
    return creds.partner_key(p), what


def _target_options(command):
    """--partner NAME | --smtp: which password a credentials command is about."""
    command = click.option("--smtp", is_flag=True, help="The SMTP login password.")(command)
    return partner_option(
        "The partner's ConnectWise secret (SOAP: integrator password; REST: API private key)."
    )(command)


_MAX_SECRET = 4096  # characters read from stdin for a password


@credentials.command("set", epilog=exit_code_help("credentials set"))
@_target_options
@click.pass_obj
def credentials_set(obj: State, partner: str | None, smtp: bool) -> None:
    """Store a password: asked without echo, or read from stdin when it is not a terminal.

    \b
    Example:
      cwpublish credentials set --partner acme
    """
    from cwpublish.config import credentials as creds

    key, what = _credential_target(obj.config, partner, smtp)
    if sys.stdin.isatty():
        secret = click.prompt(what, hide_input=True, confirmation_prompt=True)
    else:
        # All of stdin, less one final line break: a second line is refused (set_secret),
        # not silently dropped as readline() would.
        secret = sys.stdin.read(_MAX_SECRET + 1)
        secret = secret.removesuffix("\n").removesuffix("\r")
        if len(secret) > _MAX_SECRET:
            raise InputError(f"stdin: a password of at most {_MAX_SECRET} characters, please")
    creds.set_secret(key, secret)
    click.echo(shown(f"Stored the {what} in the keyring ({creds.backend_name()})."))
    _warn_if_file_wins(key)


def _warn_if_file_wins(key: str) -> None:
    """Say so when a file in $CREDENTIALS_DIRECTORY is what publishing will really use."""
    from cwpublish.config import credentials as creds

    path = creds.secret_file(key)
    if path is not None:
        click.echo(
            shown(
                f"cwpublish: warning: {path} exists and takes precedence over the keyring "
                f"($CREDENTIALS_DIRECTORY); change or remove that file too"
            ),
            err=True,
        )


@credentials.command("status", epilog=exit_code_help("credentials status"))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def credentials_status(obj: State, as_json: bool) -> None:
    """Show which passwords are present and where from: a file or the keyring (never their
    values).

    \b
    Example:
      cwpublish credentials status --json
    """
    from cwpublish.config import credentials as creds

    obj.json = as_json
    config = obj.config
    keys = [(f"partner:{p.name}", creds.partner_key(p)) for p in config.partners]
    if config.smtp and config.smtp.username:
        keys.append(("smtp", creds.smtp_key(config.smtp)))
    items = [_status_item(name, key) for name, key in keys]
    if as_json:
        dump({"backend": creds.backend_name(), "credentials": items})
    else:
        click.echo(f"keyring backend: {creds.backend_name()}")
        for item in items:
            if item["present"]:
                where = item["source"].replace("file:", "file ", 1)
                click.echo(shown(f"✓ {item['name']}: present ({where})"))
            else:
                click.echo(shown(f"✗ {item['name']}: {item.get('problem', 'missing')}"))
    missing = [i for i in items if not i["present"]]
    if missing:
        sys.exit(EXIT_USAGE)


def _status_item(name: str, key: str) -> dict:
    """{name, present, source} for one secret; an unusable file adds `problem` (its error)
    instead of stopping the listing, so every other secret is still shown."""
    from cwpublish.config import credentials as creds

    try:
        source = creds.secret_source(key)
    except creds.SecretFileError as e:
        path = creds.secret_file(key)
        return {"name": name, "present": False, "source": f"file:{path}", "problem": str(e)}
    return {"name": name, "present": source is not None, "source": source}


@credentials.command("delete", epilog=exit_code_help("credentials delete"))
@_target_options
@click.pass_obj
def credentials_delete(obj: State, partner: str | None, smtp: bool) -> None:
    """Delete a stored password.

    \b
    Example:
      cwpublish credentials delete --partner acme
    """
    from cwpublish.config import credentials as creds

    key, what = _credential_target(obj.config, partner, smtp)
    _warn_if_file_wins(key)
    if not creds.delete_secret(key):
        raise InputError(f"the {what} was not in the keyring")
    click.echo(shown(f"Deleted the {what}."))
