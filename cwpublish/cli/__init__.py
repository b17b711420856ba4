"""The command line: parse options, call the core, print results, map errors to exit codes.

Only this package imports click. `base` defines the group and the error mapping; `publish`,
`admin` (history, check-config, credentials) and `extras` (init, report) hold the commands.
"""

from cwpublish.cli import admin, extras, publish  # noqa: F401 - registers the commands
from cwpublish.cli.base import cli


def main() -> None:
    import gc

    # What is imported by now lives as long as the process: frozen out of the collector's
    # full passes, which a large publish triggers often and which would walk it every time
    # (~30 ms of a 5,000-client publish). Garbage made later is collected as usual.
    gc.freeze()
    cli(prog_name="cwpublish")


__all__ = ["cli", "main"]
