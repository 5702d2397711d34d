"""Run every experiment, draw its figures and render the page (the ``bmnn report`` job)."""

from __future__ import annotations

import platform
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bmnn import __version__


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


def build_report(out: Path, quick: bool = False, data_dir=None, runs_dir="runs", log=None) -> tuple[Path, int, int]:
    """Write ``out/index.html``; return its path, the checks held and the checks run."""
    from bmnn import plots
    from bmnn.experiments import sections
    from bmnn.report import render

    start = time.perf_counter()
    secs = sections(quick=quick, data_dir=data_dir, runs_dir=runs_dir, log=log)
    figures = {}
    for s in secs:
        for r in s.records:
            fig = plots.draw(r)
            if fig is not None:
                figures[r.id] = plots.to_png(fig)
    checks = [c for s in secs for r in s.records for c in r.checks]
    path = render(secs, figures, provenance(quick, time.perf_counter() - start), out)
    return path, sum(c.held for c in checks), len(checks)
