"""The site pacer's decisions on a fake clock: unpaced until a 429, just under the served rate
after one, the burst waited out, no burst after a Retry-After, one decrease per round trip, a
slow probe upward, the configured rate, the time budget, a signal, one pacer per site."""

from __future__ import annotations

import pytest

from cwpublish.targets import pacing
from cwpublish.targets.pacing import DECREASE, INCREASE, Pacer


class Clock:
    """Time that moves only when the pacer sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.stop = False

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        if self.stop:
            return False
        self.slept.append(seconds)
        self.now += seconds
        return True


def pacer(rate: float | None = None, learn: bool = True) -> tuple[Pacer, Clock]:
    clock = Clock()
    return Pacer(rate, clock=clock, sleep=clock.sleep, learn=learn), clock


def send(p: Pacer, clock: Clock, n: int, status: int = 200, after: float | None = None,
         took: float = 0.0) -> list[float]:
    """n requests one after another: when each went out."""
    times = []
    for _ in range(n):
        assert p.wait(clock.now + 120) == 0.0
        sent = clock.now
        times.append(sent)
        clock.now += took
        p.answered(sent, status == 429 or after is not None, after)
    return times


def test_requests_go_at_once_until_the_site_refuses_one():
    p, clock = pacer()
    times = send(p, clock, 50)
    assert times == [100.0] * 50 and clock.slept == [] and p.rate is None


def test_a_429_slows_to_just_under_what_was_served_and_waits_the_burst_out():
    p, clock = pacer()
    send(p, clock, 40, took=0.005)  # a burst: 40 served in 0.2 s
    send(p, clock, 1, status=429)
    assert p.rate == pytest.approx(40 * DECREASE)  # counted over one second, not 0.2 s
    # as if paced at that rate since the burst began: the site's second is waited out
    times = send(p, clock, 3)
    assert times[0] == pytest.approx(100 + 40 / p.rate)
    assert times[1] - times[0] == pytest.approx(1 / p.rate)


def test_a_steady_rate_refused_is_cut_just_under_it():
    p, clock = pacer(rate=50)
    p.ceiling = None  # learnt, not configured
    send(p, clock, 100)  # 2 s at 50/s
    send(p, clock, 1, status=429)
    assert p.rate == pytest.approx(50 * DECREASE, rel=0.03)


def test_after_a_retry_after_requests_resume_at_the_pace_not_in_a_burst():
    p, clock = pacer(rate=10)
    send(p, clock, 5)
    refused_at = clock.now
    send(p, clock, 1, status=429, after=30)
    times = send(p, clock, 5)
    assert times[0] >= refused_at + 30
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps == pytest.approx([1 / p.rate] * 4)  # 30 s idle earned no credit


def test_one_decrease_per_round_trip():
    p, clock = pacer()
    send(p, clock, 40, took=0.005)
    in_flight = clock.now  # sent before the first refusal came back
    send(p, clock, 1, status=429)
    rate = p.rate
    for _ in range(5):
        p.answered(in_flight, True)
    assert p.rate == rate
    send(p, clock, 1, status=429)  # sent after the decrease: a new signal
    assert p.rate < rate


def test_the_rate_is_probed_upward_slowly_while_no_429_comes():
    p, clock = pacer(rate=20)
    p.ceiling = None
    send(p, clock, 23)  # over a second of requests waiting on the pace
    assert p.rate == pytest.approx(20 * (1 + INCREASE))
    send(p, clock, 400)
    assert 20 < p.rate < 20 * 1.1  # still cautious after ~20 s


def test_an_idle_pacer_does_not_raise_its_rate():
    p, clock = pacer(rate=20)
    p.ceiling = None
    for _ in range(10):
        clock.now += 5  # one request every 5 s: never waits on the pace
        send(p, clock, 1)
    assert p.rate == 20


def test_the_configured_rate_paces_from_the_first_request_and_caps_the_probe():
    p, clock = pacer(rate=10)
    times = send(p, clock, 100)
    assert times[:3] == pytest.approx([100.0, 100.1, 100.2])
    assert p.rate == 10


def test_a_wait_past_the_budget_is_refused_at_once_and_keeps_the_turn_free():
    p, clock = pacer(rate=1)
    send(p, clock, 1, status=429, after=600)
    left = p.wait(clock.now + 3)
    assert 590 < left <= 600 and clock.slept == []
    assert p.wait(clock.now + 700) == 0.0  # nobody took a slot meanwhile


def test_a_signal_ends_a_wait():
    p, clock = pacer()
    p.pause(60)
    clock.stop = True
    assert p.wait(clock.now + 120) > 50


def test_off_only_pauses_as_before_pacing():
    p, clock = pacer(learn=False)
    send(p, clock, 40)
    p.answered(clock.now, True, None, backoff=2.0)
    assert p.rate is None
    times = send(p, clock, 3)
    assert times == [102.0] * 3


def test_one_pacer_per_site_for_the_whole_process(monkeypatch):
    monkeypatch.setattr(pacing, "_sites", {})
    a = pacing.for_site("https://eu.myconnectwise.net")
    assert pacing.for_site("https://eu.myconnectwise.net") is a
    assert pacing.for_site("https://na.myconnectwise.net") is not a
    capped = pacing.for_site("https://eu.myconnectwise.net", 25)
    assert capped is a and a.rate == 25 and a.ceiling == 25
    assert pacing.for_site("https://eu.myconnectwise.net", 50).ceiling == 25
