"""Hardening of the inputs: config identifiers, YAML aliases, usage data, placeholders, stored
passwords, SMTP in clear and "the future" per partner. Each bad input is one line naming the
file and key (or row, or option), exit 2, and nothing sent or stored."""

from __future__ import annotations

import json
import re
import time
from datetime import date

import keyring
import pytest
import yaml
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SECRET, USAGE, partner_config, sim_state
from cwpublish.config.cache import ParseCache
from cwpublish.config.credentials import set_secret
from cwpublish.config.load import load_config
from cwpublish.errors import ConfigError, CredentialsError

THIS = f"{date.today():%Y-%m}"


def one_error_line(result, *parts: str) -> str:
    """The single error line of a failed command, checked to hold every part."""
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if parts[0] in line]
    assert len(lines) == 1, result.stdout + result.stderr
    assert all(p in lines[0] for p in parts), lines[0]
    return lines[0]


def write(tmp_path, text: str):
    path = tmp_path / "cwpublish.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def outcome(path) -> str:
    """What loading gives, as text: the config's repr, or the problems."""
    try:
        return repr(load_config(path))
    except ConfigError as e:
        return "ConfigError: " + "\n".join(e.problems)


# -- 1. identifiers are text exactly as written; the parse cache never changes a decision --


@pytest.mark.parametrize(
    "key, written, path",
    [
        ("managed_id", "1001", "partners[0].clients[0].managed_id"),
        ("managed_id", "0123", "partners[0].clients[0].managed_id"),
        ("name", "2024-01-05", "partners[0].clients[0].name"),
        ("company_id", "0x1F", "partners[0].connectwise.company_id"),
        ("management_it_name", "yes", "partners[0].connectwise.management_it_name"),
    ],
)
def test_unquoted_identifier_is_refused_on_every_run_never_converted(
    make_config, run, key, written, path
):
    config = make_config(usage={f"acme-{THIS}.csv": USAGE})
    text = config.read_text()
    quoted = {"managed_id": "LAWSMITH", "name": "Law Office of R. Smith", "company_id": "acme",
              "management_it_name": "rCloud Backup"}[key]
    config.write_text(text.replace(f"{key}: {quoted}", f"{key}: {written}", 1))
    for _ in range(2):  # the second run used to crash through the parse cache
        result = run(config, "check-config")
        line = one_error_line(
            result, f"{path}: must be text: quote it, e.g. {key}: \"{written}\"", str(config)
        )
        assert "83" not in line  # 0123 is never shown (or sent) as YAML's octal 83


TRICKY = ["1001", "0123", "0o17", "1_000", "1.50", "1e3", ".inf", ".nan", "12:30", "2024-01-05",
          "2024-01-05T10:00:00Z", "yes", "off", "true", "~", "null", "''", "'0123'", '"1001"',
          "Café", "名前", '"\\u00e9"', "'=1+1'", "-", "[a, b]", "{a: 1}", "&x 5", "*x"]
SPOTS = ["clients[0].managed_id", "clients[0].name", "clients[0].publish", "name",
         "connectwise.company_id", "connectwise.timeout", "connectwise.batch_size",
         "schedule.day", "usage.csv"]


@pytest.mark.parametrize("spot", SPOTS)
def test_the_cache_yields_exactly_what_a_fresh_parse_yields(tmp_path, spot):
    base = {"partners": [partner_config("https://cw.acme.example", schedule={"day": 5})]}
    for value in TRICKY:
        data = json.loads(json.dumps(base))
        target = data["partners"][0]
        *parents, last = spot.replace("[0]", ".0").split(".")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[last] = "@@VALUE@@"
        text = yaml.safe_dump(data, allow_unicode=True).replace("'@@VALUE@@'", value)
        path = write(tmp_path, text)
        first, second = outcome(path), outcome(path)
        assert first == second, (spot, value)
        fresh = outcome_without_cache(tmp_path, path)
        assert first == fresh, (spot, value)


def outcome_without_cache(tmp_path, path) -> str:
    for cached in (tmp_path / "home" / ".cache").rglob("config-*.json"):
        cached.unlink()
    return outcome(path)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=12), st.integers(), st.floats(), st.booleans(), st.dates(),
                 st.none()))
