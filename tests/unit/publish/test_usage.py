"""Usage sources: CSV, JSON and command; any doubtful row is an error naming source and row."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cwpublish.config.model import UsageSource
from cwpublish.domain.period import Period
from cwpublish.errors import InputError
from cwpublish.publish.usage import read_usage

NOV = Period(2026, 11)


def source(
    tmp_path: Path,
    kind: str,
    content: bytes | str | None,
    location: str = "u-{year}-{month:02d}.{ext}",
) -> UsageSource:
    location = location.replace("{ext}", kind)
    if content is not None:
        data = content if isinstance(content, bytes) else content.encode()
        (tmp_path / location.format(year=2026, month=11)).write_bytes(data)
    return UsageSource(kind=kind, location=location, base_dir=tmp_path)


def test_csv_with_bom_quotes_and_rounding(tmp_path):
    text = '\ufeffclient,billable_gb\r\n"Smith, Law & Co",1.005\r\nCafé <b>,2\r\n\r\n'
    usage = read_usage(source(tmp_path, "csv", text), NOV)
    assert usage.rows == {"Smith, Law & Co": Decimal("1.01"), "Café <b>": Decimal("2.00")}
    assert usage.source.endswith("u-2026-11.csv")


def test_json_source(tmp_path):
    text = '[{"client": "A", "billable_gb": 3.14159}, {"client": "B", "billable_gb": "0"}]'
    assert read_usage(source(tmp_path, "json", text), NOV).rows == {
        "A": Decimal("3.14"),
        "B": Decimal("0.00"),
    }


def test_command_source_gets_the_period(tmp_path):
    src = UsageSource(kind="command", location="printf 'client,billable_gb\\nA,{year}.{month}\\n'",
                      base_dir=tmp_path)
    assert read_usage(src, NOV).rows == {"A": Decimal("2026.11")}


def test_failing_command_is_named(tmp_path):
    src = UsageSource(kind="command", location="echo boom >&2; exit 3", base_dir=tmp_path)
    with pytest.raises(
        InputError,
        match=r"usage command `echo boom >&2; exit 3` exited with 3 "
        r"for 2026-11: boom",
    ):
        read_usage(src, NOV)


@pytest.mark.parametrize(
    "body, message",
    [
        ("A,abc\n", "row 2: billable_gb must be a number, got 'abc'"),
        ("A,-1\n", "row 2: billable_gb must not be negative, got -1"),
        ("A,NaN\n", "row 2: billable_gb must be a finite number, got 'NaN'"),
        ("A,inf\n", "row 2: billable_gb must be a finite number, got 'inf'"),
        ("A,1e20\n", "row 2: billable_gb 1e20 is implausibly large"),
        ("A,\n", "row 2: billable_gb must be a number, got ''"),
        ("A,1,2\n", "row 2: expected 2 fields (client,billable_gb), got 3"),
        ("A,1\nB,2\nA,3\n", "row 4: second row for client 'A'"),
        (",1\n", "row 2: client name is empty"),
        ('"A,1\n', "malformed CSV"),
    ],
)
def test_bad_csv_rows_name_the_row(tmp_path, body, message):
    with pytest.raises(InputError) as e:
        read_usage(source(tmp_path, "csv", "client,billable_gb\n" + body), NOV)
    assert message in str(e.value) and "u-2026-11.csv" in str(e.value)
    assert "\n" not in str(e.value)


def test_wrong_header(tmp_path):
    with pytest.raises(InputError, match="row 1: header must be 'client,billable_gb'"):
        read_usage(source(tmp_path, "csv", "name,gb\nA,1\n"), NOV)


def test_not_utf8(tmp_path):
    with pytest.raises(InputError, match="not UTF-8"):
        read_usage(
            source(tmp_path, "csv", "client,billable_gb\nCaf\xe9,1\n".encode("latin-1")), NOV
        )


def test_missing_file_names_file_and_period(tmp_path):
    with pytest.raises(InputError, match=r"u-2026-11.csv: usage file not found for 2026-11"):
        read_usage(source(tmp_path, "csv", None), NOV)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{}", "must be a JSON list"),
        ('[{"client": "A"}]', "item 0: must be an object with exactly client and billable_gb"),
        ('[{"client": "A", "billable_gb": NaN}]', "item 0: billable_gb must be a finite number"),
        ('[{"client": "A", "billable_gb": true}]', "item 0: billable_gb must be a number"),
        ("[", "not valid JSON"),
    ],
)
def test_bad_json(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_usage(source(tmp_path, "json", text), NOV)


@given(st.from_regex(r"\A[0-9]{1,13}(\.[0-9]{0,3})?\Z") | st.text(max_size=8))
def test_the_plain_number_shortcut_agrees_with_the_full_check(text):
    """Most rows take a shortcut (a plain number with at most 2 decimals): it must give
    exactly what the full check gives, and refuse nothing that the full check would take."""
    from cwpublish.publish.usage import _add_row, parse_gb

    try:
        expected = parse_gb(text, "u.csv: row 2")
    except InputError:
        expected = None
    rows: dict = {}
    try:
        _add_row(rows, {}, "Client", text, "u.csv", "row 2")
    except InputError:
        rows["Client"] = None
    assert rows["Client"] == expected and str(rows["Client"]) == str(expected)


def test_blank_rows_are_skipped_between_rows(tmp_path):
    usage = read_usage(source(tmp_path, "csv", "client,billable_gb\nA,1\n , \n,\n\nB,2.5\n"), NOV)
    assert usage.rows == {"A": Decimal("1.00"), "B": Decimal("2.50")}
