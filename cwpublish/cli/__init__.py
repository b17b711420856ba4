"""The command line: parse options, call the core, print results, map errors to exit codes.

Only this package imports click. `base` defines the group and the error mapping; `publish`,
`admin` (history, check-config, credentials) and `extras` (init, report) hold the commands.
"""

from cwpublish.cli import admin, extras, publish  # noqa: F401 - registers the commands
from cwpublish.cli.base import cli


def main() -> None:
    cli(prog_name="cwpublish")


__all__ = ["cli", "main"]
