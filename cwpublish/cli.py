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
            if isinstance(ctx.obj, _State) and ctx.obj.json:
                _dump({"status": "error", "exit_code": e.exit_code, "error": str(e), "entries": []})
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
        self.json = False  # set by commands given --json: errors are then JSON too
        self._config = None

    @property
    def config(self):
        from cwpublish.config import find_config_path, load_config

        if self._config is None:
            self._config = load_config(find_config_path(self.config_path))
        return self._config


def _complete_partners(ctx: click.Context, param: click.Parameter, incomplete: str):
    return [p.name for p in _completion_config(ctx) if p.name.startswith(incomplete)]


def _complete_clients(ctx: click.Context, param: click.Parameter, incomplete: str):
    from click.shell_completion import CompletionItem

    wanted = set(ctx.params.get("partners") or ())
    return [
        CompletionItem(c.name, help=c.managed_id)
        for p in _completion_config(ctx)
        if not wanted or p.name in wanted
        for c in p.clients
        if c.name.lower().startswith(incomplete.lower())
    ]


def _completion_config(ctx: click.Context):
    """The partners of the configuration, for shell completion (nothing if it cannot load)."""
    from cwpublish.config import find_config_path, load_config

    root = ctx.find_root()
    try:
        return load_config(find_config_path(root.params.get("config_path"))).partners
    except CwpublishError:
        return ()


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
    "--partner",
    "partners",
    multiple=True,
    metavar="NAME",
    shell_complete=_complete_partners,
    help="Only this partner (repeatable).",
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="NAME_OR_MANAGED_ID",
    shell_complete=_complete_clients,
    help="Only this client (repeatable); includes clients with publish: false.",
)
@click.option("--month", metavar="YYYY-MM", help="Publish this period instead of the default.")
@click.option("--from", "first", metavar="YYYY-MM", help="Backfill from this month...")
@click.option("--to", "last", metavar="YYYY-MM", help="...to this month (default: this month).")
@click.option(
    "--initiated-by",
    metavar="EMAIL",
    help="Recorded in history (default $CWPUBLISH_INITIATED_BY, else user@host).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would be sent (-v: the SOAP body, password masked); send nothing.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document {status, exit_code, entries} on stdout.",
)
@click.option(
    "--scheduled", is_flag=True, help="Nightly cron mode: publish only partners whose day it is."
)
@click.option(
    "--no-email", is_flag=True, help="Do not email the managers (scripts that report elsewhere)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Publish clients already published for the period (manual), or a done "
    "period again (--scheduled).",
)
@click.pass_obj
def publish(
    obj: _State,
    partners: tuple[str, ...],
    clients: tuple[str, ...],
    month: str | None,
    first: str | None,
    last: str | None,
    initiated_by: str | None,
    yes: bool,
    dry_run: bool,
    as_json: bool,
    scheduled: bool,
    no_email: bool,
    force: bool,
) -> None:
    """Publish each selected client's billable space for the month to ConnectWise.

    Without --scheduled this publishes now: the current month in the partner's time zone (or
    last month with schedule.period: previous), --month, or each month of --from/--to (oldest
    first; stops at the first month that fails entirely). Clients already published for a
    period are only sent again deliberately: on a terminal it asks, otherwise it needs --force.
    With --scheduled it acts only on each partner's configured day and never publishes a
    period twice; with nothing due it prints nothing and exits 0.

    \b
    Examples:
      cwpublish publish --partner acme
      cwpublish publish --partner acme --client "Contoso Dental" --month 2026-10 --yes
      cwpublish publish --partner acme --from 2026-06 --to 2026-09 --yes --json
      cwpublish publish --dry-run -v
      cwpublish publish --scheduled          # nightly, from cron
    """
    from cwpublish import runner

    obj.json = as_json
    config = obj.config
    if scheduled:
        if clients or month or first or last or dry_run:
            raise InputError(
                "--scheduled publishes whole partners for their due period; "
                "--client, --month, --from/--to and --dry-run are for manual "
                "publishing"
            )
        result = runner.run_scheduled(
            config, partners, initiated_by, force=force, notify=not no_email
        )
    else:
        result = _publish_manual(
            obj,
            config,
            partners,
            clients,
            runner.resolve_periods(month, first, last),
            initiated_by,
            yes,
            dry_run,
            force,
            not no_email,
        )
        if result is None:
            return
    _print_result(result, as_json)
    sys.exit(result.exit_code) if result.exit_code else None


def _publish_manual(
    obj: _State, config, partners, clients, periods, initiated_by, yes, dry_run, force, notify
):
    from cwpublish import output, runner

    who = initiated_by or runner.default_initiated_by()
    plans = runner.plan_manual(config, partners, clients, periods, who, need_password=not dry_run)
    broken = [p for p in plans if p.error]
    if len(periods) > 1 and broken and not dry_run:  # a backfill starts only if all can run
        listing = "\n".join(f"  {p.partner.name} {p.period}: {p.error}" for p in broken)
        raise InputError(
            f"backfill refused, nothing was sent: {len(broken)} month(s) cannot "
            f"be published:\n{listing}"
        )
    duplicates = [] if force else runner.find_duplicates(config, plans)
    if dry_run:
        return _dry_run(obj, plans, duplicates)
    interactive = sys.stdin.isatty() and not yes and not obj.json
    if duplicates:
        listing = "\n".join(f"  {d}" for d in duplicates)
        if not interactive:
            raise InputError(
                f"{len(duplicates)} client(s) were already published for the "
                f"period; nothing was sent. Add --force to publish them again:"
                f"\n{listing}"
            )
        click.echo(f"Already published for the period:\n{listing}", err=True)
        if not click.confirm("Publish these clients AGAIN?", default=False, err=True):
            plans = runner.drop_duplicates(plans, duplicates)
            if not plans:
                raise _Aborted("aborted; nothing was sent")
    if interactive:
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
    return runner.execute_plans(
        config,
        plans,
        progress=_progress_bar(obj, plans),
        notify=notify,
        stop_on_failure=len(periods) > 1,
    )


