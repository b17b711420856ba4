"""The command line: parse options, call the core, print results, map errors to exit codes.

This is the only module that imports click.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from cwpublish import __version__
from cwpublish.errors import EXIT_CODES, EXIT_USAGE, CwpublishError, InputError

EXIT_CODE_HELP = "\b\nExit codes:\n" + "\n".join(f"  {k:>2}  {v}" for k, v in EXIT_CODES.items())
log = logging.getLogger("cwpublish")


class _Group(click.Group):
    """Turns every CwpublishError into a one-line message and its documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CwpublishError as e:
            for line in str(e).splitlines():
                click.echo(f"cwpublish: error: {line}", err=True)
            ctx.exit(e.exit_code)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = {"WARNING": "warning: ", "ERROR": "error: "}.get(record.levelname, "")
        return f"cwpublish: {level}{record.getMessage()}"


def _setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(
        logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    )


class _State:
    def __init__(self, config_path: str | None, verbose: int):
        self.config_path = config_path
        self.verbose = verbose
        self._config = None

    @property
    def config(self):
        from cwpublish.config import find_config_path, load_config

        if self._config is None:
            self._config = load_config(find_config_path(self.config_path))
        return self._config


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(cls=_Group, epilog=EXIT_CODE_HELP)
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="FILE",
    envvar=None,
    help="Configuration file (default: $CWPUBLISH_CONFIG, ./cwpublish.yaml, "
    "~/.config/cwpublish/config.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
