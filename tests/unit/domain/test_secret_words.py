"""Issue 21, item 5: one name per credential: the advice calls the partner secret what
prompts, errors and `credentials` call it (targets/registry.py's secret_label)."""

from __future__ import annotations

from cwpublish.domain.advice import SECRET_WORDS, next_steps
from cwpublish.targets.registry import TARGETS


def test_advice_names_each_secret_as_the_registry_does():
    assert {api: TARGETS[api].secret_label for api in TARGETS} == SECRET_WORDS


def test_login_advice_uses_the_one_name():
    entry = {"status": "failed", "partner": "acme", "exit_code": 12, "clients": [],
             "period": "2026-11", "id": "abc"}
    steps = " ".join(next_steps(entry, "soap"))
    assert "If the integrator password changed: cwpublish credentials set --partner acme" in steps
    rest = " ".join(next_steps(entry, "rest"))
    assert "If the API private key changed" in rest
