"""`history`, `check-config` and `credentials`: what happened, is it set up, the passwords."""

from __future__ import annotations

import sys

import click

from cwpublish.cli.base import Group, State, cli, dump, exit_code_help, partner_option
from cwpublish.errors import EXIT_USAGE, InputError
from cwpublish.sanitize import shown


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
    if ctx.invoked_subcommand:
        return
    ctx.obj.json = as_json
    from cwpublish import output
    from cwpublish.history import History

    entries = History(ctx.obj.config.state_dir).entries(partner, full=as_json)
    if as_json:
        dump(entries)
    else:
        zones = {p.name: p.timezone for p in ctx.obj.config.partners}
        colour = output.colour_enabled(sys.stdout.isatty())
        click.echo(output.history_text(entries, colour, zones))


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
    from cwpublish import output
    from cwpublish.history import History

    obj.json = as_json
    entry = History(obj.config.state_dir).find(entry_id)
    if entry is None:
        raise InputError(f"history: no single entry with ID {entry_id!r}")
    if as_json:
        dump(entry)
    else:
        click.echo(output.entry_detail(entry, output.colour_enabled(sys.stdout.isatty())))


@cli.command("check-config", epilog=exit_code_help("check-config"))
@partner_option("Only this partner (repeatable).", multiple=True)
@click.option(
    "--online", is_flag=True, help="Also log in to ConnectWise and verify every Managed ID."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def check_config(obj: State, partners: tuple[str, ...], online: bool, as_json: bool) -> None:
    """Check the configuration, keyring and usage; --online also asks ConnectWise.

    Prints a checklist (✓ ok, ! warning, ✗ failure) and exits 0 when nothing failed.

    \b
    Example:
      cwpublish -c cwpublish.yaml check-config --online
    """
    from cwpublish.errors import ConfigError, worst_exit_code
    from cwpublish.usecases.check_config import check_config as run_checks

    try:
        config = obj.config
    except ConfigError as e:
        if as_json:
            dump(
                {
                    "ok": False,
                    "checks": [
                        {
                            "status": "fail",
                            "scope": "config",
                            "message": f"{e.path}: {p}",
                            "exit_code": EXIT_USAGE,
                        }
                        for p in e.problems
                    ],
                }
            )
        else:
            for p in e.problems:
                click.echo(shown(f"✗ {e.path}: {p}"))
        sys.exit(EXIT_USAGE)
    checks = run_checks(config, partners, online)
    code = worst_exit_code([c.exit_code for c in checks if c.status == "fail"])
    if as_json:
        dump({"ok": code == 0, "checks": [c.to_dict() for c in checks]})
    else:
        marks = {"ok": "✓", "warn": "!", "fail": "✗"}
        for c in checks:
            click.echo(shown(f"{marks[c.status]} [{c.scope}] {c.message}"))  # ESC shown, not run
    if code:
        sys.exit(code)


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
    from cwpublish import credentials as creds

    if bool(partner) == smtp:
        raise InputError("give exactly one of --partner NAME or --smtp")
    if smtp:
        if config.smtp is None:
            raise InputError("--smtp: the configuration has no smtp section")
        return creds.smtp_key(config.smtp), f"SMTP password for {config.smtp.username or '-'}"
    from cwpublish.plan import pick_partners

    p = pick_partners(config, (partner,))[0]
    what = f"{creds.partner_secret_label(p)} of {creds.partner_secret_owner(p)} for {p.name}"
    return creds.partner_key(p), what


def _target_options(command):
    """--partner NAME | --smtp: which password a credentials command is about."""
    command = click.option("--smtp", is_flag=True, help="The SMTP login password.")(command)
    return partner_option("The partner's ConnectWise secret (integrator password).")(command)


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
    from cwpublish import credentials as creds

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
    from cwpublish import credentials as creds

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
    from cwpublish import credentials as creds

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
    from cwpublish import credentials as creds

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
    from cwpublish import credentials as creds

    key, what = _credential_target(obj.config, partner, smtp)
    _warn_if_file_wins(key)
    if not creds.delete_secret(key):
        raise InputError(f"the {what} was not in the keyring")
    click.echo(shown(f"Deleted the {what}."))
