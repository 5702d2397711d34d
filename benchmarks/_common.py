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


def run_capped(target, args: tuple, cap: float, done, kwargs: dict | None = None):
    """Run ``target(*args, queue, **kwargs)`` in a fresh interpreter (JAX is not fork-safe) and return the last
    item it put on the queue before ``cap`` seconds passed, the child stopped, or ``done(item)`` held; ``None`` if
    it put none. The child is killed afterwards."""
    import multiprocessing as mp
    import queue as queues

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    child = ctx.Process(target=target, args=(*args, q), kwargs=kwargs or {}, daemon=True)
    start = time.perf_counter()
    child.start()
    last = None
    while (left := cap - (time.perf_counter() - start)) > 0:
        try:
            last = q.get(timeout=min(left, 5.0))
        except queues.Empty:
            if not child.is_alive():
                break
            continue
        if done(last):
            break
    child.kill()
    child.join()
    return last


def save(name: str, result: dict) -> Path:
    """Write ``results/NAME.json`` atomically."""
    return write(name, result)


__all__ = ["RESULTS", "best_of", "run_capped", "save"]
