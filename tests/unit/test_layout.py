"""The package's layering: transports only under targets/, the CLI imports no target."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cwpublish"
HEAVY = re.compile(r"^\s*(import (zeep|lxml|requests)\b|from (zeep|lxml|requests)\b)", re.M)


def modules(*exclude: str):
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if not rel.startswith(exclude):
            yield rel, path.read_text(encoding="utf-8")


def test_zeep_lxml_requests_are_imported_only_by_targets_and_the_simulator():
    offenders = [rel for rel, text in modules("targets/", "simulator/") if HEAVY.search(text)]
    assert offenders == []
    found = [rel for rel, text in modules() if HEAVY.search(text)]
    assert any(rel.startswith("targets/") for rel in found)  # the pattern finds them


def test_the_cli_imports_no_target_and_only_the_cli_imports_click():
    for rel, text in modules():
        if rel.startswith("cli/"):
            assert "cwpublish.targets" not in text, rel
        else:
            assert not re.search(r"^\s*(import|from) click\b", text, re.M), rel


def test_no_module_is_over_about_400_lines():
    long = {rel: n for rel, text in modules() if (n := text.count("\n")) > 420}
    assert long == {}


def test_each_connectwise_default_is_defined_once():
    """The validator reads defaults from the dataclass fields, not from its own literals."""
    text = (PACKAGE / "config_validation.py").read_text()
    for literal in ("30.0", "120.0", '"starttls")', '"current")', '"bundled")'):
        assert literal not in text, literal


def test_validating_a_targets_settings_loads_no_transport():
    """Config validation imports each target's settings module, the nightly no-op included:
    that must not pull in its client, HTTP layer or Target (they live beside it, not in its
    package's __init__)."""
    import ast
    import subprocess
    import sys

    from cwpublish.targets import SETTINGS

    probe = (
        "import sys, importlib\n"
        f"for m in {sorted(SETTINGS.values())!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith('cwpublish.targets.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    loaded = ast.literal_eval(out)
    assert set(loaded) == {*SETTINGS.values(), *(m.rsplit(".", 1)[0] for m in SETTINGS.values())}
