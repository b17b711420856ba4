"""One contract every target passes, against the bundled simulator over real HTTP.

A target subclass of TargetContract supplies: how to configure a partner for its API against
the simulator, the secret, and how to read back what the simulator now holds for a client.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from conftest import (
    REST_PRIVATE_KEY,
    SECRET,
    partner_config,
    rest_data,
    rest_partner_config,
    sim_faults,
    tenant,
)
from cwpublish.config.load import load_config
from cwpublish.config.model import Partner
from cwpublish.domain.period import Period
from cwpublish.domain.record import RecordResult, UsageRecord
from cwpublish.errors import ConnectWiseError, LoginRejected
from cwpublish.simulator import SimulatorServer
from cwpublish.targets.base import Target
from cwpublish.targets.registry import target_class
from cwpublish.text.redaction import MASK

PERIOD = Period(2026, 11)


class TargetContract:
    """Subclass with `api`, `simulator_data()`, `partner_section(url)`, `held(sim, key)`."""

    api: str
    secret = SECRET
    keys = ("LAWSMITH", "CONTOSO-01")  # clients the simulator knows
    unknown_key = "NOT-THERE"

    def simulator_data(self) -> dict:
        raise NotImplementedError

    def partner_section(self, url: str) -> dict:
        raise NotImplementedError

    def held(self, sim, key: str) -> Decimal | None:
        """The billable GB ConnectWise now holds for a client key (None: nothing)."""
        raise NotImplementedError

    @pytest.fixture
    def sim(self):
        server = SimulatorServer(self.simulator_data()).start()
        yield server
        server.stop()

    def partner(self, tmp_path: Path, url: str) -> Partner:
        path = tmp_path / "contract.yaml"
        path.write_text(yaml.safe_dump({"partners": [self.partner_section(url)]}))
        return load_config(path).partners[0]

    def open(self, tmp_path, url: str, secret: str | None = None) -> Target:
        p = self.partner(tmp_path, url)
        assert p.connectwise.api == self.api
        return target_class(self.api)(p, secret or self.secret)

    def records(self, *keys: str, gb: str = "12.50") -> list[UsageRecord]:
        return [UsageRecord(f"Client {k}", k, Decimal(gb), PERIOD) for k in keys]

    def test_preflight_proves_the_login(self, sim, tmp_path):
        with self.open(tmp_path, sim.url) as target:
            assert target.preflight()

    def test_a_wrong_secret_is_login_rejected_exit_12(self, sim, tmp_path):
        target = self.open(tmp_path, sim.url, "wrong-" + self.secret)
        with target, pytest.raises(LoginRejected) as e:
            target.preflight()
        assert e.value.exit_code == 12 and self.secret not in str(e.value)

    def test_an_unreachable_site_is_exit_1_not_a_login_problem(self, tmp_path):
        try:
            target = self.open(tmp_path, "http://127.0.0.1:9")
        except ConnectWiseError as e:  # a target may connect while opening
            assert e.exit_code == 1 and not isinstance(e, LoginRejected)
            return
        with target, pytest.raises(ConnectWiseError) as e:
            target.preflight()
        assert e.value.exit_code == 1 and not isinstance(e.value, LoginRejected)

    def test_known_keys_lists_the_clients_or_cannot_tell(self, sim, tmp_path):
        with self.open(tmp_path, sim.url) as target:
            target.preflight()
            known = target.known_keys()
        assert known is None or (set(self.keys) <= known and self.unknown_key not in known)

    def test_send_gives_one_result_per_record_in_order(self, sim, tmp_path):
        records = self.records(*self.keys, self.unknown_key)
        with self.open(tmp_path, sim.url) as target:
            target.preflight()
            sent = target.send(records)
        assert [r.record for r in sent.results] == records
        assert all(isinstance(r, RecordResult) for r in sent.results)
        assert [r.error is None for r in sent.results] == [True, True, False]
        assert sent.results[2].kind and self.secret not in sent.results[2].error
        assert [self.held(sim, k) for k in self.keys] == [Decimal("12.50")] * 2
        assert self.held(sim, self.unknown_key) is None

    def test_sending_again_sets_the_value_not_adds(self, sim, tmp_path):
        with self.open(tmp_path, sim.url) as target:
            target.preflight()
            target.send(self.records(self.keys[0], gb="3.00"))
            target.send(self.records(self.keys[0], gb="7.25"))
        assert self.held(sim, self.keys[0]) == Decimal("7.25")

    def test_a_site_down_mid_send_reports_not_sent_and_stops(self, sim, tmp_path):
        with self.open(tmp_path, sim.url) as target:
            target.preflight()
            sim_faults(sim, [{"http_status": 500, "raw": "down", "html": True}])
            sent = target.send(self.records(*self.keys))
        assert sent.stopped_by and all(r.error for r in sent.results)
        assert [self.held(sim, k) for k in self.keys] == [None, None]

    def test_preview_masks_the_secret_and_shows_the_values(self, tmp_path):
        p = self.partner(tmp_path, "https://cw.example.com")
        text = target_class(self.api).preview(p, self.records(self.keys[0]))
        assert self.secret not in text and MASK in text and "12.50" in text
        assert self.keys[0] in text


class TestSoapTarget(TargetContract):
    api = "soap"

    def simulator_data(self) -> dict:
        return {"tenants": [tenant()]}

    def partner_section(self, url: str) -> dict:
        section = partner_config(url)
        section["connectwise"]["retries"] = 0
        return section

    def held(self, sim, key: str) -> Decimal | None:
        found = sim.sim.state()["configurations"].get("acme", {}).get(key)
        return None if found is None else Decimal(str(found["billable_space_gb"])).quantize(
            Decimal("0.01")
        )


class TestRestTarget(TargetContract):
    api = "rest"
    secret = REST_PRIVATE_KEY

    def simulator_data(self) -> dict:
        return {"tenants": [tenant(rest=rest_data())]}

    def partner_section(self, url: str) -> dict:
        section = rest_partner_config(url)
        section["connectwise"]["retries"] = 0
        return section

    def held(self, sim, key: str) -> Decimal | None:
        company = sim.sim.state()["rest"].get("acme", {}).get(key) or {}
        configs = company.get("configurations") or []
        if not configs:
            return None
        [config] = configs
        return Decimal(str(config["backupBillableSpaceGb"])).quantize(Decimal("0.01"))


class TestRestAdditionTarget(TestRestTarget):
    """The same contract in agreement_addition mode (one client per agreement here)."""

    def partner_section(self, url: str) -> dict:
        section = rest_partner_config(url, "agreement_addition")
        section["connectwise"]["retries"] = 0
        return section

    def held(self, sim, key: str) -> Decimal | None:
        company = sim.sim.state()["rest"].get("acme", {}).get(key) or {}
        additions = company.get("additions") or []
        if not additions:
            return None
        [addition] = additions
        return Decimal(str(addition["quantity"])).quantize(Decimal("0.01"))
