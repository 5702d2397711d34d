"""Run every experiment, draw its figures and render the page (the ``bmnn report`` job)."""

from __future__ import annotations

import platform
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bmnn import __version__
from bmnn.bench_results import RESULTS, read


def provenance(quick: bool, seconds: float) -> dict[str, str]:
    """Version, library versions, machine, date and run time."""
    libs = ", ".join(f"{name} {metadata.version(name)}" for name in
                     ("numpy", "scipy", "scikit-learn", "sympy", "matplotlib", "torch", "arviz")
                     if _installed(name))
    return {
        "bmnn": __version__,
        "mode": "quick (smaller simulations)" if quick else "full",
        "seeds": "fixed in each job's config: GaussianConfig 20261126, LaplaceConfig 20261127, SigmoidConfig 20261128",
        "python": platform.python_version(),
        "libraries": libs,
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "run time": f"{seconds:.1f} s",
    }


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _runs(result: dict) -> list[tuple[str, dict]]:
    """A result file's measured runs: its dict entries other than the provenance."""
    return [(k, v) for k, v in result.items() if isinstance(v, dict) and k != "provenance"]


def benchmark_rows(folder: Path = RESULTS) -> list[list[str]]:
    """The measured benchmark figures shipped with the package (``bmnn/results``), each with the date and machine
    of its measurement."""
    rows = []
    readers = {
        "laplace.json": lambda d: [
            ["job 2: Gibbs bulk ESS/s against NumPyro NUTS", f"{d['ratio_ess_per_s']:.1f}x",
             f"{d['ours']['ess_per_s']:,.0f} vs {d['nuts']['ess_per_s']:,.0f} ESS/s; means agree to |z| <= "
             f"{d['mean_agreement_max_abs_z']:.2f}"],
            ["job 2: MAP time against one plain scikit-learn Lasso call", f"{d['map_over_lasso']:.2f}x",
             f"certificate {d['map_certificate']:.1e}"]],
        "sigmoid_mlp.json": lambda d: [
            [f"job 3: forward + hand backward against torch.autograd ({k})", f"{v['ratio']:.2f}x",
             f"{v['ours_s'] * 1e3:.2f} vs {v['autograd_s'] * 1e3:.2f} ms; numpy's matrix products alone "
             f"{v['numpy_matmul_floor_s'] * 1e3:.2f} ms"] for k, v in _runs(d)],
        "scratch_mlp.json": lambda d: [
            [f"job 4: hand-backward epoch against torch.nn ({k})", f"{v['hand_over_torch_nn']:.2f}x",
             f"{v['hand_over_floor']:.2f}x the matrix-product floor; s/epoch: " + ", ".join(
                 f"{n} {t:.3f}" for n, t in v["seconds_per_epoch"].items())]
            for k, v in _runs(d)],
    }
    for name, reader in readers.items():
        if (folder / name).is_file():
            data = read(name.removesuffix(".json"), folder)
            try:
                made = data.get("provenance") or {}
                when = f" (measured {made['date'][:10]} on {made['machine']})" if made else ""
                rows += [[what, ratio, details + when] for what, ratio, details in reader(data)]
            except (ValueError, KeyError, TypeError, AttributeError):
                rows.append([name, "unreadable", "the result file does not have the expected fields"])
    return rows


def build_report(out: Path, quick: bool = False, data_dir=None, runs_dir="runs", log=None,
                 replicates: int | None = None, scheduler: str | None = None,
                 workers: int | None = None) -> tuple[Path, int, int]:
    """Write ``out/index.html``; return its path, the checks held and the checks run. With ``scheduler`` or
    ``workers`` the simulation study's blocks run as Dask tasks (the same numbers as when run here)."""
    from bmnn import plots
    from bmnn.experiments import sections
    from bmnn.report import check_page_is_ours, render

    check_page_is_ours(out)  # before any work

    start = time.perf_counter()
    if scheduler is None and workers is None:
        secs = sections(quick=quick, data_dir=data_dir, runs_dir=runs_dir, log=log, replicates=replicates)
    else:
        from bmnn import cluster

        with cluster.client(scheduler, workers) as c:
            secs = sections(quick=quick, data_dir=data_dir, runs_dir=runs_dir, log=log, replicates=replicates,
                            client=c)
    figures = {}
    for s in secs:
        for r in s.records:
            fig = plots.draw(r)
            if fig is not None:
                figures[r.id] = plots.page_png(fig)
    checks = [c for s in secs for r in s.records for c in r.checks]
    path = render(secs, figures, provenance(quick, time.perf_counter() - start), out, benchmarks=benchmark_rows())
    return path, sum(c.held for c in checks), len(checks)
