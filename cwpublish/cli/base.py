"""The `cwpublish` group: global options, logging, and errors mapped to exit codes.

The cli package is the only place that imports click; its modules hold the commands.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from cwpublish import __version__, log
from cwpublish.errors import COMMAND_EXIT_CODES, EXIT_CODES, EXIT_FAILED, CwpublishError
from cwpublish.text.redaction import clean_line, redact, scrub
from cwpublish.text.sanitize import shown


def exit_code_help(command: str | None = None) -> str:
    """The "Exit codes" epilog of a command's --help: its own codes (all of them for the group).

    The `\\b` keeps click from rewrapping the table.
    """
    codes = COMMAND_EXIT_CODES[command] if command else EXIT_CODES
    return "\b\nExit codes:\n" + "\n".join(f"  {k:>3}  {v}" for k, v in codes.items())


EXIT_CODE_HELP = exit_code_help("publish")  # publish's table (publish.py's epilog)


class Group(click.Group):
    """Turns every CwpublishError into a one-line message and its documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CwpublishError as e:
            _fail(ctx, redact(str(e)), e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as e:  # a bug: one line, not a traceback (CWPUBLISH_DEBUG=1 shows it)
            if os.environ.get("CWPUBLISH_DEBUG"):
                raise
            _fail(ctx, internal_error_text(e), EXIT_FAILED, label="")


def internal_error_text(e: BaseException) -> str:
    """The one line for a bug: its type and text, every secret masked before it is cut."""

    return (
        f"internal error ({type(e).__name__}): {clean_line(str(e), 200)}; "
        "run with CWPUBLISH_DEBUG=1 for details and please report it"
    )


def _fail(ctx: click.Context, text: str, code: int, label: str = "error: ") -> None:
    """Say why the command failed (each line, controls shown escaped), as JSON too with --json,
    and exit with `code`."""

    if log.is_json():  # one JSON object for journald/Loki, the exit code with it
        click.echo(log.json_line("error", text.strip("\n"), exit_code=code), err=True)
    else:
        for line in text.strip("\n").split("\n"):  # only \n: a CR or U+2028 is shown escaped
            click.echo(f"cwpublish: {label}{shown(line)}", err=True)
    if isinstance(ctx.obj, State) and ctx.obj.json:
        dump({"status": "error", "exit_code": code, "error": text, "entries": []})
    ctx.exit(code)


class State:
    def __init__(self, config_path: str | None, verbose: int):
        self.config_path = config_path
        self.verbose = verbose
        self.json = False  # set by commands given --json: errors are then JSON too
        self._config = None

    @property
    def config(self):
        from cwpublish.config.load import find_config_path, load_config

        if self._config is None:
            self._config = load_config(find_config_path(self.config_path))
        return self._config


def complete_partners(ctx: click.Context, param: click.Parameter, incomplete: str):
    return [p.name for p in _completion_config(ctx) if p.name.startswith(incomplete)]


def partner_option(help: str, multiple: bool = False, required: bool = False):
    """--partner NAME, completed from the configuration's partner names."""
    return click.option(
        "--partner",
        "partners" if multiple else "partner",
        multiple=multiple,
        required=required,
        metavar="NAME",
        shell_complete=complete_partners,
        help=help,
    )


def complete_clients(ctx: click.Context, param: click.Parameter, incomplete: str):
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
    from cwpublish.config.load import find_config_path, load_config

    root = ctx.find_root()
    try:
        return load_config(find_config_path(root.params.get("config_path"))).partners
    except CwpublishError:
        return ()


def dump(data: Any) -> None:
    """Print JSON on stdout (every secret read by this process masked)."""

    click.echo(json.dumps(scrub(data), indent=2, ensure_ascii=False))


@click.group(cls=Group, epilog=exit_code_help())
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="FILE",
    envvar=None,
    help="Configuration file (default: $CWPUBLISH_CONFIG, ./cwpublish.yaml, "
    "~/.config/cwpublish/config.yaml). ~ and $VARIABLES are expanded, here and in "
    "$CWPUBLISH_CONFIG.",
)
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="CWPUBLISH_LOG_FORMAT",
    show_envvar=True,
    help="json: each stderr log line is one JSON object (journald, Loki).",
)
@click.version_option(__version__, prog_name="cwpublish")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, log_format: str) -> None:
    """Publish rCloud billable backup space (GB per client and month) to ConnectWise PSA.

    \b
    Example:
      cwpublish -c /etc/cwpublish.yaml publish --partner acme
    """
    log.configure(verbose, log_format)
    ctx.obj = State(config_path, verbose)
