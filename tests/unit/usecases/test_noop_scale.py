"""The nightly no-op does not grow with the clients (issue "Scale"): a partner that is not due
has no client built or validated, what the parse cache gives lazily equals a fresh parse, a
same-size edit is never missed, and loading leaves the garbage collector as it found it."""

from __future__ import annotations

import gc
import json
import os
import time
from datetime import UTC, datetime

import pytest
import yaml
from freezegun import freeze_time

from conftest import partner_config, rest_partner_config
from cwpublish.config import validation as config_validation
from cwpublish.config.cache import ParseCache
from cwpublish.config.clients import ClientReader
from cwpublish.config.load import load_config
from cwpublish.config.model import Client
from cwpublish.errors import ConfigError
from cwpublish.usecases import scheduled_publish

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # beta's day (20); acme's (5) is far


def two_partners(tmp_path) -> dict:
    acme = partner_config("https://cw.acme.example", schedule={"day": 5, "timezone": "UTC"})
    beta = partner_config("https://cw.beta.example", name="beta",
                          schedule={"day": 20, "timezone": "UTC"})
    beta["clients"] = [{"name": f"Beta {i}", "managed_id": f"B-{i}"} for i in range(3)]
    for partner in (acme, beta):
        partner["schedule"]["ping_url"] = f"https://ping.example/{partner['name']}"
    return {"state_dir": str(tmp_path / "state"), "partners": [acme, beta]}


def write(tmp_path, data: dict):
    path = tmp_path / "cwpublish.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def cache_file(tmp_path):
    [found] = (tmp_path / "home" / ".cache" / "cwpublish").glob("config-*.json")
    return found


def replace_clients_line(tmp_path, partner: int, clients: list) -> None:
    """Rewrite one partner's client line of the cache entry (as another writer might have)."""
    path = cache_file(tmp_path)
    header, *lines = path.read_bytes().split(b"\n")[:-1]
    lines[partner] = json.dumps(clients).encode()
    head, spans, offset = json.loads(header), [], 0
    for line in lines:
        spans.append([offset, len(line)])
        offset += len(line) + 1
    head["clients"] = spans
    path.write_bytes(json.dumps(head).encode() + b"\n" + b"".join(x + b"\n" for x in lines))


@pytest.fixture
def built(monkeypatch) -> list:
    """Every Client constructed from now on."""
    made: list = []
    init = Client.__init__

    def counting(self, *args, **kwargs):
        made.append((kwargs["name"],))  # keyword-only: who was built, by name
        init(self, *args, **kwargs)

    monkeypatch.setattr(Client, "__init__", counting)
    return made


@pytest.fixture
def sent(monkeypatch) -> list:
    """What the scheduled run pinged and handed over for publishing (nothing really goes)."""
    calls: list = []
    monkeypatch.setattr(scheduled_publish, "ping", lambda url, event="": calls.append(url))
    monkeypatch.setattr(
        scheduled_publish, "_publish_due",
        lambda config, due, *args: calls.append([(d.partner.name, str(d.period)) for d in due]),
    )
    return calls


# -- laziness ------------------------------------------------------------------------------------


def test_the_noop_builds_no_client_of_a_partner_that_is_not_due(tmp_path, built, sent):
    path = write(tmp_path, two_partners(tmp_path))
    load_config(path)  # first run after the edit: parsed, validated in full, cached
    # The cache now holds a line that would not validate for acme (not due) only: it is never
    # read tonight, so it cannot stop beta's publish.
    replace_clients_line(tmp_path, 0, [{"name": "", "managed_id": 7}])
    built.clear()
    config = load_config(path)
    assert built == []  # nothing per client at load
    scheduled_publish.run_scheduled(config, (), None, now=NOW)
    assert [args[0] for args in built] == ["Beta 0", "Beta 1", "Beta 2"]  # the due one only
    assert sent == ["https://ping.example/acme", [("beta", "2026-11")]]


def test_nothing_due_builds_no_client_at_all(tmp_path, built, sent):
    path = write(tmp_path, two_partners(tmp_path))
    load_config(path)
    built.clear()
    quiet = datetime(2026, 11, 12, 12, tzinfo=UTC)  # neither day, nor the night before one
    scheduled_publish.run_scheduled(load_config(path), (), None, now=quiet)
    assert built == []
    assert sent == ["https://ping.example/acme", "https://ping.example/beta"]


def test_a_due_partners_bad_client_is_reported_with_its_path_before_anything(tmp_path, sent):
    path = write(tmp_path, two_partners(tmp_path))
    load_config(path)
    replace_clients_line(tmp_path, 1, [{"name": "Beta 0", "managed_id": "B-0"},
                                       {"name": " ", "managed_id": "B-1", "extra": 1}])
    config = load_config(path)  # the lazily kept clients are checked when built
    with pytest.raises(ConfigError) as e:
        scheduled_publish.run_scheduled(config, (), None, now=NOW)
    assert e.value.path == str(path)
    assert e.value.problems == [
        "partners[1].clients[1].extra: unknown key",
        "partners[1].clients[1].name: must not be empty",
    ]
    assert sent == []  # no ping, no publish
    assert not (tmp_path / "state" / "schedule.json").exists()


