"""Configuration: every mistake reported at once, with its path, as one line each; exit 2."""

from __future__ import annotations

import pytest
import yaml

from conftest import partner_config
from cwpublish.config.load import find_config_path, load_config
from cwpublish.errors import ConfigError
from cwpublish.targets.connectwise_soap.settings import DEFAULT_API_PATH, endpoint


def problems(tmp_path, data) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    return e.value.problems


def with_partner(**changes) -> dict:
    partner = partner_config("https://cw.acme.example")
    for dotted, value in changes.items():
        target = partner
        *parents, last = dotted.split("__")
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = value
    return {"partners": [partner]}


def test_valid_config_loads_with_defaults(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_partner(schedule={"day": 5})))
    config = load_config(path)
    p = config.partners[0]
    assert p.connectwise.api == "soap" and p.connectwise.settings.api_path == DEFAULT_API_PATH
    assert endpoint(p.connectwise) == "https://cw.acme.example" + DEFAULT_API_PATH
    assert p.connectwise.timeout == 30 and p.connectwise.settings.batch_size == 200
    assert p.schedule.day == 5 and p.schedule.catch_up_days == 0 and p.schedule.period == "current"
    assert p.usage.base_dir == tmp_path
    assert [c.publish for c in p.clients] == [True, True, True]
    assert config.state_dir == tmp_path / "xdg-state" / "cwpublish"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"schedule": {"day": 32}}, "partners[0].schedule.day: must be 1-31, got 32"),
        ({"schedule": {"day": True}}, "partners[0].schedule.day: must be 1-31, got True"),
        (
            {"schedule": {"day": 5, "timezone": "Mars/Olympus"}},
            "partners[0].schedule.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            {"schedule": {"day": 5, "period": "next"}},
            "partners[0].schedule.period: must be one of current, previous, got 'next'",
        ),
        (
            {
                "connectwise__site": "http://cw.acme.example",
                "connectwise__allow_insecure_http": False,
            },
            "partners[0].connectwise.site: http:// would send the integrator password in clear",
        ),
        (
            {
                "connectwise__site": "http://cw.acme.example",
                "connectwise__allow_insecure_http": True,
            },
            "partners[0].connectwise.site: allow_insecure_http is only allowed for a loopback host",
        ),
        (
            {"connectwise__site": "cw.acme.example"},
            "partners[0].connectwise.site: must be a URL such as https://cw.example.com",
        ),
        (
            {"connectwise__api_path": "apis/ManagedDeviceApi.asmx"},
            "partners[0].connectwise.api_path: must start with '/'",
        ),
        ({"connectwise__company_id": None}, "partners[0].connectwise.company_id: is required"),
        (
            {"connectwise__integrator_password": "oops"},
            "partners[0].connectwise.integrator_password: unknown key (did you mean "
            "'integrator_username'?)",
        ),
        ({"name": "acme corp"}, "partners[0].name: use letters, digits, '-' and '_' only"),
        (
            {"usage": {"csv": "a.csv", "json": "b.json"}},
            "partners[0].usage: give exactly one of csv, json or command",
        ),
        ({"usage": {"csv": "usage-{yaer}.csv"}}, "partners[0].usage.csv: bad placeholder"),
        ({"managers": ["not-an-email"]}, "partners[0].managers[0]: must be an email address"),
        ({"clients": []}, "partners[0].clients: must be a non-empty list"),
    ],
)
def test_each_mistake_is_named_with_its_path(tmp_path, changes, expected):
    found = problems(tmp_path, with_partner(**changes))
    assert any(p.startswith(expected) for p in found), found


def test_duplicate_clients_and_managed_ids(tmp_path):
    data = with_partner()
    data["partners"][0]["clients"] += [
        {"name": "contoso dental", "managed_id": "X"},
        {"name": "Other", "managed_id": "lawsmith"},
    ]
    found = problems(tmp_path, data)
    assert (
        "partners[0].clients[3].name: duplicate client name 'contoso dental' (also "
        "partners[0].clients[1])" in found
    )
    assert (
        "partners[0].clients[4].managed_id: duplicate Managed ID 'lawsmith' (also "
        "partners[0].clients[0])" in found
    )


def test_all_problems_are_reported_at_once(tmp_path):
    data = with_partner(schedule={"day": 0, "dya": 3}, connectwise__timeout=-1)
    data["statedir"] = "x"
    found = problems(tmp_path, data)
    assert "statedir: unknown key (did you mean 'state_dir'?)" in found
    assert "partners[0].schedule.dya: unknown key (did you mean 'day'?)" in found
    assert "partners[0].schedule.day: must be 1-31, got 0" in found
    assert any(p.startswith("partners[0].connectwise.timeout:") for p in found)


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    found = problems(tmp_path, "partners:\n  - name: acme\n    usage: [unclosed\n")
    assert len(found) == 1 and found[0].startswith("line 4, column 1: YAML syntax error")


