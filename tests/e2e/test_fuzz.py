"""Property tests (hypothesis): random YAML and CSV give a correct result or a clean error.

Never a traceback, never a wrong value: ambiguous input is an error, not a guess.
"""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import partner_config
from cwpublish.config.load import load_config
from cwpublish.config.model import UsageSource
from cwpublish.domain.period import Period
from cwpublish.errors import ConfigError, InputError
from cwpublish.publish.usage import read_usage

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
KEYS = ["partners", "name", "connectwise", "site", "company_id", "integrator_username",
        "management_it_name", "backup_stats_name", "schedule", "day", "timezone", "usage",
        "csv", "clients", "managed_id", "publish", "smtp", "host", "port", "state_dir",
        "managers", "batch_size", "catch_up_days", "period"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True), st.text(max_size=20), st.sampled_from(KEYS))
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children,
                      max_size=5),
    max_leaves=25,
)


def check_config_outcome(tmp_path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as e:
        assert e.problems and all("\n" not in p for p in e.problems), e.problems


@FUZZ
@given(documents)
def test_random_yaml_documents(tmp_path, document):
    check_config_outcome(tmp_path, yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(st.text(max_size=300))
def test_random_yaml_text(tmp_path, text):
    check_config_outcome(tmp_path, text)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["connectwise", "schedule", "usage", None]),
                          st.sampled_from(KEYS), scalars), min_size=1, max_size=4))
def test_mutated_valid_configs(tmp_path, changes):
    partner = partner_config("https://cw.example.com")
    for section, key, value in changes:
        target = partner if section is None else partner.setdefault(section, {})
        if isinstance(target, dict):
            target[key] = value
    check_config_outcome(tmp_path, yaml.safe_dump({"partners": [partner]}, allow_unicode=True))


def usage_from(tmp_path, raw: bytes) -> UsageSource:
    (tmp_path / "u.csv").write_bytes(raw)
    return UsageSource(kind="csv", location="u.csv", base_dir=tmp_path)


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


names = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                max_size=30).map(str.strip).filter(bool)
amounts = st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False,
                      places=4)


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


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(names, min_size=1, max_size=4, unique=True), st.lists(amounts, min_size=4,
                                                                       max_size=4))
def test_hostile_client_names_reach_connectwise_intact(sim, make_config, password, run, tmp_path,
                                                       client_names, gbs):
    import urllib.request

    sim.sim.tenants["acme"].pop("rest", None)  # SOAP only: its REST agreements name companies
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/reset", data=b"",
                                                  method="POST"), timeout=5).close()
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
    clients = [{"name": n, "managed_id": f"C-{i}"} for i, n in enumerate(client_names)]
    sim.sim.tenants["acme"]["companies"] = [{**c, "device_type": "Backup Stats"}
                                            for c in clients]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["client", "billable_gb"])
    for c, gb in zip(clients, gbs, strict=False):
        writer.writerow([c["name"], str(gb)])
    config = make_config(partners=[partner_config(sim.url, clients=clients)],
                         usage={f"acme-{date.today():%Y-%m}.csv": out.getvalue()})
    result = run(config, "publish", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    held = sim.sim.state()["configurations"]["acme"]
    for c, gb in zip(clients, gbs, strict=False):
        got = held[c["managed_id"]]
        assert got["device_name"] == f"rCloud Backup - {c['name']}"
        assert Decimal(str(got["billable_space_gb"])) == gb.quantize(Decimal("0.01"),
                                                                      ROUND_HALF_UP)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=120))
def test_cli_with_random_usage_bytes_publishes_exactly_or_exits_2(sim, make_config, password,
                                                                  run, tmp_path, raw):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/reset", data=b"",
                                                  method="POST"), timeout=5).close()
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
    content = b"client,billable_gb\nLaw Office of R. Smith,5\n" + raw
    usage_file = tmp_path / "usage" / f"acme-{date.today():%Y-%m}.csv"
    usage_file.parent.mkdir(exist_ok=True)
    usage_file.write_bytes(content)
    config = make_config(sim.url)
    result = run(config, "publish", "--yes")
    assert "Traceback" not in result.stdout + result.stderr
    held = sim.sim.state()["configurations"].get("acme", {})
    try:
        source = UsageSource(kind="csv", location=usage_file.name, base_dir=usage_file.parent)
        expected = read_usage(source, Period.of(date.today())).rows
    except InputError as e:
        assert result.exit_code == 2 and held == {}
        assert str(e) in result.stdout and "\n" not in str(e)
        return
    assert result.exit_code in (0, 3)
    by_name = {"Law Office of R. Smith": "LAWSMITH", "Contoso Dental": "CONTOSO-01",
               "Northwind Traders": "NORTHWIND"}
    sent = {mid: Decimal(str(c["billable_space_gb"])) for mid, c in held.items()}
    assert sent == {by_name[n]: gb for n, gb in expected.items() if n in by_name}
