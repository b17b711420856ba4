"""`make bench`: run every benchmark and exit non-zero if a target is missed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_nothing_due  # noqa: E402

if __name__ == "__main__":
    results = [bench_nothing_due.main()]
    sys.exit(0 if all(results) else 1)
