"""The REST client's waits and its reading of a failed create: a shared Retry-After pause (the
site pacer's, on the real clock) is never waited past the time budget nor after a signal, and
only a request that never reached the server counts as surely not stored (real sockets on
loopback)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from cwpublish import interrupt
from cwpublish.targets.connectwise_rest.client import _never_connected
from cwpublish.targets.pacing import Pacer


def test_a_pause_past_the_budget_is_not_waited():
    gate = Pacer()
    gate.pause(600)
    started = time.monotonic()
    left = gate.wait(time.monotonic() + 3)
    assert 590 < left <= 600 and time.monotonic() - started < 0.1


def test_a_pause_within_the_budget_is_waited():
    gate = Pacer()
    gate.pause(0.05)
    started = time.monotonic()
    assert gate.wait(time.monotonic() + 3) == 0.0
    assert time.monotonic() - started >= 0.04


def test_a_signal_ends_a_wait_at_once(monkeypatch):
    stop = threading.Event()
    monkeypatch.setattr(interrupt, "_stop", stop)
    gate = Pacer()
    gate.pause(60)
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    assert gate.wait(time.monotonic() + 120) > 50  # not waited out
    assert time.monotonic() - started < 1
    assert interrupt.sleep(30) is False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_surely_stored_nothing():
    with pytest.raises(requests.exceptions.ConnectionError) as e:
        requests.post(f"http://127.0.0.1:{_free_port()}/x", json={}, timeout=2)
    assert _never_connected(e.value)


def test_a_connection_closed_after_the_request_may_have_stored_it():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def take_and_drop() -> None:
        conn, _ = server.accept()
        conn.recv(65536)  # the whole request arrived...
        conn.close()  # ...and no answer

    threading.Thread(target=take_and_drop, daemon=True).start()
    try:
        with pytest.raises(requests.exceptions.ConnectionError) as e:
            requests.post(f"http://127.0.0.1:{server.getsockname()[1]}/x", json={}, timeout=2)
        assert not _never_connected(e.value)
    finally:
        server.close()
