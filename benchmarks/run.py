"""`make bench`: run every benchmark; exit non-zero if a target is missed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_body  # noqa: E402
import bench_history  # noqa: E402
import bench_memory  # noqa: E402
import bench_nothing_due  # noqa: E402
import bench_pacing  # noqa: E402
import bench_partners  # noqa: E402
import bench_publish  # noqa: E402
import bench_rest  # noqa: E402

if __name__ == "__main__":
    results = []
    for bench in (bench_publish, bench_partners, bench_rest, bench_pacing, bench_body,
                  bench_nothing_due, bench_memory, bench_history):
        results.append(bench.main())
        print()
    print("all targets met" if all(results) else "some targets MISSED")
    sys.exit(0 if all(results) else 1)
