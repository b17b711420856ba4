"""Attacks on the site pacer (fake clock): a 429 storm before anything was served, with and
without Retry-After, must not collapse the rate to a guess that takes minutes to recover."""

from __future__ import annotations

import pytest

from cwpublish.targets.pacing import Pacer


class Clock:
    """Time that moves only when the pacer sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.slept.append(seconds)
        self.now += seconds
        return True


def pacer(rate: float | None = None) -> tuple[Pacer, Clock]:
    clock = Clock()
    return Pacer(rate, clock=clock, sleep=clock.sleep), clock


def send(p: Pacer, clock: Clock, n: int, status: int = 200, after: float | None = None):
    """n requests one after another: when each went out."""
    times = []
    for _ in range(n):
        assert p.wait(clock.now + 120) == 0.0
        times.append(clock.now)
        p.answered(clock.now, status == 429 or after is not None, after)
    return times


def test_a_429_storm_from_the_first_request_holds_without_collapsing_the_rate():
    """Every request refused for the site's first 10 s (nothing served: no measure), then 40/s
    served: the pacer holds 1, 2, 4, 8 s and is back at the site's rate, not at a guessed
    0.1/s probed up for many minutes (1,000 requests took 857 s before)."""
    p, clock = pacer()
    start, served, window = clock.now, 0, []
    while served < 1000 and clock.now - start < 200:
        assert p.wait(clock.now + 120) == 0.0
        sent = clock.now
        window = [t for t in window if t > sent - 1]
        refused = sent - start < 10 or len(window) >= 40
        if not refused:
            window.append(sent)
            served += 1
        p.answered(sent, refused, None)
        clock.now += 0.001
    assert served == 1000 and clock.now - start < 45
    assert clock.slept[:4] == pytest.approx([1, 2, 4, 8], abs=0.01)


def test_a_storm_with_retry_after_pauses_for_it_and_keeps_the_configured_rate():
    p, clock = pacer(rate=10)
    send(p, clock, 3, status=429, after=2)
    assert p.rate == 10
    times = send(p, clock, 3)
    assert times[0] >= 106 - 0.01  # each refusal paused every request for its Retry-After
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == pytest.approx([0.1, 0.1])
