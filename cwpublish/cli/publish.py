"""`cwpublish publish`: manual publishing, backfills, dry runs, and the nightly --scheduled run."""

from __future__ import annotations

import sys

import click

from cwpublish import log
from cwpublish.cli.base import (
    EXIT_CODE_HELP,
    State,
    cli,
    complete_clients,
    dump,
    partner_option,
)
from cwpublish.errors import InputError


@cli.command(epilog=EXIT_CODE_HELP)
@partner_option("Only this partner (repeatable).", multiple=True)
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="NAME_OR_MANAGED_ID",
    shell_complete=complete_clients,
    help="Only this client (repeatable); includes clients with publish: false.",
)
@click.option("--month", metavar="YYYY-MM", help="Publish this period instead of the default.")
@click.option("--from", "first", metavar="YYYY-MM", help="Backfill from this month...")
@click.option("--to", "last", metavar="YYYY-MM", help="...to this month (default: this month).")
@click.option(
    "--retry",
    metavar="ID",
    help="Publish again the clients of history entry ID (any unique prefix) that did not "
    "reach ConnectWise, for its partner and period.",
)
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
    help="Publish clients already published for the period, or an older month over a newer "
    "one ConnectWise holds (manual); a done period again (--scheduled).",
)
@click.pass_obj
def publish(
    obj: State,
    partners: tuple[str, ...],
    clients: tuple[str, ...],
    month: str | None,
    first: str | None,
    last: str | None,
    retry: str | None,
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
    period are only sent again deliberately, and a month older than the one ConnectWise holds
    for a client (it holds one value) only replaces it deliberately: on a terminal it asks,
    otherwise it needs --force.
    With --retry ID it publishes again exactly the clients of that history entry that did not
    reach ConnectWise (failed, or unanswered in a killed run), for the entry's partner and
    period; with none left it says so and exits 0.
    With --scheduled it acts only on each partner's configured day and never publishes a
    period twice; with nothing due it prints nothing and exits 0.

    \b
    Examples:
      cwpublish publish --partner acme
      cwpublish publish --partner acme --client "Contoso Dental" --month 2026-10 --yes
      cwpublish publish --partner acme --from 2026-06 --to 2026-09 --yes --json
      cwpublish publish --retry 3f2a9c       # what `history show 3f2a9c` did not publish
      cwpublish publish --dry-run -v
      cwpublish publish --scheduled          # nightly, from cron
    """
    # Each path loads its use case when it runs: the nightly no-op (--scheduled, nothing due)
    # loads no manual-publish code (tests/unit/test_layers.py names these lazy seams).
    obj.json = as_json
    if retry is not None:
        from cwpublish.usecases.retry import check_retry_alone

        check_retry_alone(
            {
                "--partner": partners,
                "--client": clients,
                "--month": month,
                "--from": first,
                "--to": last,
                "--scheduled": scheduled,
            }
        )
    config = obj.config
    if scheduled:
        from cwpublish.usecases import scheduled_publish

        if clients or month or first or last:
            raise InputError(
                "--scheduled publishes whole partners for their due period; "
                "--client, --month and --from/--to are for manual publishing"
            )
        if dry_run:  # tonight's run, previewed: nothing recorded, pinged or sent
            from cwpublish.usecases.scheduled_preview import preview_tonight

            _print_dry_run(
                obj, preview_tonight(config, partners, initiated_by, force, obj.verbose > 0)
            )
            return
        result = scheduled_publish.run_scheduled(
            config, partners, initiated_by, force=force, notify=not no_email
        )
        _print_result(result, as_json, _apis(config), obj.verbose)
        if result.exit_code:
            sys.exit(result.exit_code)
        return
    from cwpublish.usecases import dry_run as dry_run_case
    from cwpublish.usecases import manual_publish
    from cwpublish.usecases.retry import NothingToRetry

    request = manual_publish.ManualRequest(
        partners, clients, month, first, last, initiated_by, force, not no_email, retry
    )
    try:
        if dry_run:
            _print_dry_run(obj, dry_run_case.dry_run(config, request, bodies=obj.verbose > 0))
            return
        # --json never implies yes: a person at a terminal is still asked (issue 21, item 1)
        prompter = _TerminalPrompter(_asks(yes), obj.verbose)
        result = manual_publish.publish_manual(config, request, prompter, _progress_bar(obj))
    except NothingToRetry as e:
        _print_nothing_to_retry(str(e), as_json)
        return
    _print_result(result, as_json, _apis(config), obj.verbose)
    if result.exit_code:
        sys.exit(result.exit_code)


def _asks(yes: bool) -> bool:
    """True when a person is asked: stdin is a terminal and no --yes. The plan and question go
    to stderr, so a terminal whose stderr goes elsewhere (2>/dev/null, 2>&-, 2>log) is refused
    rather than left waiting for an answer given blind."""
    if yes or not sys.stdin.isatty():
        return False
    if sys.stderr is None or not sys.stderr.isatty():
        raise InputError(
            "publish asks at the terminal, but stderr (where the plan and question go) is not "
            "the terminal; let stderr reach it, or give --yes"
        )
    return True


class _TerminalPrompter:
    """Asks at a terminal (manual_publish.Prompter); never asked when not interactive. Every
    question and plan goes to stderr: stdout may be piped (`| tail`, `| tee log`)."""

    def __init__(self, interactive: bool, verbose: int = 0):
        self.interactive = interactive
        self.verbose = verbose
        self.duplicates = 0  # accepted to be sent again (the summary line counts them)

    def confirm_duplicates(self, duplicates) -> bool:
        listing = "\n".join(f"  {d}" for d in duplicates)
        click.echo(f"Already published for the period:\n{listing}", err=True)
        again = click.confirm("Publish these clients AGAIN?", default=False, err=True)
        self.duplicates += len(duplicates) if again else 0
        return again

    def confirm_overwrites(self, overwrites) -> bool:
        from cwpublish.publish.overwrites import safe_advice

        listing = "\n".join(f"  {o}" for o in overwrites)
        advice = "\n".join(safe_advice(overwrites))
        click.echo(f"ConnectWise holds a newer month for:\n{listing}\n{advice}", err=True)
        return click.confirm(
            "Send the older month(s) anyway, replacing the newer one?", default=False, err=True
        )

    def confirm_invoiced(self, lines) -> bool:
        listing = "\n".join(f"  {line}" for line in lines)
        click.echo(
            "Invoiced after the day this period was to be published (the usage missed that "
            f"invoice; publishing now puts it on the next one, which next month's publish "
            f"overwrites):\n{listing}",
            err=True,
        )
        return click.confirm("Publish these clients anyway?", default=False, err=True)

    def confirm_plans(self, plans) -> bool:
        from cwpublish.render import output, screenful

        for plan in plans:
            rows = _plan_rows(plan)
            hidden = 0
            if screenful.beyond_screenful(len(rows), self.verbose):
                rows, hidden = screenful.attention_rows(rows, "send")
            text = output.plan_text(
                plan.partner.name, str(plan.period), plan.partner.connectwise.site, rows
            )
            click.echo(text, err=True)
            if hidden:
                click.echo(f"  ({hidden} row(s) to send not shown; -v shows every row)", err=True)
            for note in plan.notes:
                click.echo(f"  note: {note}", err=True)
        click.echo(
            screenful.plan_summary(
                sum(len(p.to_send) for p in plans),
                sum(float(r.billable_gb) for p in plans for r in p.to_send),
                sorted({str(p.period) for p in plans}),
                self.duplicates,
                sorted({p.partner.name for p in plans}),
            ),
            err=True,
        )
        return click.confirm("Publish to ConnectWise?", default=False, err=True)


def _print_dry_run(obj: State, dry) -> None:
    from cwpublish.render import output

    if obj.json:
        dump({"status": "dry-run", "exit_code": dry.exit_code, "entries": dry.previews})
    else:
        for p, typed in zip(dry.previews, dry.entries(), strict=True):
            colour = output.colour_enabled(sys.stdout.isatty())
            api = _apis(obj.config).get(typed.partner)
            click.echo(output.entry_text(typed, colour, api, preview=p))
            for note in typed.warnings:
                click.echo(f"  note: {note}")
        for body in dry.bodies:
            click.echo("\n" + body)
        log.notice("Dry run: nothing was sent, nothing recorded.")
    if dry.exit_code:
        sys.exit(dry.exit_code)


def _print_nothing_to_retry(message: str, as_json: bool) -> None:
    """--retry of an entry with nothing left: the outcome, exit 0 (nothing failed)."""
    if as_json:
        dump(
            {
                "status": "nothing-to-retry",
                "exit_code": 0,
                "message": message,
                "entries": [],
                "not_attempted": [],
            }
        )
    else:
        click.echo(message)


def _progress_bar(obj: State):
    """A progress bar on a terminal when a plan has more than a screenful of clients."""
    import shutil

    if obj.json or not sys.stderr.isatty():
        return None

    def for_plan(plan):
        if len(plan.to_send) <= shutil.get_terminal_size().lines:
            return None
        from cwpublish import interrupt  # signal's enums: not on the nightly no-op

        bar = click.progressbar(
            length=len(plan.to_send), file=sys.stderr, label=f"{plan.partner.name} {plan.period}"
        )
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if interrupt.requested():  # the rest is not sent: the bar stays where it stopped
                return
            bar.update(n)
            if done >= len(plan.to_send):
                bar.render_finish()

        return advance

    return for_plan


def _apis(config) -> dict[str, str]:
    """partner -> its connectwise.api (the advice names what to check for that API)."""
    return {p.name: p.connectwise.api for p in config.partners}


def _print_result(
    result, as_json: bool, apis: dict[str, str] | None = None, verbose: int = 0
) -> None:
    if as_json:
        doc = {
            "status": result.status,
            "exit_code": result.exit_code,
            "entries": [e.to_dict() for e in result.entries],
            "not_attempted": [{"partner": p, "period": m} for p, m in result.not_attempted],
        }
        if result.state_error:  # ConnectWise has it; these files do not (exit 4)
            doc["not_recorded"] = result.state_error
        dump(doc)
        return
    if result.entries:  # the nightly no-op prints nothing and loads no output code
        from cwpublish.render import output, screenful

        colour = output.colour_enabled(sys.stdout.isatty())
        for entry in result.entries:
            many = screenful.beyond_screenful(len(entry.clients), verbose)
            api = (apis or {}).get(entry.partner)
            click.echo(output.entry_text(entry, colour, api, attention_only=many))
    if result.not_attempted:
        left = ", ".join(f"{p} {m}" for p, m in result.not_attempted)
        log.notice(f"cwpublish: stopped after a failed month; not attempted: {left}", "error")
    if result.state_error:
        log.notice(f"cwpublish: published, but not recorded: {result.state_error}", "error")


def _plan_rows(plan) -> list[list[str]]:
    from cwpublish.render.output import gb

    rows = [[r.client, r.key, gb(float(r.billable_gb)), "send"] for r in plan.to_send]
    rows += [[c.name, c.managed_id, "-", f"FAIL: {c.error}"] for c in plan.failed]
    rows += [[u["client"], "-", gb(u["billable_gb"]), "unmapped: not sent"] for u in plan.unmapped]
    return rows