def _dry_run(obj: _State, plans, duplicates) -> None:
    from cwpublish import output
    from cwpublish.errors import worst_exit_code
    from cwpublish.publishing import preview

    previews = []
    for plan in plans:
        dup = {
            d.managed_id
            for d in duplicates
            if (d.partner, d.period) == (plan.partner.name, str(plan.period))
        }
        previews.append(preview(plan, dup))
    code = worst_exit_code(
        [p["exit_code"] for p in previews] + ([EXIT_USAGE] if duplicates else [])
    )
    if obj.json:
        _dump({"status": "dry-run", "exit_code": code, "entries": previews})
    else:
        for p in previews:
            click.echo(output.entry_text(p, output.colour_enabled(sys.stdout.isatty())))
        if obj.verbose:
            from cwpublish.connectwise import preview_envelope

            for plan in plans:
                if plan.to_send:
                    batch = plan.to_send[: plan.partner.connectwise.batch_size]
                    click.echo(
                        f"\nSOAP body of the first UpdateManagedDevices call for "
                        f"{plan.partner.name} {plan.period} ({len(batch)} devices):"
                    )
                    click.echo(preview_envelope(plan.partner.connectwise, batch))
        click.echo("Dry run: nothing was sent, nothing recorded.", err=True)
    sys.exit(code) if code else None


def _progress_bar(obj: _State, plans):
    """A progress bar on a terminal when a publish has more than a screenful of clients."""
    import shutil

    if obj.json or not sys.stderr.isatty():
        return None
    if sum(len(p.to_send) for p in plans) <= shutil.get_terminal_size().lines:
        return None

    def for_plan(plan):
        bar = click.progressbar(
            length=len(plan.to_send), file=sys.stderr, label=f"{plan.partner.name} {plan.period}"
        )
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            bar.update(n)
            if done >= len(plan.to_send):
                bar.render_finish()

        return advance

    return for_plan


def _print_result(result, as_json: bool) -> None:
    entries = [e.to_dict() for e in result.entries]
    if as_json:
        statuses = {e["status"] for e in entries}
        status = (
            "nothing-due" if not entries else statuses.pop() if len(statuses) == 1 else "partial"
        )
        _dump(
            {
                "status": status,
                "exit_code": result.exit_code,
                "entries": entries,
                "not_attempted": [{"partner": p, "period": m} for p, m in result.not_attempted],
            }
        )
        return
    from cwpublish import output

    colour = output.colour_enabled(sys.stdout.isatty())
    for entry in entries:
        click.echo(output.entry_text(entry, colour))
    if result.not_attempted:
        left = ", ".join(f"{p} {m}" for p, m in result.not_attempted)
        click.echo(f"cwpublish: stopped after a failed month; not attempted: {left}", err=True)


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


@cli.command()
@click.pass_obj
def init(obj: _State) -> None:
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
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror}") from None
    c = f"cwpublish -c {path}" if obj.config_path else "cwpublish"
    click.echo(
        f"Wrote a commented configuration to {path}. Next:\n"
        "  1. Edit it: ConnectWise site, Company ID, integrator login, Management IT "
        "Name, usage source, clients.\n"
        f"  2. {c} credentials set --partner acme\n"
        f"  3. {c} check-config --online\n"
        f"  4. {c} publish --dry-run"
    )


@cli.command()
@click.option(
    "--partner",
    required=True,
    metavar="NAME",
    shell_complete=_complete_partners,
    help="The partner whose clients are reported.",
)
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
    obj: _State, partner: str, month: str | None, fmt: str, output: str | None, send_email: bool
) -> None:
    """The usage report for a partner, for when publishing is impossible (an outage).

    Per client: name, Managed ID, billable GB, period, and whether it reached ConnectWise
    (from the ledger); usage rows with no client are listed too.

    \b
    Examples:
      cwpublish report --partner acme --month 2026-10 --format html --output acme.html
      cwpublish report --partner acme --email
    """
    from cwpublish import report as reports
    from cwpublish import runner
    from cwpublish.publishing import partner_period

    config = obj.config
    p = runner.pick_partners(config, (partner,))[0]
    [period] = runner.resolve_periods(month, None, None)
    data = reports.build(config, p, period or partner_period(p))
    text = reports.to_csv(data) if fmt == "csv" else reports.to_html(config, data)
    if output:
        from pathlib import Path

        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise InputError(f"--output {output}: cannot write: {e.strerror}") from None
        click.echo(f"Wrote the {data['period']} report of {p.name} to {output}.", err=True)
    elif not send_email:
        click.echo(text, nl=False)
    if send_email:
        reports.email(config, p, data)
        click.echo(f"Emailed the report to {', '.join(p.managers)}.", err=True)


def main() -> None:
    cli(prog_name="cwpublish")