def test_any_value_loads_the_same_twice_and_only_text_is_taken(tmp_path, value):
    data = {"partners": [partner_config("https://cw.acme.example")]}
    data["partners"][0]["clients"][0]["managed_id"] = value
    path = write(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    first = outcome(path)
    assert outcome(path) == first
    if not isinstance(value, str):
        assert "clients[0].managed_id" in first and first.startswith("ConfigError")


def test_a_cache_entry_holding_a_number_is_never_trusted(tmp_path):
    """An entry written by an older version (or tampered with) cannot crash or convert."""
    text = yaml.safe_dump({"partners": [partner_config("https://cw.acme.example")]})
    path = write(tmp_path, text.replace("managed_id: LAWSMITH", "managed_id: 1001"))
    cache = ParseCache(path, path.read_text())
    data = yaml.safe_load(path.read_text())
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    for digest in (cache.digest, __import__("hashlib").sha256(path.read_bytes()).hexdigest()):
        cache.path.write_text(json.dumps({"sha256": digest, "data": data}))
        with pytest.raises(ConfigError) as e:
            load_config(path)
        assert e.value.problems == [
            'partners[0].clients[0].managed_id: must be text: quote it, e.g. managed_id: '
            '"1001" (YAML reads 1001 as a number)'
        ]


# -- 2. YAML aliases ("billion laughs") ------------------------------------------------------


def test_yaml_aliases_are_refused_at_once_with_their_line(tmp_path, run):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]
    path = write(tmp_path, "\n".join([*lines, "partners: *a11", ""]))
    started = time.monotonic()
    result = run(path, "check-config")
    assert time.monotonic() - started < 5  # 9**12 values are never built
    one_error_line(result, f"{path}: line 2, column 10:", "aliases (*name) are not allowed")
    assert not list((tmp_path / "home").rglob("config-*.json"))


# -- 3. ambiguous usage data and bad usage placeholders -----------------------------------------


@pytest.mark.parametrize(
    "kind, body, message",
    [
        ("json", '[{"client": "Contoso Dental", "billable_gb": 1, "billable_gb": 2}]',
         "item 0: key 'billable_gb' appears more than once"),
        ("json", '[{"client": "Contoso Dental", "billable_gb": NaN}]',
         "item 0: billable_gb must be a finite number, got NaN"),
        ("json", '[{"client": "Contoso Dental", "billable_gb": -Infinity}]',
         "item 0: billable_gb must be a finite number, got -Infinity"),
        ("json", '[{"client": 1001, "billable_gb": 1}]', "item 0: client must be a name (text)"),
        ("csv", "client,billable_gb,billable_gb\nContoso Dental,1,2\n",
         "row 1: column 'billable_gb' appears more than once"),
        ("csv", "client,billable_gb\nContoso Dental,1,2\n", "row 2: expected 2 fields"),
        ("csv", "client,billable_gb\nContoso Dental,1\nCONTOSO DENTAL,2\n",
         "row 3: second row for client 'CONTOSO DENTAL' (also row 2)"),
        ("csv", 'client,billable_gb\nContoso Dental,"1,250.45"\n',
         "row 2: billable_gb must be a number, got '1,250.45' (a plain number"),
        ("csv", 'client,billable_gb\nContoso Dental,"310,5"\n', "got '310,5' (a plain number"),
        ("csv", "client,billable_gb\nContoso Dental,1_000\n", "got '1_000' (a plain number"),
        ("csv", "client,billable_gb\nContoso Dental,Infinity\n", "must be a finite number"),
    ],
)
def test_ambiguous_usage_is_refused_with_its_row_and_nothing_is_sent(
    sim, make_config, password, run, kind, body, message
):
    partner = partner_config(sim.url, usage={kind: f"usage/acme-{{year}}-{{month:02d}}.{kind}"})
    config = make_config(partners=[partner], usage={f"acme-{THIS}.{kind}": body})
    result = run(config, "publish", "--yes", "--client", "CONTOSO-01")
    one_error_line(result, f"acme {THIS}: FAILED: ", message, f"acme-{THIS}.{kind}")
    assert sim_state(sim)["request_count"] == 0


@pytest.mark.parametrize(
    "location", ["u-{0}.csv", "u-{year.real}.csv", "u-{month[0]}.csv", "u-{foo}.csv",
                 "u-{year!r}.csv", "u-{year.csv", "u-{month:s}.csv", "u-{month:>99999}.csv", "{}"],
)
def test_a_bad_usage_placeholder_is_one_line_naming_the_key(make_config, run, location):
    config = make_config(partners=[partner_config("https://cw.acme.example",
                                                  usage={"csv": location})])
    result = run(config, "check-config")
    one_error_line(result, f"{config}: partners[0].usage.csv: bad placeholder (")


# -- 4. passwords with control characters --------------------------------------------------------


@pytest.mark.parametrize(
    "typed, code", [("pa\x1bss\n", "U+001B"), ("pass\nword\n", "U+000A"), ("p\x00w\n", "U+0000")]
)
def test_a_password_with_a_control_character_is_not_stored(make_config, run, typed, code):
    result = run(make_config(), "credentials", "set", "--partner", "acme", input=typed)
    one_error_line(result, f"refusing to store a password containing a control character "
                           f"({code})")
    assert keyring.get_password("cwpublish", "connectwise:acme") is None
    with pytest.raises(CredentialsError, match=re.escape(code)):
        set_secret("connectwise:acme", typed.rstrip("\n"))