def test_a_bad_client_in_the_file_stops_the_noop_with_its_path(tmp_path, run):
    data = two_partners(tmp_path)
    data["partners"][1]["clients"][2]["managed_id"] = 1001
    path = write(tmp_path, data)
    with freeze_time(NOW):
        result = run(path, "publish", "--scheduled")
    assert result.exit_code == 2
    assert result.stderr == (
        f"cwpublish: error: {path}: partners[1].clients[2].managed_id: must be text: quote it, "
        'e.g. managed_id: "1001" (YAML reads 1001 as a number)\n'
    )
    assert not (tmp_path / "state").exists()


# -- the cache gives what a fresh parse gives ------------------------------------------------------


def mixed(tmp_path) -> dict:
    soap = partner_config("https://cw.acme.example", schedule={"day": 5})
    soap["clients"][1]["publish"] = False
    rest = rest_partner_config("https://na.myconnectwise.net", name="rest")
    rest["clients"] = [{"name": "A", "company": "CO-A", "agreement": "Managed"},
                       {"name": "B", "company": "CO-B", "managed_id": "M-B", "publish": False}]
    return {"state_dir": str(tmp_path / "state"), "partners": [soap, rest]}


def test_lazily_built_clients_equal_a_fresh_parse(tmp_path, built):
    path = write(tmp_path, mixed(tmp_path))
    fresh = load_config(path)  # no entry yet: parsed and validated in full
    built.clear()
    cached = load_config(path)
    assert built == []
    assert [p.clients for p in cached.partners] == [p.clients for p in fresh.partners]
    assert all(type(p.clients) is tuple for p in cached.partners)
    assert [p.connectwise.settings for p in cached.partners] == [
        p.connectwise.settings for p in fresh.partners
    ]
    assert cached == fresh and repr(cached) == repr(fresh)
    assert len(built) == 5  # built once each, then kept
    cached.partners[0].clients  # noqa: B018
    assert len(built) == 5


def test_a_same_size_edit_right_after_a_load_is_never_missed(tmp_path):
    data = two_partners(tmp_path)
    path = write(tmp_path, data)
    assert load_config(path).partners[0].schedule.day == 5
    data["partners"][0]["schedule"]["day"] = 6  # same size, same second
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert load_config(path).partners[0].schedule.day == 6


def test_a_settled_file_is_recognised_by_its_stamp_and_any_write_changes_it(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(ParseCache, "SETTLED_NS", 0)  # as if written long ago
    data = two_partners(tmp_path)
    path = write(tmp_path, data)
    first = load_config(path)
    read = ParseCache.read

    def not_read(self):
        raise AssertionError("the file was read although its stamp is the entry's")

    monkeypatch.setattr(ParseCache, "read", not_read)
    assert load_config(path) == first
    monkeypatch.setattr(ParseCache, "read", read)
    time.sleep(0.05)  # past the file system's time granularity
    data["partners"][0]["schedule"]["day"] = 6  # same size: only the change time tells
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert load_config(path).partners[0].schedule.day == 6


# -- the garbage collector -----------------------------------------------------------------------


@pytest.fixture
def gc_during(monkeypatch) -> list:
    """gc.isenabled() while each configuration is validated and each client list is built."""
    seen: list = []
    config = config_validation.Validator.config
    trusted = ClientReader.clients

    def validating(self, data):
        seen.append(("validate", gc.isenabled()))
        return config(self, data)

    def building(self, raw, where, api="soap"):
        seen.append(("clients", gc.isenabled()))
        return trusted(self, raw, where, api)

    monkeypatch.setattr(config_validation.Validator, "config", validating)
    monkeypatch.setattr(ClientReader, "clients", building)
    yield seen
    gc.enable()


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_pauses_the_collector_and_restores_it(tmp_path, gc_during, enabled):
    path = write(tmp_path, two_partners(tmp_path))
    (gc.enable if enabled else gc.disable)()
    load_config(path)  # parsed
    config = load_config(path)  # cached; clients built below
    assert gc.isenabled() is enabled
    config.partners[1].clients  # noqa: B018
    assert gc.isenabled() is enabled
    assert {on for _, on in gc_during} == {False}
    # parsed: validated with both partners' clients; cached: both kept lazily, one built
    assert [what for what, _ in gc_during] == ["validate", *["clients"] * 2] * 2 + ["clients"]


def test_the_collector_is_restored_after_a_bad_file(tmp_path, gc_during):
    data = two_partners(tmp_path)
    data["partners"][0]["schedule"]["day"] = 40
    path = write(tmp_path, data)
    gc.enable()
    with pytest.raises(ConfigError):
        load_config(path)
    assert gc.isenabled()


def test_a_damaged_cache_line_is_reported_and_removed(tmp_path):
    path = write(tmp_path, two_partners(tmp_path))
    load_config(path)
    entry = cache_file(tmp_path)
    config = load_config(path)
    damaged = tmp_path / "damaged"
    damaged.write_bytes(entry.read_bytes()[:-20])  # the last line cut short
    os.replace(damaged, entry)  # as another run's atomic rewrite: the open entry is still read
    assert len(config.partners[1].clients) == 3
    config = load_config(path)  # now the damaged one
    with pytest.raises(ConfigError) as e:
        config.partners[1].clients  # noqa: B018
    assert e.value.problems == [f"the parse cache {entry} was damaged and is removed; run again"]
    assert not entry.exists()
    assert len(load_config(path).partners[1].clients) == 3  # parsed again
