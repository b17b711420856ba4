"""`cwpublish publish`: manual publishing, backfills, dry runs, and the nightly --scheduled run."""

from __future__ import annotations

import sys

import click

from cwpublish.cli.base import (
    EXIT_CODE_HELP,
    State,
    cli,
    complete_clients,
    dump,
    partner_option,
)
from cwpublish.errors import EXIT_USAGE, CwpublishError, InputError


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
    obj: State,
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
    if result.exit_code:
        sys.exit(result.exit_code)


def _publish_manual(
    obj: State, config, partners, clients, periods, initiated_by, yes, dry_run, force, notify
):
    from cwpublish import output, runner

    who = initiated_by or runner.default_initiated_by()
    plans = runner.plan_manual(config, partners, clients, periods, who, need_password=not dry_run)
    if len(periods) > 1 and not dry_run:
        runner.check_backfill(plans)
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


def _dry_run(obj: State, plans, duplicates) -> None:
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
        dump({"status": "dry-run", "exit_code": code, "entries": previews})
    else:
        for p in previews:
            click.echo(output.entry_text(p, output.colour_enabled(sys.stdout.isatty())))
        if obj.verbose:
            from cwpublish.envelope import preview_envelope

            for plan in plans:
                if plan.to_send:
                    batch = plan.to_send[: plan.partner.connectwise.batch_size]
                    click.echo(
                        f"\nSOAP body of the first UpdateManagedDevices call for "
                        f"{plan.partner.name} {plan.period} ({len(batch)} devices):"
                    )
                    click.echo(preview_envelope(plan.partner.connectwise, batch))
        click.echo("Dry run: nothing was sent, nothing recorded.", err=True)
    if code:
        sys.exit(code)


def _progress_bar(obj: State, plans):
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
        dump(
            {
                "status": status,
                "exit_code": result.exit_code,
                "entries": entries,
                "not_attempted": [{"partner": p, "period": m} for p, m in result.not_attempted],
            }
        )
        return
    if entries:  # the nightly no-op prints nothing and loads no output code
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
