"""The outage report: no formula injection or raw control characters from usage names, and
the value ConnectWise holds shown beside today's usage when they differ."""

from __future__ import annotations

import csv
import io

from conftest import USAGE

OLD_COLUMNS = ["client", "managed_id", "billable_gb", "period", "in_connectwise"]
HOSTILE = (
    '"=HYPERLINK(""http://evil.example"",""x"")",1\n'
    "+SUM(A1),2\n"
    "-2+3,3\n"
    "@cmd,4\n"
    '"Tab\there",5\n'
    '"Line\nBreak\rHere",6\n'
    "Esc\x1b[31mRed,7\n"
    "Rtl\u202eevil,8\n"
)


def report_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_cells_are_neutralised_and_one_line_each(make_config, run, tmp_path):
    config = make_config(usage={"acme-2026-09.csv": USAGE + HOSTILE})
    result = run(config, "report", "--partner", "acme", "--month", "2026-09")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split(",") == [*OLD_COLUMNS, "in_connectwise_gb"]  # new column last
    assert len(lines) == 1 + 3 + 8  # a header, the 3 clients, 8 unmapped rows: one line each
    cells = {r["client"]: r for r in report_rows(result.stdout)}
    assert set(cells) >= {
        "'=HYPERLINK(\"http://evil.example\",\"x\")",
        "'+SUM(A1)",
        "'-2+3",
        "'@cmd",
        "Tab\\there",
        "Line\\nBreak\\rHere",
        "Esc\\x1b[31mRed",
        "Rtl\\u202eevil",
    }, sorted(cells)
    assert cells["'-2+3"]["billable_gb"] == "3.00"  # numbers stay numbers
    assert cells["Law Office of R. Smith"]["billable_gb"] == "1250.46"
    for r in cells.values():
        assert not r["client"].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout

    out = tmp_path / "r.html"
    html = run(config, "report", "--partner", "acme", "--month", "2026-09",
               "--format", "html", "--output", str(out))
    assert html.exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert "Esc\\x1b[31mRed" in page and "\x1b" not in page and "\u202e" not in page
    assert "Line\\nBreak\\rHere" in page


def test_the_value_connectwise_holds_is_shown_when_it_differs(
    sim, make_config, password, run, tmp_path, smtp_server, smtp_password
):
    config = make_config(sim.url, smtp=smtp_server.config, usage={"acme-2026-09.csv": USAGE})
    published = run(config, "publish", "--yes", "--month", "2026-09", "--no-email")
    assert published.exit_code == 0, published.stdout
    usage = tmp_path / "usage" / "acme-2026-09.csv"  # usage corrected after the publish
    usage.write_text(USAGE.replace("1250.456", "1300") + "=1+1,9\n", encoding="utf-8")

    result = run(config, "report", "--partner", "acme", "--month", "2026-09")
    assert result.exit_code == 0, result.stderr
    rows = {r["managed_id"]: r for r in report_rows(result.stdout)}
    law, contoso = rows["LAWSMITH"], rows["CONTOSO-01"]
    assert law["billable_gb"] == "1300.00" and law["in_connectwise_gb"] == "1250.46"
    assert law["in_connectwise"].startswith("yes, ")
    assert law["in_connectwise"].endswith("(different: ConnectWise has 1250.46 GB)")
    assert contoso["in_connectwise_gb"] == "310.50"
    assert "different" not in contoso["in_connectwise"]  # same value: no mark

    mail = run(config, "report", "--partner", "acme", "--month", "2026-09", "--email")
    assert mail.exit_code == 0, mail.stderr
    [(_, _, message)] = smtp_server.messages
    attached = report_rows(next(message.iter_attachments()).get_content())
    assert {r["client"] for r in attached} >= {"'=1+1"}
    assert [r["in_connectwise_gb"] for r in attached if r["managed_id"] == "LAWSMITH"] == [
        "1250.46"
    ]
    body = message.get_body(("plain",)).get_content()
    assert "different: ConnectWise has 1250.46 GB" in body
