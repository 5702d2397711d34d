"""Helpers shared by the benchmarks: timing and an atomic JSON result file under benchmarks/results/."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


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
    RESULTS.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=RESULTS, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(result, fh, indent=2)
    os.replace(tmp, RESULTS / f"{name}.json")
    return RESULTS / f"{name}.json"
