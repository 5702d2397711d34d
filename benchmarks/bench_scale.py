"""Scale-out on Dask: the speed-up of the 2.5 simulation study and of a 4-run sweep of short training runs on an
embedded LocalCluster of 2 workers against 1 worker (goals: >= 1.8x each on a 2-core machine). Both use the same
tasks and seeds, so their results are identical (checked here too). Last line: ``speed-up: Ax (study) Bx (sweep)``.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import save

from bmnn import cluster
from bmnn.experiments.laplace import mse_study
from bmnn.experiments.sweep import sweep


def time_study(workers: int, reps: int = 1200):
    with cluster.client(workers=workers) as c:
        mse_study(1, 10, 10, 200, 100, client=c)  # warm the workers (imports) outside the timing
        t = time.perf_counter()
        out = mse_study(2, 10, 10, reps, 300, client=c)
        return time.perf_counter() - t, out


def time_sweep(workers: int, folder: Path):
    shutil.rmtree(folder, ignore_errors=True)
    t = time.perf_counter()
    doc = sweep("classic", [0, 1, 2, 3], [{"epochs": 3}], folder, workers=workers, log=lambda *_: None)
    return time.perf_counter() - t, [r["test_acc"] for r in doc["runs"]]


def main() -> None:
    t1, a = time_study(1)
    t2, b = time_study(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    tmp = Path(tempfile.mkdtemp())
    try:
        s1, acc1 = time_sweep(1, tmp / "one")
        s2, acc2 = time_sweep(2, tmp / "two")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert acc1 == acc2
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "study_seconds": {"1": t1, "2": t2},
              "study_speedup": t1 / t2, "sweep_seconds": {"1": s1, "2": s2}, "sweep_speedup": s1 / s2}
    save("scale", result)
    print(f"2.5 study, 1200 replicates: {t1:.1f} s on 1 worker, {t2:.1f} s on 2")
    print(f"sweep of 4 three-epoch classic runs: {s1:.1f} s on 1 worker, {s2:.1f} s on 2 (each worker loads the data)")
    print(f"speed-up: {t1 / t2:.2f}x (study) {s1 / s2:.2f}x (sweep)")


if __name__ == "__main__":
    main()
