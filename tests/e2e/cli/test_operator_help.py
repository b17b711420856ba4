"""What an operator meets first: --help that is complete and honest about exit codes, a
config path that works under cron (~ and $VARS), a simulator that runs from an installed
package, and the licence shipped with it."""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import signal
import subprocess
import sys
import tomllib
import urllib.request
from datetime import date
from importlib import resources
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, USAGE, run_subprocess, wait_for
from cwpublish.cli import cli
from cwpublish.errors import COMMAND_EXIT_CODES, EXIT_CODES


def command_tree(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from command_tree(command, (*prefix, name))


def help_of(*path: str) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, path
    return result.output


def exit_codes_in(help_text: str) -> list[int]:
    """The codes listed under "Exit codes:" in a --help text."""
    table = help_text.split("Exit codes:", 1)[1]
    return [int(m.group(1)) for m in re.finditer(r"^\s+(\d+)  \S", table, re.M)]


def test_every_option_and_argument_has_help():
    ctx = click.Context(cli)
    for path, command in [((), cli), *command_tree()]:
        text = command.get_help(ctx)
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help and param.help.strip(), f"{path} {param.opts} has no help"
            else:  # click arguments take no help=: the command's text must describe them
                metavar = param.make_metavar(ctx) if param.metavar is None else param.metavar
                body = text.split("Options:")[0].split("\n", 2)[-1]
                assert metavar in body, f"{path}: argument {metavar} is not explained"


def test_every_command_shows_its_own_exit_codes():
    for path, _ in command_tree():
        name = " ".join(path)
        assert name in COMMAND_EXIT_CODES, f"no exit-code table for {name}"
        codes = exit_codes_in(help_of(*path))
        assert codes == list(COMMAND_EXIT_CODES[name]), name
        assert 0 in codes and 2 in codes, name


def test_the_exit_code_tables_are_the_documented_ones():
    publish = exit_codes_in(help_of("publish"))
    assert {0, 1, 2, 3, 11, 12, 130, 143} <= set(publish) and publish == list(EXIT_CODES)
    assert exit_codes_in(help_of("check-config")) == [0, 1, 2, 12]
    for command in (("init",), ("credentials", "status"), ("credentials", "delete")):
        assert exit_codes_in(help_of(*command)) == [0, 2], command
    assert 3 not in exit_codes_in(help_of("report"))
    assert "nothing failed" in help_of("check-config")
    assert exit_codes_in(help_of()) == list(EXIT_CODES)  # the group: every code


# --- the configuration path: ~ and $VARIABLES (cron passes them literally) -------------------


@pytest.fixture
def home_config(make_config, tmp_path) -> Path:
    """A valid config at $HOME/cfg/cwpublish.yaml."""
    config = make_config()
    target = tmp_path / "home" / "cfg" / "cwpublish.yaml"
    target.parent.mkdir()
    target.write_text(config.read_text())
    return target


@pytest.mark.parametrize(
    "given",
    [
        "~/cfg/cwpublish.yaml",
        "$HOME/cfg/cwpublish.yaml",
        "${HOME}/cfg/cwpublish.yaml",
        "${CFG_DIR}/cwpublish.yaml",
    ],
)
def test_config_path_expands_home_and_variables(home_config, given, monkeypatch):
    """As cron runs it: a real process, CWPUBLISH_CONFIG with a literal ~ or $VAR."""
    env = {
        "HOME": str(home_config.parents[1]),
        "CWPUBLISH_CONFIG": given,
        "CFG_DIR": str(home_config.parent),
    }
    proc = run_subprocess("history", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    monkeypatch.setenv("CFG_DIR", str(home_config.parent))
    result = CliRunner().invoke(cli, ["-c", given, "history", "--json"])
    assert result.exit_code == 0, result.output


def test_an_unset_variable_in_the_config_path_is_named(monkeypatch, run):
    monkeypatch.delenv("NO_SUCH_DIR", raising=False)
    result = run(None, "-c", "$NO_SUCH_DIR/cwpublish.yaml", "history")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "cwpublish: error: -c $NO_SUCH_DIR/cwpublish.yaml: the environment variable "
        "NO_SUCH_DIR is not set (cron and systemd pass few variables; use an absolute path)"
    ]
    proc = run_subprocess(
        "publish", "--scheduled", env={"CWPUBLISH_CONFIG": "${NO_SUCH_DIR}/c.yaml"}
    )
    assert proc.returncode == 2
    assert "CWPUBLISH_CONFIG=${NO_SUCH_DIR}/c.yaml: the environment variable NO_SUCH_DIR" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr
    check = run(None, "-c", "$NO_SUCH_DIR/c.yaml", "check-config")
    assert check.exit_code == 2 and "NO_SUCH_DIR is not set" in check.output


def test_readme_cron_line_uses_the_absolute_path_of_the_installed_command():
    readme = (ROOT / "README.md").read_text()
    cron_test = readme.split("**Test the entry**", 1)[1].split("```", 2)[1]
    assert "env -i" in cron_test and '"$(command -v cwpublish)" -v publish --scheduled' in (
        cron_test
    )
    crontab = (ROOT / "crontab.example").read_text()
    assert "command -v cwpublish" in crontab
    [entry] = [line for line in crontab.splitlines() if line.startswith("30 2 ")]
    [binary] = [word for word in entry.split() if word.endswith("/cwpublish")]
    assert binary.startswith("/"), "the cron entry must call cwpublish by its path"


# --- the simulator from an installed package ------------------------------------------------


def test_every_simulator_option_has_help():
    from cwpublish.simulator.__main__ import build_parser

    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        for action in command._actions:
            assert action.help, f"simulator {name} {action.option_strings} has no help"
    assert "--host" in sub.choices["serve"].format_help()


def test_the_sample_tenant_is_package_data_equal_to_the_demo():
    sample = resources.files("cwpublish.simulator") / "sample.yaml"
    assert sample.is_file()
    shipped = yaml.safe_load(sample.read_text("utf-8"))
    assert shipped == yaml.safe_load((ROOT / "demo" / "simulator.yaml").read_text("utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["cwpublish.simulator"]
    assert any(fnmatch.fnmatch("sample.yaml", p) for p in patterns)


def test_mit_licence_is_shipped():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the cwpublish authors" in text


def test_simulator_serves_the_sample_without_data(tmp_path, make_config, run, monkeypatch):
    """A real process started from another folder (no demo/ beside it), no --data: the sample
    tenant answers SOAP (check-config --online logs in with the sample's password, read from
    a secret file) and REST (its companies in /_sim/state)."""
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cwpublish.simulator",
            "serve",
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: port_file.exists() and port_file.read_text() or proc.poll() is not None)
        assert proc.poll() is None, proc.stderr.read()
        url = f"http://127.0.0.1:{port_file.read_text()}"
        with urllib.request.urlopen(f"{url}/_sim/state", timeout=5) as r:
            state = json.load(r)
        assert set(state["rest"]["acme"]) == {"LAWSMITH", "CONTOSO-01", "NORTHWIND", "CAFE-01"}
        creds = tmp_path / "credentials"
        creds.mkdir(mode=0o700)
        (creds / "partner.acme").write_text("demo-integrator-secret\n")
        (creds / "partner.acme").chmod(0o600)
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        usage = {f"acme-{date.today():%Y-%m}.csv": USAGE}
        check = run(make_config(url, usage=usage), "check-config", "--online")
        assert check.exit_code == 0, check.output
        assert "✓ [acme] all 3 Managed IDs exist in ConnectWise" in check.output
        assert "demo-integrator-secret" not in check.output
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_simulator_bad_data_file_is_one_line(tmp_path):
    serve = [sys.executable, "-m", "cwpublish.simulator", "serve", "--data"]
    missing = subprocess.run(
        [*serve, str(tmp_path / "no.yaml")], capture_output=True, text=True, timeout=30
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'no.yaml'}: No such file or directory"
    (tmp_path / "list.yaml").write_text("- 1\n")
    bad = subprocess.run(
        [*serve, str(tmp_path / "list.yaml")], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 2 and "must be a mapping" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr
