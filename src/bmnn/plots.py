"""All matplotlib code: records in, Axes out (``ax=None`` makes a new figure). Never shows; Agg backend."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from bmnn.experiments.records import Record  # noqa: E402


def _ax(ax: Axes | None, size=(6.0, 3.6)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def posterior(rec: Record, ax: Axes | None = None) -> Axes:
    """1.1: prior, scaled likelihood, posterior, and the Monte-Carlo (ABC) draws of mu | D."""
    ax = _ax(ax)
    d = rec.data
    grid = d["grid"]
    lik = d["likelihood"] / np.trapezoid(d["likelihood"], grid)
    ax.hist(d["abc"], bins=60, density=True, color="0.82", label="Monte Carlo: mu kept by ABC")
    ax.plot(grid, d["prior"], "--", color="tab:gray", label="prior N(m0, tau^2)")
    ax.plot(grid, lik, ":", color="tab:orange", label="likelihood (normalised)")
    ax.plot(grid, d["posterior"], color="tab:blue", lw=2, label="posterior N(m_n, v_n)")
    ax.axvline(d["mle"], color="tab:orange", lw=0.8)
    ax.set(xlabel="mu", ylabel="density", title="mu | D: closed form against simulation")
    ax.legend(fontsize=8)
    return ax


def predictives(rec: Record, ax: Axes | None = None) -> Axes:
    """1.2(d): the full predictive and the two plug-ins."""
    ax = _ax(ax)
    d = rec.data
    ax.plot(d["grid"], d["full"], lw=2, label="full predictive x | D")
    ax.plot(d["grid"], d["plugin_map"], "--", label="plug-in x | mu_MAP")
    ax.plot(d["grid"], d["plugin_mle"], ":", label="plug-in x | mu_MLE")
    ax.set(xlabel="x", ylabel="density", title="Predictive densities")
    ax.legend(fontsize=8)
    return ax


def variances(rec: Record, ax: Axes | None = None) -> Axes:
    """1.2(e): Var(x | D) and sigma^2 against n."""
    ax = _ax(ax)
    d = rec.data
    ax.semilogx(d["n"], d["full"], lw=2, label="Var(x | D) = sigma^2 + v_n")
    ax.axhline(d["sigma2"], color="tab:orange", ls="--", label="Var(x | mu_MLE) = sigma^2 (the limit)")
    ax.set(xlabel="n", ylabel="variance", title="The full predictive is wider, and tends to sigma^2")
    ax.legend(fontsize=8)
    return ax


def ratio(rec: Record, ax: Axes | None = None) -> Axes:
    """1.4: MAP / MLE against n."""
    ax = _ax(ax)
    d = rec.data
    ax.semilogx(d["n"], d["ratio"], lw=2, label="mu_MAP / mu_MLE = n / (n + sigma^2/tau^2)")
    ax.axhline(1.0, color="tab:gray", ls="--", label="limit 1")
    ax.set(xlabel="n", ylabel="ratio", ylim=(0, 1.05), title="MAP / MLE tends to 1")
    ax.legend(fontsize=8)
    return ax


def calibration(rec: Record, ax: Axes | None = None) -> Axes:
    """Coverage of the three predictives' central intervals against n."""
    ax = _ax(ax)
    d = rec.data
    n = d["n"]
    ax.fill_between(n, d["level"] - 2 * d["se"], d["level"] + 2 * d["se"], color="0.88", label="nominal +- 2 se")
    ax.semilogx(n, d["full"], "o-", label="full predictive")
    ax.semilogx(n, d["plugin_map"], "s--", label="plug-in MAP")
    ax.semilogx(n, d["plugin_mle"], "^:", label="plug-in MLE")
    ax.axhline(d["level"], color="k", lw=0.6)
    ax.set(xlabel="n", ylabel="coverage", title=f"Coverage of central {d['level']:.0%} intervals")
    ax.legend(fontsize=8)
    return ax


FIGURES: dict[str, Callable[..., Axes]] = {
    "posterior": posterior,
    "predictives": predictives,
    "variances": variances,
    "ratio": ratio,
    "calibration": calibration,
}


def draw(rec: Record) -> Any:
    """The matplotlib Figure for a record (which names its figure), or None."""
    if rec.figure is None:
        return None
    ax = FIGURES[rec.figure](rec)
    return ax.figure


def to_png(fig: Any, dpi: int = 110) -> bytes:
    """PNG bytes of a figure, which is then closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
