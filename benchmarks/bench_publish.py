"""A whole publish: cwpublish vs the naive per-client zeep loop, against the simulator.

Both sides are whole processes (start-up included), run in turn in the same script against the
same simulator process on loopback. The simulator's own busy time per request is reported.
Beside them runs the floor (floor_publish.py: the same imports and calls, nothing else), so
the table shows how near cwpublish is to what any client on this stack can reach.
"""

from __future__ import annotations

import statistics
import sys

from common import Workspace, run_timed, verdict

CASES = [  # clients, simulator latency per request (ms), target ratio
    (5000, 0, 25),
    (500, 20, 20),
]
ROUNDS_OURS, ROUNDS_NAIVE = 5, 1  # the naive loop takes ~10 s a round


def bench(clients: int, latency_ms: float, target: float) -> bool:
    with Workspace(clients, latency_ms) as ws:
        run_timed(ws.cwpublish(), ws.env)  # warm-up: first parse of the new config
        ours, naive, floor = [], [], []
        for _ in range(ROUNDS_OURS):
            ws.reset()
            ours.append(run_timed(ws.cwpublish(), ws.env)[0])
        sim_ours = ws.state()
        for _ in range(ROUNDS_OURS if latency_ms == 0 else 0):
            ws.reset()
            floor.append(run_timed(ws.floor(), ws.env)[0])
        for _ in range(ROUNDS_NAIVE):
            ws.reset()
            naive.append(run_timed(ws.naive(), ws.env)[0])
        sim_naive = ws.state()
    a, b = statistics.median(ours), statistics.median(naive)
    print(f"publish {clients} clients, +{latency_ms:g} ms per request (median of "
          f"{ROUNDS_OURS} and {ROUNDS_NAIVE} rounds)")
    for label, seconds, sim in (("cwpublish publish", a, sim_ours),
                                ("naive zeep loop, live WSDL", b, sim_naive)):
        per = sim["busy_seconds"] / max(sim["request_count"], 1) * 1000
        print(f"  {label:<28} {seconds:8.2f} s  {sim['request_count']:>6} requests, simulator "
              f"{per:.2f} ms busy per request ({sim['busy_seconds']:.2f} s in all)")
    if floor:
        f = statistics.median(floor)
        print(f"  {'floor: same imports and calls':<28} {f:8.2f} s  (no target: naive/floor "
              f"{b / f:.1f}x is the best ratio any client on this stack reaches here; "
              f"cwpublish/floor {a / f:.2f}x)")
    ratio = b / a
    print(f"  {verdict(ratio, target, True)}")
    return ratio >= target


def main() -> bool:
    from bench_nothing_due import compile_package

    compile_package()  # as pip does on install (see bench_nothing_due)
    return all([bench(*case) for case in CASES])


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
