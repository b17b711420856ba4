"""The package's layering, read from every module's imports (ast): no cycle, no upward arrow.

Allowed direction, top to bottom (a module may import its own package and any lower layer):

    cli -> usecases -> publish -> {targets, notify} -> config -> state -> render -> domain
        -> errors, log, interrupt -> text

`text` (sanitize, redaction) is below errors and log because every message is cleaned and
redacted there. `targets.registry` is the one table that config validation may read: strings
naming each target's modules, importing no module of the project. The simulator stands apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cwpublish"
RANKS = {
    "text": 0,
    "base": 1,  # errors, log, interrupt: the cross-cutting modules at the top level
    "domain": 2,
    "render": 3,
    "state": 4,
    "config": 5,
    "targets": 6, "notify": 6,
    "publish": 7,
    "usecases": 8,
    "cli": 9,
    "__main__": 10,
}
BASE = {"cwpublish", "cwpublish.errors", "cwpublish.log", "cwpublish.interrupt"}
# modules ranked apart from their package: just below config, which validates through it
OVERRIDES = {"cwpublish.targets.registry": RANKS["config"] - 0.5}
TOP_LEVEL = {"__init__.py", "__main__.py", "errors.py", "log.py", "interrupt.py"}
HEAVY = ("yaml", "zeep", "lxml", "requests", "jinja2", "keyring", "urllib3")
# where project modules may be imported inside a function: the nightly no-op's seams
LIGHT_PATH = ("cwpublish.cli.", "cwpublish.usecases.scheduled_publish", "cwpublish.state.legacy")
# package __init__ files that are entry points and so may import their package's modules
ENTRY_PACKAGES = {"cli", "simulator"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported project module, line, at module level) for each import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    top = set()
    for node in tree.body:  # module level, `if TYPE_CHECKING:` and try/except included
        top.add(id(node))
        if isinstance(node, ast.If | ast.Try):
            for child in ast.walk(node):
                top.add(id(child))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import module` imports the module; `from module import name` the module
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "cwpublish":
                found.append((target, node.lineno, id(node) in top))
    return found


def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each project module -> the project modules it imports (package __init__s left out:
    they are empty, so importing through them brings nothing)."""
    known = set(modules)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _, _ in imports(path, known):
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target != name and target != "cwpublish":
                edges[name].add(target)
    return edges


def layer(module: str) -> tuple[str, float | None]:
    """(the layer's name, its rank; None: the simulator, which imports only itself)."""
    if module in OVERRIDES:
        return module, OVERRIDES[module]
    if module in BASE:
        return "base", RANKS["base"]
    part = module.split(".")[1] if "." in module else "__init__"
    if part == "simulator":
        return part, None
    return part, RANKS.get(part, -1)


def upward_arrows(edges: dict[str, set[str]]) -> list[str]:
    """Every import against the allowed direction (see the module doc)."""
    bad = []
    for source, targets in sorted(edges.items()):
        src_layer, src_rank = layer(source)
        for target in sorted(targets):
            dst_layer, dst_rank = layer(target)
            if src_layer == dst_layer:
                continue  # within one layer (the cycle check still applies)
            if src_rank is None or dst_rank is None or dst_rank >= src_rank:
                bad.append(f"{source} -> {target}")
    return bad


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph(all_modules())


def test_the_project_modules_import_no_cycle(edges):
    assert cycles(edges) == []


def test_every_import_runs_down_the_layers(edges):
    assert upward_arrows(edges) == []


def test_the_checks_catch_a_bad_import(edges):
    """The two checks above fail on an upward arrow and on a circle (so they can fail)."""
    bad = {k: set(v) for k, v in edges.items()}
    bad["cwpublish.domain.period"].add("cwpublish.cli.base")
    assert upward_arrows(bad) == ["cwpublish.domain.period -> cwpublish.cli.base"]
    assert any("cwpublish.domain.period" in c for c in cycles(bad))
    looped = {k: set(v) for k, v in edges.items()}
    looped["cwpublish.state.files"].add("cwpublish.state.history")
    assert cycles(looped) != [] and upward_arrows(looped) == []


