"""`check-config`: is it set up (offline, or --online against each site)."""

from __future__ import annotations

import sys

import click

from cwpublish.cli.base import State, cli, dump, exit_code_help, partner_option
from cwpublish.errors import EXIT_USAGE, ConfigError, worst_exit_code
from cwpublish.text.sanitize import shown


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