@click.version_option(__version__, prog_name="cwpublish")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Publish rCloud billable backup space (GB per client and month) to ConnectWise PSA.

    \b
    Example:
      cwpublish -c /etc/cwpublish.yaml publish --partner acme
    """
    _setup_logging(verbose)
    ctx.obj = _State(config_path, verbose)


@cli.command(epilog=EXIT_CODE_HELP)
@click.option(
    "--partner", "partners", multiple=True, metavar="NAME", help="Only this partner (repeatable)."
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="NAME_OR_MANAGED_ID",
    help="Only this client (repeatable); includes clients with publish: false.",
)
@click.option("--month", metavar="YYYY-MM", help="Publish this period instead of the default.")
@click.option(
    "--initiated-by",
    metavar="EMAIL",
    help="Recorded in history (default $CWPUBLISH_INITIATED_BY, else user@host).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--scheduled", is_flag=True, help="Nightly cron mode: publish only partners whose day it is."
)
@click.option(
    "--no-email", is_flag=True, help="Do not email the managers (scripts that report elsewhere)."
)
@click.option(
    "--force",
    is_flag=True,
    help="With --scheduled: publish the due period even if it was already published automatically.",
)
@click.pass_obj
def publish(
    obj: _State,
    partners: tuple[str, ...],
    clients: tuple[str, ...],
    month: str | None,
    initiated_by: str | None,
    yes: bool,
    scheduled: bool,
    no_email: bool,
    force: bool,
) -> None:
    """Publish each selected client's billable space for the month to ConnectWise.

    Without --scheduled this publishes now (current month in the partner's time zone, or
    schedule.period: previous). With --scheduled it acts only on each partner's configured day
    and never publishes a period twice; with nothing due it prints nothing and exits 0.

    \b
    Examples:
      cwpublish publish --partner acme
      cwpublish publish --partner acme --client "Contoso Dental" --month 2026-10 --yes
      cwpublish publish --scheduled          # nightly, from cron
    """
    from cwpublish import runner

    config = obj.config
    if scheduled:
        if clients or month:
            raise InputError(
                "--scheduled publishes whole partners for their due period; "
                "--client and --month are for manual publishing"
            )
        result = runner.run_scheduled(
            config, partners, initiated_by, force=force, notify=not no_email
        )
    else:
        if force:
            raise InputError("--force is only meaningful with --scheduled")
        from cwpublish import output

        period = _parse_month(month)
        who = initiated_by or runner.default_initiated_by()
        plans = runner.plan_manual(config, partners, clients, period, who)
        if not yes and sys.stdin.isatty():
            for plan in plans:
                click.echo(
                    output.plan_text(
                        plan.partner.name,
                        str(plan.period),
                        plan.partner.connectwise.site,
                        _plan_rows(plan),
                    )
                )
            if not click.confirm("Publish to ConnectWise?", default=False):
                raise _Aborted("aborted; nothing was sent")
        result = runner.execute_plans(config, plans, notify=not no_email)
    if result.entries:
        from cwpublish import output

        colour = output.colour_enabled(sys.stdout.isatty())
        for entry in result.entries:
            click.echo(output.entry_text(entry.to_dict(), colour))
    sys.exit(result.exit_code) if result.exit_code else None


def _parse_month(month: str | None):
    from datetime import date

    from cwpublish.period import Period

    if month is None:
        return None
    try:
        period = Period.parse(month)
    except ValueError as e:
        raise InputError(f"--month: {e}") from None
    if period > Period.of(date.today()):
        raise InputError(f"--month: {period} is in the future")
    return period


def _plan_rows(plan) -> list[list[str]]:
    from cwpublish.output import gb

    rows = [[d.client, d.managed_id, gb(float(d.billable_gb)), "send"] for d in plan.to_send]
    rows += [[c.name, c.managed_id, "-", f"FAIL: {c.error}"] for c in plan.failed]
    rows += [[u["client"], "-", gb(u["billable_gb"]), "unmapped: not sent"] for u in plan.unmapped]
    return rows


class _Aborted(CwpublishError):
    exit_code = 1


@cli.group(cls=_Group, invoke_without_command=True)
@click.option("--partner", metavar="NAME", help="Only this partner.")
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
    from cwpublish import output
    from cwpublish.history import History

    entries = History(ctx.obj.config.state_dir).entries(partner)
    if as_json:
        _dump(entries)
    else:
        click.echo(output.history_text(entries, output.colour_enabled(sys.stdout.isatty())))


@history.command("show")
@click.argument("entry_id")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
@click.pass_obj
def history_show(obj: _State, entry_id: str, as_json: bool) -> None:
    """Show one publish operation in full (any unique prefix of its ID).

    \b
    Example:
      cwpublish history show 3f2a9c
    """
    from cwpublish import output
    from cwpublish.history import History

    entry = History(obj.config.state_dir).find(entry_id)
    if entry is None:
        raise InputError(f"history: no single entry with ID {entry_id!r}")
    if as_json:
        _dump(entry)
    else:
        click.echo(output.entry_detail(entry, output.colour_enabled(sys.stdout.isatty())))


@cli.command("check-config", epilog=EXIT_CODE_HELP)
@click.option("--partner", "partners", multiple=True, metavar="NAME", help="Only this partner.")
@click.option(
    "--online", is_flag=True, help="Also log in to ConnectWise and verify every Managed ID."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def check_config(obj: _State, partners: tuple[str, ...], online: bool, as_json: bool) -> None:
    """Check the configuration, keyring and usage; --online also asks ConnectWise.

    Prints a checklist (✓ ok, ! warning, ✗ failure) and exits 0 when nothing failed.

    \b
    Example:
      cwpublish -c cwpublish.yaml check-config --online
    """
    from cwpublish.check import check_config as run_checks
    from cwpublish.errors import ConfigError, worst_exit_code
    from cwpublish.runner import pick_partners

    try:
        config = obj.config
    except ConfigError as e:
        if as_json:
            _dump(
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
                click.echo(f"✗ {e.path}: {p}")
        sys.exit(EXIT_USAGE)
    checks = run_checks(config, pick_partners(config, partners), online)
    code = worst_exit_code([c.exit_code for c in checks if c.status == "fail"])
    if as_json:
        _dump({"ok": code == 0, "checks": [c.to_dict() for c in checks]})
    else:
        marks = {"ok": "✓", "warn": "!", "fail": "✗"}
        for c in checks:
            click.echo(f"{marks[c.status]} [{c.scope}] {c.message}")
    sys.exit(code) if code else None


@cli.group(cls=_Group)
def credentials() -> None:
    """Store, check and delete passwords in the OS keyring (never in the YAML).

    \b
    Examples:
      cwpublish credentials set --partner acme
      printf '%s' "$PW" | cwpublish credentials set --partner acme
      cwpublish credentials status
    """


def _credential_target(config, partner: str | None, smtp: bool) -> tuple[str, str]:
    from cwpublish import credentials as creds

    if bool(partner) == smtp:
        raise InputError("give exactly one of --partner NAME or --smtp")
    if smtp:
        if config.smtp is None:
            raise InputError("--smtp: the configuration has no smtp section")
        return creds.smtp_key(config.smtp), f"SMTP password for {config.smtp.username or '-'}"
    from cwpublish.runner import pick_partners

    p = pick_partners(config, (partner,))[0]
    return creds.partner_key(
        p
    ), f"integrator password of {p.connectwise.integrator_username} for {p.name}"


@credentials.command("set")
@click.option("--partner", metavar="NAME", help="The partner's integrator password.")
@click.option("--smtp", is_flag=True, help="The SMTP login password.")
@click.pass_obj
def credentials_set(obj: _State, partner: str | None, smtp: bool) -> None:
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
        secret = sys.stdin.readline().rstrip("\r\n")
    creds.set_secret(key, secret)
    click.echo(f"Stored the {what} in the keyring ({creds.backend_name()}).")


@credentials.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def credentials_status(obj: _State, as_json: bool) -> None:
    """Show which passwords are present in the keyring (never their values).

    \b
    Example:
      cwpublish credentials status --json
    """
    from cwpublish import credentials as creds

    config = obj.config
    items = [
        {"name": f"partner:{p.name}", "present": creds.has_secret(creds.partner_key(p))}
        for p in config.partners
    ]
    if config.smtp and config.smtp.username:
        items.append({"name": "smtp", "present": creds.has_secret(creds.smtp_key(config.smtp))})
    if as_json:
        _dump({"backend": creds.backend_name(), "credentials": items})
    else:
        click.echo(f"keyring backend: {creds.backend_name()}")
        for item in items:
            click.echo(
                f"{'✓' if item['present'] else '✗'} {item['name']}: "
                f"{'present' if item['present'] else 'missing'}"
            )
    missing = [i for i in items if not i["present"]]
    sys.exit(EXIT_USAGE) if missing else None


@credentials.command("delete")
@click.option("--partner", metavar="NAME", help="The partner's integrator password.")
@click.option("--smtp", is_flag=True, help="The SMTP login password.")
@click.pass_obj
def credentials_delete(obj: _State, partner: str | None, smtp: bool) -> None:
    """Delete a stored password.

    \b
    Example:
      cwpublish credentials delete --partner acme
    """
    from cwpublish import credentials as creds

    key, what = _credential_target(obj.config, partner, smtp)
    if not creds.delete_secret(key):
        raise InputError(f"the {what} was not in the keyring")
    click.echo(f"Deleted the {what}.")


def main() -> None:
    cli(prog_name="cwpublish")
