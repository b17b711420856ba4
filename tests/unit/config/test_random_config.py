"""Property (hypothesis): random or mutated YAML gives a valid config or one clean ConfigError."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import partner_config
from cwpublish.config.load import load_config
from cwpublish.errors import ConfigError

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