def test_duplicate_yaml_keys_are_refused(tmp_path):
    found = problems(tmp_path, "partners: []\npartners: []\n")
    assert found == ["line 2, column 1: YAML syntax error: duplicate key 'partners'"]


def test_yaml_is_loaded_safely(tmp_path):
    found = problems(tmp_path, "partners: !!python/object/apply:os.system ['true']\n")
    assert "YAML syntax error" in found[0]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_day_29_to_31_warns(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_partner(schedule={"day": 31})))
    assert "does not exist in every month" in load_config(path).warnings[0]


def test_config_search_order(tmp_path, monkeypatch):
    assert find_config_path("x.yaml").name == "x.yaml"
    assert find_config_path(None) == tmp_path / "home" / ".config" / "cwpublish" / "config.yaml"
    (tmp_path / "cwpublish.yaml").write_text("")
    assert str(find_config_path(None)) == "cwpublish.yaml"
    monkeypatch.setenv("CWPUBLISH_CONFIG", "/etc/cw.yaml")
    assert str(find_config_path(None)) == "/etc/cw.yaml"


def test_cli_reports_config_errors_one_per_line_exit_2(tmp_path, run):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_partner(schedule={"day": 32}, usage={"csvv": "x"})))
    result = run(path, "publish", "--yes")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert f"cwpublish: error: {path}: partners[0].schedule.day: must be 1-31, got 32" in lines
    assert all(line.startswith("cwpublish: error: ") for line in lines)
    assert "Traceback" not in result.stderr
    check = run(path, "check-config")
    assert check.exit_code == 2
    assert f"✗ {path}: partners[0].schedule.day: must be 1-31, got 32" in check.stdout


def test_the_shipped_example_config_is_valid():
    from conftest import ROOT

    config = load_config(ROOT / "config.example.yaml")
    assert config.partners[0].schedule.day == 5 and config.smtp.port == 587


def test_the_example_rest_partner_is_valid_once_uncommented(tmp_path):
    """The commented REST partner in the example is the documented contract: it must load."""
    import re

    from conftest import ROOT

    lines = (ROOT / "config.example.yaml").read_text().split("\n")
    start = next(i for i, line in enumerate(lines) if "- name: acme-cloud" in line)
    text = "\n".join(lines[:start] + [re.sub(r"^  # ", "  ", line) for line in lines[start:]])
    path = tmp_path / "c.yaml"
    path.write_text(text.replace("https://na.myconnectwise.net", "https://cw.example.com"))
    cloud = load_config(path).partner("acme-cloud")
    assert cloud.connectwise.api == "rest" and cloud.connectwise.settings.api_version == "2025.1"
    assert cloud.clients[0].company == cloud.clients[0].managed_id == "LAWSMITH"


@pytest.mark.parametrize(
    ("section", "client", "message"),
    [
        ({"integrator_username": "x"}, {}, "integrator_username: unknown key"),
        ({}, {"managed_id": "X"}, "company: is required"),
        ({"client_id": "not-a-guid"}, {}, "client_id: must be the integration's clientId GUID"),
        ({"publish_to": "agreement_addition"}, {}, "product: is required with publish_to"),
        ({"max_requests_per_second": 0}, {}, "max_requests_per_second: must be a positive"),
        ({"max_requests_per_second": "40"}, {}, "max_requests_per_second: must be a positive"),
    ],
)
def test_rest_keys_are_checked_and_soap_keys_refused(tmp_path, section, client, message):
    from conftest import rest_partner_config

    partner = rest_partner_config("https://cw.example.com")
    partner["connectwise"].pop("allow_insecure_http")
    partner["connectwise"].update(section)
    if client:
        partner["clients"] = [{"name": "A", **client}]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"partners": [partner]}))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_rest_client_keys_are_refused_under_soap(tmp_path):
    data = with_partner()
    data["partners"][0]["clients"][0]["company"] = "LAWSMITH"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"clients\[0\]\.company: only with connectwise.api"):
        load_config(path)


def test_parse_cache_is_used_only_for_the_same_text(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_partner()))
    first = load_config(path)
    [cache] = (tmp_path / "home" / ".cache" / "cwpublish").glob("config-*.json")
    assert load_config(path) == first  # from the cache
    data = with_partner()
    data["partners"][0]["clients"].append({"name": "Law Office of R. Smith", "managed_id": "X"})
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="duplicate client name"):
        load_config(path)  # new text: parsed and validated in full, cache not trusted
    cache.write_text("{garbage")
    path.write_text(yaml.safe_dump(with_partner()))
    assert load_config(path) == first  # a broken cache is ignored


