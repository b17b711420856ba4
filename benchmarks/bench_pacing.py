"""REST publishes (configuration mode, every client changed) against the simulator with a
rate limit like Cloudflare's (LIMIT requests per rolling second, 429 `error code: 1015`) and
20 ms per request: utilisation (served requests / limit / wall time) and the share of
requests refused, paced (this code) beside unpaced (CWPUBLISH_PACING=off: only a 429's pause,
as before pacing); then with no rate limit, paced vs unpaced, best of two fresh processes
each. 1,000 clients with a Retry-After of 1 s by default (~1.5 min in all); set
CWPUBLISH_BENCH_LARGE=1 to add 1,000 without a Retry-After and 5,000 (over two minutes a side,
~8 min more).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from bench_rest import LATENCY_MS, RestWorkspace
from common import run_timed

LIMIT, RETRY_AFTER = 40, 1  # as the double: Cloudflare sends a Retry-After
LARGE = os.environ.get("CWPUBLISH_BENCH_LARGE") == "1"
CASES = [(1000, RETRY_AFTER)] + ([(1000, None), (5000, RETRY_AFTER)] if LARGE else [])
MIN_UTILISATION, MAX_REFUSED, MAX_SLOWDOWN = 0.90, 0.02, 1.05


def _limit(ws: RestWorkspace, per_second: int | None, retry_after: float | None = None) -> None:
    body = json.dumps({"requests_per_second": per_second, "retry_after": retry_after}).encode()
    req = urllib.request.Request(f"{ws.url}/_sim/rate_limit", data=body, method="POST")
    urllib.request.urlopen(req, timeout=60).close()


def _run(ws: RestWorkspace, paced: bool, per_second: int | None,
         retry_after: float | None = None) -> tuple[float, int, int]:
    """Wall seconds, requests served and refused of one fresh publish from the seed data."""
    ws.reset()
    _limit(ws, per_second, retry_after)
    env = {**ws.env, "CWPUBLISH_PACING": "on" if paced else "off"}
    wall, _ = run_timed(ws.ours(), env)
    rest = [r for r in ws.state()["requests"] if r.get("api") == "rest"]
    refused = sum(1 for r in rest if r["status"] == 429)
    return wall, len(rest) - refused, refused


def _limited(size: int, retry_after: float | None) -> bool:
    ws = RestWorkspace(size)
    try:
        sides = {"paced": _run(ws, True, LIMIT, retry_after),
                 "unpaced (before)": _run(ws, False, LIMIT, retry_after)}
    finally:
        ws.close()
    said = f"Retry-After: {retry_after}" if retry_after is not None else "no Retry-After"
    print(f"REST publish {size} clients at {LIMIT} requests/s ({said}), +{LATENCY_MS} ms "
          "per request")
    ok = True
    for name, (wall, served, refused) in sides.items():
        use, share = served / LIMIT / wall, refused / (served + refused)
        print(f"  {name:<18} {wall:7.2f} s  utilisation {use:6.1%}  refused {refused:4d} of "
              f"{served + refused} ({share:.1%})")
        if name == "paced":
            ok = use >= MIN_UTILISATION and share <= MAX_REFUSED
    print(f"  paced: utilisation >= {MIN_UTILISATION:.0%} and refused <= {MAX_REFUSED:.0%} "
          f"{'OK' if ok else 'MISSED'}")
    return ok


def _unlimited(size: int) -> bool:
    ws = RestWorkspace(size)
    try:
        paced = min(_run(ws, True, None)[0] for _ in range(2))
        unpaced = min(_run(ws, False, None)[0] for _ in range(2))
    finally:
        ws.close()
    ratio = paced / unpaced
    ok = ratio <= MAX_SLOWDOWN
    print(f"REST publish {size} clients, no rate limit, +{LATENCY_MS} ms per request")
    print(f"  {'paced':<18} {paced:7.2f} s\n  {'unpaced (before)':<18} {unpaced:7.2f} s")
    print(f"  ratio {ratio:.2f}x (target <= {MAX_SLOWDOWN}x) {'OK' if ok else 'MISSED'}")
    return ok


def main() -> bool:
    results = [_limited(size, after) for size, after in CASES]
    print()
    results.append(_unlimited(1000))
    return all(results)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(0 if main() else 1)
