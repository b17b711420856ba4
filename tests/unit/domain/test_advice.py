"""advice.next_steps: the steps follow the exit code of a partner-wide failure and each failed
client's kind, never the message text; the way to finish is `publish --retry ID`."""

from __future__ import annotations

import pytest

from cwpublish.domain.advice import next_steps

RETRY = "cwpublish publish --retry 0123456789ab"


def client(mid: str, status: str = "failed", kind: str | None = None) -> dict:
    return {"name": f"Client {mid}", "managed_id": mid, "billable_gb": 1.0, "status": status,
            "error": None if status == "published" else "some text", "kind": kind}


def entry(status: str, exit_code: int, clients: list[dict], error: str | None = None,
          **extra) -> dict:
    return {"id": "0123456789ab", "partner": "acme", "period": "2026-11", "status": status,
            "exit_code": exit_code, "error": error, "usage_source": "/data/acme-2026-11.csv",
            "clients": clients, **extra}


def text(steps: list[str]) -> str:
    return "\n".join(steps)


def test_a_success_needs_nothing():
    assert next_steps(entry("success", 0, [client("A", "published")])) == []


@pytest.mark.parametrize(
    ("api", "present", "absent"),
    [
        ("soap", ["integrator login", "password changed"], ["API member", "private key"]),
        ("rest", ["API member", "security role", "clientId", "private key changed"],
         ["integrator login"]),
        (None, ["SOAP, the integrator login", "REST, the API member", "clientId",
                "integrator password or API private key changed"], []),
    ],
)
def test_login_rejected_says_what_to_check_for_the_api(api, present, absent):
    e = entry("failed", 12, [client("A", kind="not-sent")], "ConnectWise rejected the login")
    steps = next_steps(e, api)
    for needle in present:
        assert needle in text(steps)
    for needle in absent:
        assert needle not in text(steps)
    assert "cwpublish credentials set --partner acme" in text(steps)
    assert "cwpublish check-config --online --partner acme" in text(steps)
    assert steps[-1] == f"Then publish what did not reach ConnectWise: {RETRY}"
    assert "not sent: the publish stopped" not in text(steps)  # the login step covers it


def test_input_error_says_nothing_was_sent_and_to_fix_the_input():
    e = entry("failed", 2, [client("A", kind="not-sent")], "usage file not found")
    steps = next_steps(e)
    assert steps[0] == "Fix the usage data or the credentials named in the error; nothing was sent."
    assert "cwpublish check-config --partner acme" in steps[1]
    assert steps[-1].endswith(RETRY)


def test_unreachable_says_so_and_to_publish_again():
    e = entry("failed", 1, [client("A", kind="not-sent")], "cannot connect (after 4 attempts)")
    steps = next_steps(e)
    assert steps[0].startswith("ConnectWise could not be reached")
    assert "nothing was sent" in steps[0]
    assert steps[-1].endswith(RETRY) and len(steps) == 2


def test_unreachable_mid_way_says_not_everything_was_sent():
    e = entry("partial", 3, [client("A", "published"), client("B", kind="not-sent")],
              "HTTP 503 (after 4 attempts)")
    assert "not everything was sent" in next_steps(e)[0]


def test_every_client_with_an_unknown_key_is_setup_advice_not_an_outage():
    e = entry("failed", 1, [client("LAWSMITH", kind="unknown-key")])
    steps = next_steps(e)
    assert "could not be reached" not in text(steps)
    assert steps[0].startswith("ConnectWise does not know 1 client (LAWSMITH): set them up")
    assert steps == [steps[0], f"Then publish what did not reach ConnectWise: {RETRY}"]


def test_unknown_key_advice_is_specific_when_the_api_is_known():
    e = entry("failed", 1, [client("A", kind="unknown-key")])
    assert "Management tab" in next_steps(e, "soap")[0]
    assert "REST" not in next_steps(e, "soap")[0]
    assert "company with that identifier" in next_steps(e, "rest")[0]
    assert "Management tab" not in next_steps(e, "rest")[0]


def test_rejected_clients_are_fixed_in_connectwise_then_retried():
    e = entry("partial", 3, [client("A", "published"), client("B", kind="rejected")])
    steps = next_steps(e)
    assert steps[0].startswith("ConnectWise refused the record of 1 client (B)")
    assert steps[-1].endswith(RETRY)


def test_not_sent_clients_without_a_partner_error_are_named():
    e = entry("partial", 3, [client("A", "published"), client("B", kind="not-sent")])
    steps = next_steps(e)
    assert steps[0] == "1 client not sent: the publish stopped before them."
    assert steps[-1].endswith(RETRY)


def test_no_usage_is_not_advised_as_a_retry_but_as_fixing_the_usage_data():
    e = entry("failed", 2, [client("A", kind="no-usage"), client("B", kind="no-usage")],
              "nothing to send: no selected client has usage")
    steps = next_steps(e)
    assert steps[0].startswith("No usage row for 2026-11 for 2 clients (A, B): add their rows "
                               "to /data/acme-2026-11.csv")
    assert "Fix the usage data or the credentials" not in text(steps)
    assert "Then publish what did not reach ConnectWise" not in text(steps)
    assert steps[-1] == f"Once the usage rows are there: {RETRY}"


def test_unknown_clients_of_a_killed_run_are_sent_again():
    e = entry("interrupted", 1, [client("A", "published"), client("B", "unknown", "unknown")],
              "a publish was killed before it finished")
    steps = next_steps(e)
    assert steps[0].startswith("The publish was interrupted")
    assert "1 client sent, but the run was killed before the answer was recorded" in text(steps)
    assert steps[-1].endswith(RETRY)


@pytest.mark.parametrize("code", [130, 143])
def test_an_interrupt_is_named_once(code):
    e = entry("interrupted", code, [client("A", "published"), client("B", kind="not-sent")],
              "interrupted by a signal; the clients not sent are listed")
    steps = next_steps(e)
    assert steps == [steps[0], f"Then publish what did not reach ConnectWise: {RETRY}"]
    assert steps[0].startswith("The publish was interrupted")


def test_one_retry_command_for_any_number_of_failed_clients():
    clients = [client(f"C{i:04d}", kind="rejected") for i in range(500)]
    steps = next_steps(entry("failed", 1, clients))
    assert "(C0000, C0001, C0002, C0003, C0004 and 495 more)" in steps[0]
    assert "--client" not in text(steps) and steps[-1].endswith(RETRY)


def test_an_entry_from_before_kinds_is_still_retried():
    steps = next_steps(entry("partial", 3, [client("A", "published"), {
        "name": "B", "managed_id": "B", "billable_gb": 1.0, "status": "failed", "error": "x"}]))
    assert steps == [f"Then publish what did not reach ConnectWise: {RETRY}"]


def test_a_dry_run_preview_has_no_id_to_retry_and_names_duplicates():
    preview = entry("failed", 2, [client("A", "duplicate"), client("B", kind="no-usage")],
                    dry_run=True)
    del preview["id"]
    steps = next_steps(preview)
    assert "1 client already published for 2026-11: add --force" in text(steps)
    assert "--retry" not in text(steps)
    assert steps[-1] == (
        "Once the usage rows are there: cwpublish publish --partner acme --month 2026-11"
    )
