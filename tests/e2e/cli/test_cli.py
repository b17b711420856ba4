"""The command line itself: help with examples, version, documentation, a real subprocess."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from click.testing import CliRunner

from conftest import ROOT, SECRET, USAGE, run_subprocess, sim_state
from cwpublish import __version__
from cwpublish.cli import cli


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help_with_an_example():
    for path, _ in all_commands():
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"{' '.join(path)} --help has no example"


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path, _ in all_commands():
        assert f"cwpublish {' '.join(path)}" in readme, f"README lacks `cwpublish {' '.join(path)}`"


def test_exit_codes_are_in_help_and_readme():
    help_text = CliRunner().invoke(cli, ["publish", "--help"]).output
    readme = (ROOT / "README.md").read_text()
    for code in ("0", "1", "2", "3", "11", "12"):
        assert f" {code}  " in help_text
        assert f"| {code} |" in readme


def test_version():
    assert (
        CliRunner().invoke(cli, ["--version"]).output.strip() == f"cwpublish, version {__version__}"
    )


def test_real_subprocess_publish_against_the_simulator(sim, make_config, password, tmp_path):
    config = make_config(sim.url, usage={f"acme-{date.today():%Y-%m}.csv": USAGE})
    proc = run_subprocess("-c", str(config), "-vv", "publish", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "published 3 of 3 clients" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
    assert len(sim_state(sim)["configurations"]["acme"]) == 3
    hist = run_subprocess("-c", str(config), "history", "--json")
    assert json.loads(hist.stdout)[0]["status"] == "success"


def test_config_from_environment_variable(make_config, monkeypatch, run):
    config = make_config()
    monkeypatch.setenv("CWPUBLISH_CONFIG", str(config))
    assert run(None, "history").exit_code == 0
    monkeypatch.setenv("CWPUBLISH_CONFIG", str(Path(config).with_name("none.yaml")))
    result = run(None, "history")
    assert result.exit_code == 2 and "none.yaml: file not found" in result.stderr


def test_an_unexpected_bug_is_one_line_not_a_traceback(make_config, monkeypatch):
    """A bug cannot be produced on purpose, so one is planted here."""
    from cwpublish.usecases import scheduled_publish

    def broken(*args, **kwargs):
        raise RuntimeError("planted bug")

    monkeypatch.setattr(scheduled_publish, "run_scheduled", broken)
    config = make_config()
    result = CliRunner().invoke(cli, ["-c", str(config), "publish", "--scheduled"])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("cwpublish: internal error (RuntimeError): planted bug; run "
                                     "with CWPUBLISH_DEBUG=1 for details and please report it")
    monkeypatch.setenv("CWPUBLISH_DEBUG", "1")
    result = CliRunner().invoke(cli, ["-c", str(config), "publish", "--scheduled"])
    assert isinstance(result.exception, RuntimeError)