def test_every_module_has_a_layer(edges):
    assert [m for m in edges if layer(m)[1] == -1] == []


def test_the_project_modules_are_imported_at_the_top_of_each_file():
    """Except at the seams of the nightly no-op (LIGHT_PATH), which must stay light: a CLI
    command loads its use case when it runs, the scheduled run loads the publishing code only
    when something is due, and legacy state adoption reads the history only when a key's state
    is first looked for (tests/e2e/test_scheduled.py, benchmarks/bench_nothing_due.py)."""
    modules = all_modules()
    lazy = [
        f"{name}:{line} {target}"
        for name, path in modules.items()
        if not name.startswith(LIGHT_PATH)
        for target, line, at_top in imports(path, set(modules))
        if not at_top
    ]
    assert lazy == []


def test_heavy_packages_are_imported_only_where_they_are_used():
    """yaml, zeep, lxml, requests, jinja2 and keyring load only on the paths that need them:
    never at the top of a module (the nightly no-op imports none of them)."""
    pattern = re.compile(rf"^(import|from) ({'|'.join(HEAVY)})\b", re.M)
    offenders = [
        name for name, path in all_modules().items()
        if not name.startswith("cwpublish.simulator")
        and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_top_level_holds_only_cross_cutting_modules():
    files = {p.name for p in PACKAGE.glob("*.py")}
    assert files == TOP_LEVEL
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages - set(RANKS) == {"simulator"}


def test_package_init_files_are_empty():
    """Importing one module never pulls its package's siblings (the nightly no-op stays light);
    only the entry points (cli, simulator) gather their modules."""
    full = [
        p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE and p.parent.name not in ENTRY_PACKAGES
        and [n for n in ast.parse(p.read_text(encoding="utf-8")).body
             if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    ]
    assert full == []


def test_zeep_lxml_requests_are_imported_only_by_targets_and_the_simulator():
    heavy = re.compile(r"^\s*(import (zeep|lxml|requests)\b|from (zeep|lxml|requests)\b)", re.M)
    found = [name for name, path in all_modules().items()
             if heavy.search(path.read_text(encoding="utf-8"))]
    assert [m for m in found if not m.startswith(("cwpublish.targets.",
                                                   "cwpublish.simulator"))] == []
    assert any(m.startswith("cwpublish.targets.") for m in found)  # the pattern finds them


def test_the_cli_imports_no_target_and_only_the_cli_imports_click():
    for name, path in all_modules().items():
        text = path.read_text(encoding="utf-8")
        if name.startswith("cwpublish.cli"):
            assert "cwpublish.targets" not in text, name
        else:
            assert not re.search(r"^\s*(import|from) click\b", text, re.M), name


def test_no_module_is_over_400_lines():
    long = {name: n for name, path in all_modules().items()
            if (n := path.read_text(encoding="utf-8").count("\n")) > 400}
    assert long == {}


def test_each_connectwise_default_is_defined_once():
    """The validator reads defaults from the dataclass fields, not from its own literals."""
    text = "".join(p.read_text() for p in (PACKAGE / "config").glob("validation*.py"))
    for literal in ("30.0", "120.0", '"starttls")', '"current")', '"bundled")'):
        assert literal not in text, literal


def test_validating_a_targets_settings_loads_no_transport():
    """Config validation imports each target's settings module, the nightly no-op included:
    that must not pull in its client, HTTP layer or Target (they live beside it, not in its
    package's __init__)."""
    import subprocess
    import sys

    from cwpublish.targets.registry import TARGETS

    settings = sorted(spec.settings_module for spec in TARGETS.values())
    probe = (
        "import sys, importlib\n"
        f"for m in {settings!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith('cwpublish.targets.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    loaded = ast.literal_eval(out)
    packages = {m.rsplit(".", 1)[0] for m in settings}
    assert set(loaded) == {*settings, *packages, "cwpublish.targets.registry"}
