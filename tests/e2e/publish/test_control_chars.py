"""Control characters from the configuration or the usage data are shown escaped (`\\x1b`) in
every line a command prints, never sent to the terminal: ESC, BEL, CR and bidi overrides can
repaint or hide what a person reads."""

from __future__ import annotations

import json
from datetime import date

from conftest import (
    USAGE,
    partner_config,
)

PERIOD = f"{date.today():%Y-%m}"
NAME = "Evil\x1b[31mCorp\x07\rX\u202e"
SHOWN = "Evil\\x1b[31mCorp\\x07\\rX\\u202e"
RAW = ("\x1b", "\x07", "\r", "\u202e")


def assert_escaped(*texts: str) -> None:
    for text in texts:
        assert not any(c in text for c in RAW), repr(text)


def test_check_config_shows_an_unmapped_usage_name_escaped(make_config, run, password):
    config = make_config(usage={f"acme-{PERIOD}.csv": USAGE + f'"{NAME}",5\n'})
    result = run(config, "check-config")
    assert result.exit_code == 0, result.stdout
    assert f"! [acme] unmapped usage rows (no client in the config): {SHOWN}" in result.stdout
    assert_escaped(result.stdout, result.stderr)
    as_json = run(config, "check-config", "--json")  # JSON carries the name exactly
    messages = [c["message"] for c in json.loads(as_json.stdout)["checks"]]
    assert any(m.endswith(NAME) for m in messages)


def test_publish_warnings_show_an_unmapped_usage_name_escaped(sim, make_config, run, password):
    config = make_config(sim.url, usage={f"acme-{PERIOD}.csv": USAGE + f'"{NAME}",5\n'})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0
    assert SHOWN in result.stdout + result.stderr
    assert_escaped(result.stdout, result.stderr)


def test_a_configuration_problem_naming_a_key_with_controls_is_escaped(make_config, run):
    partner = partner_config("http://127.0.0.1:9")
    partner["connectwise"]["site\x1b]0;pwned\x07"] = "x"
    config = make_config(partners=[partner])
    for args in (["check-config"], ["publish", "--yes"], ["history"]):
        result = run(config, *args)
        assert result.exit_code == 2
        assert "site\\x1b]0;pwned\\x07" in result.stdout + result.stderr
        assert_escaped(result.stdout, result.stderr)


def test_control_characters_in_usage_names_never_reach_the_terminal_raw(
    sim, make_config, password, run, tmp_path
):
    evil = "Evil\rNorthwind Traders      NORTHWIND  87.00  published\x1b[2K\x07"
    usage = USAGE + f'"{evil}",5\n'
    partner = partner_config(sim.url)
    config = make_config(partners=[partner], usage={f"acme-{PERIOD}.csv": usage})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0, result.stderr
    for stream in (result.stdout, result.stderr):
        assert "\r" not in stream and "\x1b" not in stream and "\x07" not in stream
    assert "Evil Northwind Traders" in result.stdout  # shown, on its own row, made harmless
    assert "\\x1b[2K\\x07" in result.stdout
