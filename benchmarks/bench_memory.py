"""Peak RSS of a whole publish of 100 vs 10,000 clients (memory bounded by the batch size)."""

from __future__ import annotations

import sys

from common import Workspace, run_timed, verdict

TARGET = 1.5


def peak(clients: int) -> int:
    with Workspace(clients) as ws:
        run_timed(ws.cwpublish(), ws.env)  # warm-up (first parse of the config)
        return max(run_timed(ws.cwpublish(), ws.env)[1] for _ in range(2))


def main() -> bool:
    small, large = peak(100), peak(10_000)
    print("peak RSS of cwpublish publish (max of 2 runs)")
    print(f"  {'100 clients':<16} {small / 1024:8.1f} MiB")
    print(f"  {'10,000 clients':<16} {large / 1024:8.1f} MiB")
    ratio = large / small
    print(f"  {verdict(ratio, TARGET, False)}")
    return ratio <= TARGET


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
