"""Scale-out on Dask: the speed-up of the 2.5 simulation study and of a 4-run sweep of short training runs on an
embedded LocalCluster of 2 workers against 1 worker (goals: >= 1.8x each on a 2-core machine); both use the same
tasks and seeds, so their results are identical (checked here too). Then the statistics pass of ``bmnn lasso`` on
generated CSV files of 10^6 and 2 x 10^6 rows x 20 columns (files large enough that every partition is full):
rows per second and the peak resident memory of the process that reads them (each size in a fresh process), which
must not grow with the rows. Last line: ``speed-up: Ax (study) Bx (sweep)``.
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


PASS = """
import resource, sys, time
from bmnn.datasets import table_moments
t = time.perf_counter()
m, names, k = table_moments(sys.argv[1], "y", "csv")
secs = time.perf_counter() - t
print(m.n, secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def statistics_pass(rows: int, folder: Path, files: int = 8) -> dict:
    """Write ``rows`` x 20 columns of CSV in ``files`` files, then time the statistics pass in a fresh process."""
    import subprocess
    import sys

    rng = np.random.default_rng(rows)
    names = ",".join([f"x{j}" for j in range(19)] + ["y"])
    for i in range(files):
        z = rng.normal(size=(rows // files, 20))
        np.savetxt(folder / f"part{i}.csv", z, delimiter=",", header=names, comments="", fmt="%.9g")
    out = subprocess.run([sys.executable, "-c", PASS, str(folder / "part*.csv")], capture_output=True, text=True,
                         check=True).stdout.split()
    n, secs, rss = int(out[0]), float(out[1]), int(out[2])
    assert n == rows // files * files
    return {"rows": n, "seconds": secs, "rows_per_s": n / secs, "peak_rss_bytes": rss}


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
    passes = []
    for rows in (1_000_000, 2_000_000):
        folder = Path(tempfile.mkdtemp())
        try:
            passes.append(statistics_pass(rows, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "study_seconds": {"1": t1, "2": t2},
              "study_speedup": t1 / t2, "sweep_seconds": {"1": s1, "2": s2}, "sweep_speedup": s1 / s2,
              "statistics_pass": passes}
    save("scale", result)
    print(f"2.5 study, 1200 replicates: {t1:.1f} s on 1 worker, {t2:.1f} s on 2")
    print(f"sweep of 4 three-epoch classic runs: {s1:.1f} s on 1 worker, {s2:.1f} s on 2 (each worker loads the data)")
    for p in passes:
        print(f"statistics pass, {p['rows']:,} rows x 20 columns: {p['rows_per_s']:,.0f} rows/s, peak resident "
              f"memory {p['peak_rss_bytes'] / 2**20:,.0f} MiB")
    print(f"speed-up: {t1 / t2:.2f}x (study) {s1 / s2:.2f}x (sweep)")


if __name__ == "__main__":
    main()
