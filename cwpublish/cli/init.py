"""`init`: a configuration to start from."""

from __future__ import annotations

import click

from cwpublish.cli.base import State, cli, exit_code_help
from cwpublish.errors import InputError
from cwpublish.text.sanitize import shown


@cli.command(epilog=exit_code_help("init"))
@click.pass_obj
def init(obj: State) -> None:
    """Write a commented configuration skeleton (never over an existing file).

    It goes to -c FILE, else $CWPUBLISH_CONFIG, else ~/.config/cwpublish/config.yaml.

    \b
    Example:
      cwpublish -c ./cwpublish.yaml init
    """
    from importlib import resources

    from cwpublish.config.load import find_config_path
    from cwpublish.state.user_files import make_parents, write_text

    path = find_config_path(obj.config_path)
    if path.exists():
        raise InputError(f"{path}: already exists; not overwritten")
    text = (resources.files("cwpublish") / "data" / "config.example.yaml").read_text("utf-8")
    try:
        make_parents(path)  # 0700 folders, a 0600 file, whatever the umask
        write_text(path, text, new=True)
    except FileExistsError:
        raise InputError(f"{path}: already exists; not overwritten") from None
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror}") from None
    c = f"cwpublish -c {shown(str(path))}" if obj.config_path else "cwpublish"
    click.echo(
        f"Wrote a commented configuration to {shown(str(path))}. Next:\n"
        "  1. Edit it: ConnectWise site, Company ID, integrator login, Management IT "
        "Name, usage source, clients.\n"
        f"  2. {c} credentials set --partner acme\n"
        f"  3. {c} check-config --online\n"
        f"  4. {c} publish --dry-run"
    )
