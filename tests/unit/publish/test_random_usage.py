"""Property (hypothesis): random CSV bytes parse exactly or fail cleanly; valid CSV gives
exactly its values."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cwpublish.config.model import UsageSource
from cwpublish.domain.period import Period
from cwpublish.errors import InputError
from cwpublish.publish.usage import read_usage

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def usage_from(tmp_path, raw: bytes) -> UsageSource:
    (tmp_path / "u.csv").write_bytes(raw)
    return UsageSource(kind="csv", location="u.csv", base_dir=tmp_path)


names = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                max_size=30).map(str.strip).filter(bool)


amounts = st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False,
                      places=4)


@FUZZ
@given(st.binary(max_size=300))
def test_random_csv_bytes_parse_or_fail_cleanly(tmp_path, raw):
    try:
        usage = read_usage(usage_from(tmp_path, b"client,billable_gb\n" + raw), Period(2026, 11))
    except InputError as e:
        assert "\n" not in str(e) and "u.csv" in str(e)
        return
    for name, gb in usage.rows.items():
        assert name and name == name.strip()
        assert gb >= 0 and gb == gb.quantize(Decimal("0.01"))


@FUZZ
@given(st.dictionaries(names, amounts, min_size=1, max_size=8), st.booleans(),
       st.sampled_from(["\n", "\r\n"]))
def test_valid_csv_gives_exactly_its_values(tmp_path, rows, bom, newline):
    import unicodedata

    # two rows for one client that differ only in case or Unicode form are refused (ambiguous;
    # tested elsewhere): valid data has distinct clients
    folded = [unicodedata.normalize("NFKC", n).casefold() for n in rows]
    assume(len(set(folded)) == len(folded))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(["client", "billable_gb"])
    for name, gb in rows.items():
        writer.writerow([name, str(gb)])
    raw = (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")
    (tmp_path / "u.csv").write_bytes(raw)
    source = UsageSource(kind="csv", location="u.csv", base_dir=tmp_path)
    usage = read_usage(source, Period(2026, 11))
    expected = {n: g.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for n, g in rows.items()}
    assert usage.rows == expected
