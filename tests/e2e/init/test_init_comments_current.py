"""Issue 21, item 5: the configuration `init` writes names only files that exist and mentions
`metrics_file`, which loads once uncommented."""

from __future__ import annotations

import re
from pathlib import Path

import cwpublish.state
from cwpublish.config.load import load_config

STATE_SOURCES = "\n".join(
    p.read_text() for p in Path(cwpublish.state.__file__).parent.glob("*.py")
)


def test_init_names_the_state_files_that_exist_and_metrics_file(run, tmp_path):
    path = tmp_path / "written.yaml"
    result = run(path, "init")
    assert result.exit_code == 0, result.output
    text = path.read_text()
    for old in ("history.json, ledger.json", "ledger.json"):
        assert old not in text
    header = next(line for line in text.splitlines() if "history.log" in line)
    header += next(line for line in text.splitlines() if "runs/" in line)
    names = re.findall(r"[a-z_]+(?:\.[a-z]+|/)", header)
    assert {"history.log", "history/", "ledger/", "schedule.json", "publish.lock"} <= set(names)
    for name in names:  # each is a name the state package writes
        assert f'"{name.rstrip("/")}"' in STATE_SOURCES, name
    assert "# metrics_file: " in text
    metrics = tmp_path / "cwpublish.prom"
    uncommented = re.sub(r"^# metrics_file: .*$", f"metrics_file: {metrics}", text, flags=re.M)
    path.write_text(uncommented)
    assert load_config(path).metrics_file == metrics
