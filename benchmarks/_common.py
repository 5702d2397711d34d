"""Helpers shared by the benchmarks: timing, and the result files (written through :mod:`bmnn.bench_results`,
the schema the report reads)."""

from __future__ import annotations

import time
from pathlib import Path

from bmnn.bench_results import RESULTS, write


def best_of(fn, repeat: int = 5) -> float:
    """The smallest wall time of ``repeat`` calls (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def save(name: str, result: dict) -> Path:
    """Write ``results/NAME.json`` atomically."""
    return write(name, result)


__all__ = ["RESULTS", "best_of", "save"]
