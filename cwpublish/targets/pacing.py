"""A request pacer per site: send at the rate the site serves, learnt from its 429s.

One Pacer per origin (scheme://host:port) for the whole process, shared by every partner and
thread sending there (`for_site`). Until the site says it is saturated (a 429, or a 5xx
with a Retry-After) requests go out as fast as they come. A saturation signal sets the rate
to just under what was being served (DECREASE x the requests answered in the last WINDOW
seconds, over the span they took, at least MIN_SPAN) and, unless a Retry-After says when to
come back, holds the next request as if the pacer had sent at that rate all along: a burst
that filled the site's window is waited out instead of refused again. A refusal with nothing
served in the last WINDOW (a 429 storm from the first request) measures nothing: the rate is
kept and, unless a Retry-After says how long, every request waits HOLD seconds, doubling with
each such refusal in a row up to MAX_HOLD. While no signal comes and
requests are waiting on the pacer, the rate grows by INCREASE of itself each PROBE seconds,
that step doubling every DOUBLING probes (a slow probe near the limit just found, a quick
recovery from a low guess): additive increase, multiplicative decrease. Slots are one
request each, 1/rate apart, and never in the past: no credit builds up during a pause, so
requests resume at the paced rate, never in a burst. `connectwise.max_requests_per_second`
starts the pacer at that rate and caps it. Every wait takes an injected clock and an
interruptible sleep, and is refused when it would end past the caller's time budget.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable

from cwpublish import interrupt

WINDOW = 2.0  # seconds of answers that measure the served rate
MIN_SPAN = 1.0  # a burst served faster is counted over one second (sites limit per second+)
DECREASE = 0.96  # "just under" the served rate
INCREASE = 0.001  # of the rate, per PROBE seconds without a 429: a slow probe...
DOUBLING = 15  # ...doubled every this many probes since the last 429 (a low guess recovers)
PROBE = 1.0
MIN_RATE = 0.1  # requests per second: never slower than one per ten seconds
HOLD = 1.0  # seconds every request waits after a refusal with nothing served to measure...
MAX_HOLD = 32.0  # ...doubling with each such refusal in a row, up to this
OFF = "CWPUBLISH_PACING"  # =off: only Retry-After pauses (the behaviour before pacing)


class Pacer:
    """When each request to one site may go out; thread-safe, its clock injected."""

    def __init__(
        self,
        rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], bool] = interrupt.sleep,
        learn: bool = True,
    ):
        self.rate = rate  # requests per second; None: not paced (yet)
        self.ceiling = rate
        self.learn = learn
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = 0.0  # the earliest the next paced request may go
        self._until = 0.0  # a Retry-After pause: nothing goes before it
        self._cut = float("-inf")  # when the rate was last decreased
        self._probed = clock()  # when the rate was last raised (or set)
        self._waited = False  # whether a request waited on the pace since then
        self._probes = 0  # rises since the last decrease
        self._blind = 0  # refusals in a row with nothing served to measure the rate by
        self._served: deque[float] = deque()  # send times of answers that were not refusals

    def wait(self, limit: float) -> float:
        """Wait for this request's turn unless it comes after `limit` (on the clock) or a
        signal stops the wait: 0 once it may go, else the seconds it would still wait."""
        while True:
            with self._lock:
                now = self._clock()
                slot = max(now, self._until, self._next if self.rate else now)
                if slot > limit:
                    return slot - now
                if self.rate:
                    self._waited |= self._next > max(now, self._until)  # held by the pace
                    self._next = slot + 1 / self.rate
                    self._probe(now)
            if slot <= now:
                return 0.0
            if not self._sleep(slot - now):
                return max(slot - self._clock(), 0.001)
            with self._lock:
                if self._until <= slot:  # no pause came that ends after its turn
                    return 0.0

    def paused(self) -> bool:
        """Whether a Retry-After pause holds requests now (else only the pace does)."""
        with self._lock:
            return self._until > self._clock()

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` (a Retry-After)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def answered(
        self, sent: float, saturated: bool, retry_after: float | None = None, backoff: float = 0
    ) -> None:
        """A request sent at `sent` (on the clock) was answered: served, or refused as too
        many (`saturated`: a 429 or a Retry-After, paused for `retry_after` seconds; when not
        learning and none was given, for `backoff`, as before pacing)."""
        if saturated and not self.learn and retry_after is None:
            retry_after = backoff
        with self._lock:
            now = self._clock()
            if not saturated:
                if self.learn:
                    self._blind = 0
                    self._served.append(sent)
                    self._forget(now)
                return
            if retry_after:
                self._until = max(self._until, now + retry_after)
                self._probed = max(self._probed, self._until)  # a pause is no probe
            if self.learn and sent > self._cut:  # one decrease per round trip
                self._decrease(now, retry_after is None)

    def _forget(self, now: float) -> None:
        while self._served and self._served[0] < now - WINDOW:
            self._served.popleft()

    def _decrease(self, now: float, hold: bool) -> None:
        """Just under the served rate; with `hold` (no Retry-After said when to come back),
        the next request waits until what was served is paid for at that rate (or, with
        nothing served to measure, HOLD seconds, doubled per refusal in a row)."""
        self._forget(now)
        count = len(self._served)
        if count == 0:  # refused with nothing served lately: no measure of the rate, so
            # keep it (a guessed rate would be probed back up for many minutes) and hold
            self._blind += 1  # every request a while instead, longer each time in a row
            if hold:
                self._until = max(self._until, now + min(HOLD * 2 ** (self._blind - 1), MAX_HOLD))
            self._cut = now
            self._probed = max(self._probed, self._until)
            return
        span = max(now - self._served[0], MIN_SPAN)
        served = count / span
        self.rate = max(min(self.rate or served, served) * DECREASE, MIN_RATE)
        if self._served and hold:  # as if paced at the new rate since the window began
            self._next = max(self._next, self._served[0] + count / self.rate)
        self._next = max(self._next, now)
        self._cut = now
        self._probed, self._waited, self._probes = max(now, self._until), False, 0

    def _probe(self, now: float) -> None:
        """Raise the rate a little each PROBE seconds that requests waited on it."""
        if now - self._probed < PROBE or not self.learn:
            return
        if self._waited and self.rate:
            self.rate *= 1 + INCREASE * 2 ** min(self._probes // DOUBLING, 8)
            self._probes += 1
            if self.ceiling:
                self.rate = min(self.rate, self.ceiling)
        self._probed, self._waited = now, False


_sites: dict[str, Pacer] = {}
_sites_lock = threading.Lock()


def for_site(origin: str, rate: float | None = None) -> Pacer:
    """The process's one Pacer for `origin`; `rate` (max_requests_per_second) caps it."""
    with _sites_lock:
        pacer = _sites.get(origin)
        if pacer is None:
            learn = os.environ.get(OFF, "").strip().lower() != "off"
            pacer = _sites[origin] = Pacer(rate, learn=learn)
        elif rate and (pacer.ceiling is None or rate < pacer.ceiling):
            with pacer._lock:
                pacer.ceiling = rate
                pacer.rate = min(pacer.rate or rate, rate)
        return pacer