def test_invalid_text_is_never_cached(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_partner(schedule={"day": 40})))
    for _ in range(2):
        with pytest.raises(ConfigError, match="must be 1-31"):
            load_config(path)
    assert not list((tmp_path / "home" / ".cache").rglob("config-*.json"))


def test_control_characters_are_refused(tmp_path):
    data = with_partner()
    data["partners"][0]["clients"][0]["name"] = "Law\x01Office"
    found = problems(tmp_path, data)
    assert any(p.startswith("partners[0].clients[0].name: must not contain control characters")
               for p in found), found


@pytest.mark.parametrize(
    "site",
    [
        "https://cw.acme.example/v4_6_release/apis/2.0/ManagedDeviceApi.asmx",
        "https://cw.acme.example/v4_6_release/apis/3.0/",
        "https://cw.acme.example/?x=1",
    ],
)
def test_a_site_with_a_path_shows_the_site_to_use(tmp_path, site):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_partner(connectwise__site=site)))
    with pytest.raises(ConfigError, match=r"without a path: use 'https://cw.acme.example'"):
        load_config(path)


def test_a_site_with_credentials_in_it_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_partner(connectwise__site="https://u:pw@cw.acme.example")))
    with pytest.raises(ConfigError, match="must not hold a user name or password") as e:
        load_config(path)
    assert "pw@" not in str(e.value)


def test_an_unknown_key_ending_in_a_line_break_is_named_on_one_line(tmp_path):
    # found by the YAML fuzz: `^...$` also matched "0\n", so the key was printed raw
    found = problems(tmp_path, {"0\n": None})
    assert "'0\\n': unknown key" in found
    assert all("\n" not in p for p in found)


@pytest.mark.parametrize(("api", "secret"), [("soap", "integrator password"),
                                             ("rest", "API private key")])
def test_an_http_site_names_the_targets_own_secret(tmp_path, api, secret):
    """The secret named in messages is the one its TargetSpec declares (also what the
    credentials prompt and check-config say)."""
    from conftest import rest_partner_config
    from cwpublish.targets.registry import TARGETS

    partner = (rest_partner_config if api == "rest" else partner_config)("http://cw.example.com")
    partner["connectwise"].pop("allow_insecure_http")
    assert TARGETS[api].secret_label == secret
    [problem] = problems(tmp_path, {"partners": [partner]})
    assert problem == (f"partners[0].connectwise.site: http:// would send the {secret} in clear; "
                       "use https:// (allow_insecure_http: true is only for a simulator on "
                       "loopback)")


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_every_field_of_a_targets_settings_is_a_config_key(tmp_path, api):
    """A target's config keys are its settings dataclass's fields: each field given with the
    value it loads to is accepted, and a key that is no field is named with its path."""
    from dataclasses import fields

    from conftest import rest_partner_config
    from cwpublish.targets.registry import target_settings

    partner = (rest_partner_config if api == "rest" else partner_config)("http://127.0.0.1:9")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"partners": [partner]}))
    loaded = load_config(path).partners[0].connectwise.settings
    every = {f.name: getattr(loaded, f.name) for f in fields(target_settings(api).model)}
    partner["connectwise"].update({k: v for k, v in every.items() if v is not None})
    path.write_text(yaml.safe_dump({"partners": [partner]}))
    assert load_config(path).partners[0].connectwise.settings == loaded
    partner["connectwise"]["batch_sise"] = 5
    assert "partners[0].connectwise.batch_sise: unknown key" in problems(
        tmp_path, {"partners": [partner]})[0]


def test_a_cache_entry_written_under_other_rules_is_not_used(tmp_path, monkeypatch):
    """The parse cache's format is derived from the rules' source: an entry written by a
    cwpublish with other rules is never trusted, even for the same bytes."""
    import json

    from cwpublish.config import cache

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_partner()))
    with monkeypatch.context() as m:
        m.setattr(cache, "cache_format", lambda: "older-rules")
        load_config(path)  # cached under the older rules' format
    [entry] = (tmp_path / "home" / ".cache" / "cwpublish").glob("config-*.json")
    head, _, body = entry.read_bytes().partition(b"\n")
    header = json.loads(head)
    assert header["format"] == "older-rules"
    header["data"]["partners"][0]["name"] = "decided-otherwise"  # what the old rules built
    entry.write_bytes(json.dumps(header).encode() + b"\n" + body)
    assert load_config(path).partners[0].name == "acme"
    assert json.loads(entry.read_bytes().partition(b"\n")[0])["format"] == cache.cache_format()