def test_a_password_with_spaces_is_stored(make_config, run):
    result = run(make_config(), "credentials", "set", "--partner", "acme", input=" a b \r\n")
    assert result.exit_code == 0, result.stderr
    assert keyring.get_password("cwpublish", "connectwise:acme") == " a b "


def test_a_stored_password_with_a_control_character_is_a_clear_error(sim, make_config, run):
    keyring.set_password("cwpublish", "connectwise:acme", SECRET + "\x1b")
    result = run(make_config(sim.url, usage={f"acme-{THIS}.csv": USAGE}), "publish", "--yes")
    one_error_line(result, f"acme {THIS}: FAILED: integrator password for acme in the keyring "
                   "contains a control character (U+001B) and cannot be sent",
                   "cwpublish credentials set --partner acme")
    assert sim_state(sim)["request_count"] == 0


# -- 5. SMTP login in clear ----------------------------------------------------------------------


@pytest.mark.parametrize("host, ok", [("smtp.example.com", False), ("10.0.0.5", False),
                                      ("127.0.0.1", True), ("localhost", True), ("::1", True)])
def test_smtp_none_with_a_login_is_refused_off_loopback(make_config, run, host, ok):
    smtp = {"host": host, "security": "none", "username": "billing@example.com",
            "sender": "billing@example.com"}
    result = run(make_config(smtp=smtp), "check-config")
    message = "smtp.security: none would send the SMTP password of 'billing@example.com'"
    if ok:
        assert message not in result.stdout + result.stderr
    else:
        line = one_error_line(result, message, "use starttls or ssl")
        assert host in line
    del smtp["username"]  # no login: nothing secret crosses the network
    assert message not in run(make_config(smtp=smtp), "check-config").stdout


# -- 6. "the future" is judged in each partner's time zone --------------------------------------

NZ_MAY_UK_APRIL = "2026-04-30 12:30:00"  # 00:30 on 1 May in Auckland, 13:30 on 30 April in London


def two_partners(make_config):
    acme = partner_config("http://127.0.0.1:9", schedule={"day": 5, "timezone": "Pacific/Auckland"})
    beta = partner_config("http://127.0.0.1:9", name="beta",
                          schedule={"day": 5, "timezone": "Europe/London"},
                          usage={"csv": "usage/beta-{year}-{month:02d}.csv"})
    beta["connectwise"]["company_id"] = "beta"  # its own company: clients may share Managed IDs
    keyring.set_password("cwpublish", "connectwise:acme", SECRET)
    keyring.set_password("cwpublish", "connectwise:beta", SECRET)
    usage = {f"{p}-2026-{m}.csv": USAGE for p in ("acme", "beta") for m in ("04", "05")}
    return make_config(partners=[acme, beta], usage=usage)


@freeze_time(NZ_MAY_UK_APRIL)
def test_next_month_is_refused_for_a_partner_still_in_this_month(make_config, run, tmp_path):
    config = two_partners(make_config)
    result = run(config, "publish", "--month", "2026-05", "--yes")
    one_error_line(result, "--month: 2026-05 is in the future for partner beta "
                           "(it is 2026-04 in Europe/London)")
    assert not (tmp_path / "state" / "history.log").exists()  # nothing sent or recorded
    to = run(config, "publish", "--from", "2026-04", "--to", "2026-05", "--dry-run")
    one_error_line(to, "--to: 2026-05 is in the future for partner beta")
    report = run(config, "report", "--partner", "beta", "--month", "2026-05")
    one_error_line(report, "--month: 2026-05 is in the future for partner beta")


@freeze_time(NZ_MAY_UK_APRIL)
def test_next_month_is_allowed_where_it_has_begun(make_config, run):
    config = two_partners(make_config)
    result = run(config, "publish", "--partner", "acme", "--month", "2026-05", "--dry-run",
                 "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert [e["period"] for e in json.loads(result.stdout)["entries"]] == ["2026-05"]
    assert run(config, "report", "--partner", "acme", "--month", "2026-05").exit_code == 0
    # --from alone runs up to each partner's own current month
    both = run(config, "publish", "--from", "2026-04", "--dry-run", "--json")
    assert both.exit_code == 0, both.stdout + both.stderr
    done = sorted((e["partner"], e["period"]) for e in json.loads(both.stdout)["entries"])
    assert done == [("acme", "2026-04"), ("acme", "2026-05"), ("beta", "2026-04")]
    assert "is in the future" in run(config, "publish", "--month", "2026-06",
                                     "--dry-run").stderr
