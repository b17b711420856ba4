"""Issue 21, item 6: metrics_file (Prometheus textfile, parsed by prometheus_client's parser),
--log-format json (one JSON object per stderr line), ping_url with the exit code."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime

from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families

from conftest import USAGE, partner_config, sim_faults

NOV = {"acme-2026-11.csv": USAGE}
NOV_20 = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()


def _samples(path) -> dict[tuple[str, str | None], float]:
    """(metric name, partner label) -> value, through prometheus_client's text parser."""
    found = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for s in family.samples:
            found[(s.name, s.labels.get("partner"))] = s.value
    return found


def test_metrics_file_after_each_run_keeps_the_last_success(
    sim, make_config, password, run, tmp_path
):
    metrics = tmp_path / "textfile" / "cwpublish.prom"
    metrics.parent.mkdir()
    config = make_config(sim.url, usage=NOV, metrics_file=str(metrics))
    with freeze_time("2026-11-20 12:00:00"):
        ok = run(config, "publish", "--month", "2026-11", "--yes", "--json")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    first = _samples(metrics)
    success_at = first[("cwpublish_last_success_timestamp_seconds", "acme")]
    assert success_at == first[("cwpublish_last_run_timestamp_seconds", "acme")] == NOV_20
    assert first[("cwpublish_last_run_success", "acme")] == 1
    assert first[("cwpublish_clients_published", "acme")] == 3
    assert first[("cwpublish_clients_failed", "acme")] == 0
    assert first[("cwpublish_published_gb", "acme")] == 1647.96  # as published (two decimals)
    assert first[("cwpublish_run_exit_code", None)] == 0
    assert stat.S_IMODE(os.stat(metrics).st_mode) == 0o644  # node-exporter's user reads it
    assert [p.name for p in metrics.parent.iterdir()] == ["cwpublish.prom"]  # no temp left

    sim_faults(sim, [{"operation": "UpdateManagedDevices", "http_status": 500}])
    with freeze_time("2026-11-21 12:00:00"):
        bad = run(config, "publish", "--month", "2026-11", "--yes", "--force")
    assert bad.exit_code == 1
    second = _samples(metrics)
    assert second[("cwpublish_last_run_success", "acme")] == 0
    assert second[("cwpublish_last_run_exit_code", "acme")] == 1
    assert second[("cwpublish_clients_failed", "acme")] == 3
    assert second[("cwpublish_last_run_timestamp_seconds", "acme")] == NOV_20 + 86400
    assert second[("cwpublish_last_success_timestamp_seconds", "acme")] == success_at
    assert second[("cwpublish_run_exit_code", None)] == 1


def test_metrics_file_in_a_missing_folder_is_a_config_error(make_config, run, tmp_path):
    config = make_config(metrics_file=str(tmp_path / "nowhere" / "m.prom"))
    result = run(config, "publish", "--yes")
    assert result.exit_code == 2
    assert "metrics_file: folder not found" in result.stderr


def test_log_format_json_writes_one_object_per_line(sim, make_config, password, run):
    config = make_config(sim.url, usage=NOV)
    sim_faults(sim, [{"operation": "UpdateManagedDevices", "http_status": 503, "times": 1}])
    with freeze_time("2026-11-20 12:00:00", tick=True):
        result = run(config, "--log-format", "json", "-v", "publish", "--month", "2026-11", "--yes")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and all(line["logger"] == "cwpublish" for line in lines)
    assert any("retrying" in line["message"] for line in lines), lines
    assert password not in result.stderr


def test_log_format_from_the_environment_and_errors_as_json(make_config, run, monkeypatch):
    monkeypatch.setenv("CWPUBLISH_LOG_FORMAT", "json")
    config = make_config(usage=NOV)
    result = run(config, "publish", "--month", "1999-13", "--yes")
    assert result.exit_code == 2
    [line] = [json.loads(x) for x in result.stderr.splitlines()]
    assert line["level"] == "error" and line["exit_code"] == 2 and "--month" in line["message"]


def test_ping_reports_the_exit_code(sim, make_config, password, run, tmp_path):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            paths.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ping/abc"
        partner = partner_config(sim.url, schedule={"day": 5, "ping_url": url})
        config = make_config(partners=[partner], usage=NOV)
        sim_faults(sim, [{"operation": "UpdateManagedDevices", "http_status": 400}])
        with freeze_time("2026-11-05 15:00:00", tick=True):
            result = run(config, "publish", "--scheduled")
        assert result.exit_code != 0
        assert paths == ["/ping/abc/start", f"/ping/abc/{result.exit_code}"]
    finally:
        server.shutdown()
        server.server_close()
