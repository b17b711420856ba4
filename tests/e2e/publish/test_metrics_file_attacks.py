"""metrics_file as cron and a crashing machine leave it: a previous file that is corrupt (NaN,
+Inf, garbage), a symlink into node-exporter's folder. The publish's exit code never changes
and the file stays parseable by prometheus_client."""

from __future__ import annotations

from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families

from conftest import USAGE

NOV = {"acme-2026-11.csv": USAGE}


def _samples(text: str) -> dict[tuple[str, str | None], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, s.labels.get("partner"))] = s.value
    return found


def test_a_corrupt_previous_file_is_replaced_not_a_traceback(
    sim, make_config, password, run, tmp_path
):
    metrics = tmp_path / "cwpublish.prom"
    metrics.write_text(
        'cwpublish_published_gb{partner="acme"} NaN\n'
        'cwpublish_last_success_timestamp_seconds{partner="acme"} +Inf\n'
        'cwpublish_clients_published{partner="other"} -Inf\n'
        'cwpublish_published_gb{partner="other"} 12.5\n'
        "cwpublish_run_exit_code garbage{{{\n\x00\x01 half a line",
        encoding="utf-8",
    )
    config = make_config(sim.url, usage=NOV, metrics_file=str(metrics))
    with freeze_time("2026-11-20 12:00:00"):
        result = run(config, "publish", "--month", "2026-11", "--yes", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    found = _samples(metrics.read_text(encoding="utf-8"))
    assert found[("cwpublish_published_gb", "acme")] == 1647.96
    assert found[("cwpublish_last_success_timestamp_seconds", "acme")] > 1.7e9
    assert found[("cwpublish_published_gb", "other")] == 12.5  # a sound sample is kept
    assert ("cwpublish_clients_published", "other") not in found  # a non-number is dropped


def test_a_symlinked_metrics_file_stays_a_symlink(sim, make_config, password, run, tmp_path):
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    real = textfile / "cwpublish.prom"
    real.write_text("", encoding="utf-8")
    link = tmp_path / "metrics.prom"
    link.symlink_to(real)
    config = make_config(sim.url, usage=NOV, metrics_file=str(link))
    with freeze_time("2026-11-20 12:00:00"):
        result = run(config, "publish", "--month", "2026-11", "--yes", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert link.is_symlink()  # node-exporter reads the file the link names: it is the fresh one
    assert _samples(real.read_text(encoding="utf-8"))[("cwpublish_clients_published", "acme")] == 3
    assert sorted(p.name for p in textfile.iterdir()) == ["cwpublish.prom"]
