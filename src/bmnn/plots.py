"""All matplotlib code: records in, Axes out (``ax=None`` makes a new figure). Never shows; Agg backend."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from bmnn.experiments import records as R  # noqa: E402
from bmnn.experiments.records import Record  # noqa: E402


def _ax(ax: Axes | None, size=(6.0, 3.6)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _curves(loss_ax: Axes, acc_ax: Axes, history: list[dict], title: str) -> None:
    """Loss and accuracy per epoch, train and test (and validation where recorded), on two axes."""
    ep = [h["epoch"] for h in history]
    for key, ax, label in (("loss", loss_ax, "cross-entropy"), ("acc", acc_ax, "accuracy")):
        for split in ("train", "test", "val"):
            if f"{split}_{key}" in history[0]:
                ax.plot(ep, [h[f"{split}_{key}"] for h in history], label={"val": "validation"}.get(split, split))
        ax.set(xlabel="epoch", ylabel=label, title=f"{title}: {'loss' if key == 'loss' else 'accuracy'}")
        ax.legend(fontsize=8)


def _as_rows(hist: dict[str, list[float]]) -> list[dict]:
    """A dict of per-epoch lists as a list of per-epoch dicts with an ``epoch`` key."""
    n = len(next(iter(hist.values())))
    return [{"epoch": i + 1, **{k: v[i] for k, v in hist.items()}} for i in range(n)]


def posterior(rec: Record, ax: Axes | None = None) -> Axes:
    """1.1: prior, scaled likelihood, posterior, and the Monte-Carlo (ABC) draws of mu | D."""
    ax = _ax(ax)
    d = rec.data
    grid = d.grid
    lik = d.likelihood / np.trapezoid(d.likelihood, grid)
    ax.hist(d.abc, bins=60, density=True, color="0.82", label="Monte Carlo: mu kept by ABC")
    ax.plot(grid, d.prior, "--", color="tab:gray", label="prior N(m0, tau^2)")
    ax.plot(grid, lik, ":", color="tab:orange", label="likelihood (normalised)")
    ax.plot(grid, d.posterior, color="tab:blue", lw=2, label="posterior N(m_n, v_n)")
    ax.axvline(d.mle, color="tab:orange", lw=0.8)
    ax.set(xlabel="mu", ylabel="density", title="mu | D: closed form against simulation")
    ax.legend(fontsize=8)
    return ax


def predictives(rec: Record, ax: Axes | None = None) -> Axes:
    """1.2(d): the full predictive and the two plug-ins."""
    ax = _ax(ax)
    d = rec.data
    ax.plot(d.grid, d.full, lw=2, label="full predictive x | D")
    ax.plot(d.grid, d.plugin_map, "--", label="plug-in x | mu_MAP")
    ax.plot(d.grid, d.plugin_mle, ":", label="plug-in x | mu_MLE")
    ax.set(xlabel="x", ylabel="density", title="Predictive densities")
    ax.legend(fontsize=8)
    return ax


def variances(rec: Record, ax: Axes | None = None) -> Axes:
    """1.2(e): Var(x | D) and sigma^2 against n."""
    ax = _ax(ax)
    d = rec.data
    ax.semilogx(d.n, d.full, lw=2, label="Var(x | D) = sigma^2 + v_n")
    ax.axhline(d.sigma2, color="tab:orange", ls="--", label="Var(x | mu_MLE) = sigma^2 (the limit)")
    ax.set(xlabel="n", ylabel="variance", title="The full predictive is wider, and tends to sigma^2")
    ax.legend(fontsize=8)
    return ax


def ratio(rec: Record, ax: Axes | None = None) -> Axes:
    """1.4: MAP / MLE against n."""
    ax = _ax(ax)
    d = rec.data
    ax.semilogx(d.n, d.ratio, lw=2, label="mu_MAP / mu_MLE = n / (n + sigma^2/tau^2)")
    ax.axhline(1.0, color="tab:gray", ls="--", label="limit 1")
    ax.set(xlabel="n", ylabel="ratio", ylim=(0, 1.05), title="MAP / MLE tends to 1")
    ax.legend(fontsize=8)
    return ax


def calibration(rec: Record, ax: Axes | None = None) -> Axes:
    """Coverage of the three predictives' central intervals against n."""
    ax = _ax(ax)
    d = rec.data
    n = d.n
    ax.fill_between(n, d.level - 2 * d.se, d.level + 2 * d.se, color="0.88", label="nominal +- 2 se")
    ax.semilogx(n, d.full, "o-", label="full predictive")
    ax.semilogx(n, d.plugin_map, "s--", label="plug-in MAP")
    ax.semilogx(n, d.plugin_mle, "^:", label="plug-in MLE")
    ax.axhline(d.level, color="k", lw=0.6)
    ax.set(xlabel="n", ylabel="coverage", title=f"Coverage of central {d.level:.0%} intervals")
    ax.legend(fontsize=8)
    return ax


def laplace_posterior(rec: Record, ax: Axes | None = None) -> Axes:
    """2.1: the posterior normalised by quadrature against the Gibbs draws, in 1-d and in 2-d."""
    d = rec.data
    if ax is None:
        _, (ax, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.6), layout="constrained")
    else:
        ax2 = ax.inset_axes((1.15, 0, 1, 1))
    ax.hist(d.draws1, bins=120, density=True, color="0.8", label="Gibbs draws")
    ax.plot(d.grid1, d.dens1, lw=2, label="quadrature-normalised posterior")
    ax.set(xlabel="w", ylabel="density", title="1-d: p(w | X, y)", xlim=(d.grid1[0], d.grid1[-1]))
    ax.legend(fontsize=8)
    a = d.axis2
    ax2.scatter(d.draws2[:, 0], d.draws2[:, 1], s=1, color="0.6", alpha=0.4, label="Gibbs draws")
    ax2.contour(a, a, d.dens2.T, levels=6, colors="tab:blue", linewidths=1)
    ax2.axhline(0, color="k", lw=0.4)
    ax2.axvline(0, color="k", lw=0.4)
    lo, hi = np.percentile(d.draws2, [0.2, 99.8], axis=0)
    pad = 0.15 * (hi - lo)
    ax2.set(xlabel="w_1", ylabel="w_2", title="2-d: contours (quadrature) and draws",
            xlim=(lo[0] - pad[0], hi[0] + pad[0]), ylim=(lo[1] - pad[1], hi[1] + pad[1]))
    return ax


def prior_location(rec: Record, ax: Axes | None = None) -> Axes:
    """2.3: MAP error against the distance of the prior location from the truth, per tau."""
    ax = _ax(ax)
    d = rec.data
    for tau, err in zip(d.taus, d.err, strict=True):
        ax.plot(d.dist, err, label=f"tau = {tau:g}")
    ax.axhline(d.ols, color="k", ls="--", lw=0.8, label="least squares")
    ax.set(xlabel="||mu - w_true||", ylabel="||w_MAP - w_true||", title="Prior knowledge through the location")
    ax.legend(fontsize=8)
    return ax


def tau_path(rec: Record, ax: Axes | None = None) -> Axes:
    """2.4: every MAP coefficient against tau, with tau* marked."""
    ax = _ax(ax)
    d = rec.data
    for j in range(d.path.shape[1]):
        ax.semilogx(d.taus, d.path[:, j], label=f"w_{j + 1}")
    ax.axvline(d.tau_star, color="k", ls="--", lw=1, label="tau*")
    ax.set(xlabel="tau (log scale)", ylabel="w_MAP", title="The MAP path: exactly mu for tau <= tau*")
    ax.legend(fontsize=7, ncol=2)
    return ax


def mse_gap(rec: Record, ax: Axes | None = None) -> Axes:
    """2.5: the MAP's excess test MSE over the posterior mean against n."""
    ax = _ax(ax)
    d = rec.data
    ax.errorbar(d.n, d.diff, yerr=2 * d.se, fmt="o-", capsize=3, label="MAP - posterior mean (+- 2 se)")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set(xlabel="n (training points), p = 10", ylabel="excess test MSE", title="The gap closes as data dominate")
    ax.legend(fontsize=8)
    return ax


def laplace_scale(rec: Record, ax: Axes | None = None) -> Axes:
    """2.S: effective samples per second of the Gibbs sampler and of NUTS against the number of weights p."""
    d = rec.data
    ax = _ax(ax)
    ax.loglog(d.p, d.ours, "o-", label="bmnn Gibbs (16 chains)")
    done = [(p, v) for p, v in zip(d.p, d.nuts, strict=True) if v is not None]
    if done:
        ax.loglog(*zip(*done, strict=True), "s-", label="NumPyro NUTS (4 chains)")
    bound = [(p, v) for p, v, n in zip(d.p, d.nuts_bound, d.nuts, strict=True) if n is None and v]
    if bound:
        ax.loglog(*zip(*bound, strict=True), "v", color="tab:orange", label="NUTS: upper bound (no draw in cap)")
    ax.set_xlabel("p (features)")
    ax.set_ylabel("min bulk ESS per second")
    ax.set_title(f"Sampling speed at scale, one thread each ({d.machine})", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def sweep_summary(summary: list[dict], recipe: str, ax: Axes | None = None) -> Axes:
    """A sweep's test accuracy per setting: every seed's point, and the mean +- sd."""
    ax = _ax(ax, (max(5.0, 1.2 * len(summary) + 2), 3.6))
    for i, s in enumerate(summary):
        ax.plot([i] * len(s["test_acc"]), s["test_acc"], "o", color="tab:blue", alpha=0.5, ms=4)
        ax.errorbar([i + 0.15], [s["mean"]], yerr=[s["sd"] or 0.0], fmt="s", color="k", capsize=4)
    ax.set_xticks(range(len(summary)), [s["label"] for s in summary], rotation=20, ha="right", fontsize=8)
    ax.set_xlim(-0.5, len(summary) - 0.5)
    ax.set_ylabel("test accuracy")
    n = max(len(s["test_acc"]) for s in summary)
    ax.set_title(f"recipe {recipe}: seeds (dots), mean +- sd of {n} (squares)", fontsize=9)
    return ax


def sigmoid_training(rec: Record, ax: Axes | None = None) -> Axes:
    """3.T: loss and accuracy per epoch, train and test, for each data set trained."""
    runs = [(k, v) for k, v in (("breast cancer", rec.data.cancer),
                                ("T-shirt/top vs Shirt", rec.data.fashion)) if v]
    if ax is None:
        _, axes = plt.subplots(1, 2 * len(runs), figsize=(4.5 * len(runs) * 2 / 2 + 1, 3.4), layout="constrained")
    else:
        axes = [ax] + [ax.inset_axes((1.2 * i, 0, 1, 1)) for i in range(1, 2 * len(runs))]
    for i, (name, h) in enumerate(runs):
        _curves(axes[2 * i], axes[2 * i + 1], _as_rows(h), name)
    return axes[0]


def training_progress(history: list[dict], title: str = "Training progress", ax: Axes | None = None) -> Axes:
    """Job 4: loss and accuracy per epoch, train and test (the figure the material asks for)."""
    if ax is None:
        _, (ax, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.6), layout="constrained")
    else:
        ax2 = ax.inset_axes((1.2, 0, 1, 1))
    _curves(ax, ax2, history, title)
    return ax


def confusion(matrix: np.ndarray, classes: list[str] | tuple[str, ...], ax: Axes | None = None) -> Axes:
    """A confusion matrix (rows: true class, columns: predicted), with counts."""
    ax = _ax(ax, size=(6.4, 5.6))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    top = matrix.max()
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > top / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test set)")
    return ax


#: the mark every PNG bmnn writes carries (its "Software" text chunk), by which it recognises its own figures
PNG_MARK = b"tEXtSoftware\x00bmnn"


def is_bmnn_png(path: Any) -> bool:
    """Whether the file at ``path`` is a PNG that bmnn wrote (its mark in the first text chunks)."""
    try:
        with open(path, "rb") as fh:
            return PNG_MARK in fh.read(4096)
    except OSError:
        return False


def save_png(fig: Any, path: Any, dpi: int = 110, owned: Any = is_bmnn_png) -> None:
    """Write a figure to ``path`` atomically (:func:`bmnn._files.atomic_write`) and close it. A file already at
    ``path`` is replaced only when ``owned(path)`` (default: a PNG bmnn wrote)."""
    from bmnn._files import atomic_write

    atomic_write(path, to_png(fig, dpi), owned=owned)


def scratch_mlp(rec: Record, ax: Axes | None = None) -> Axes:
    """4: training progress of both recipes, the confusion matrix and a grid of test images, in one figure."""
    d = rec.data
    fig = plt.figure(figsize=(10, 11.5), layout="constrained")
    grid = fig.add_gridspec(4, 2, height_ratios=[1, 1, 1.6, 1.1])
    for row, key in enumerate(("classic", "best")):
        _curves(fig.add_subplot(grid[row, 0]), fig.add_subplot(grid[row, 1]), getattr(d, key), f"recipe {key}")
    confusion(d.confusion, d.classes, ax=fig.add_subplot(grid[2, :]))
    sub = grid[3, :].subgridspec(2, 8)
    for i, (img, p, t) in enumerate(zip(d.images, d.pred, d.true, strict=False)):
        a = fig.add_subplot(sub[i // 8, i % 8])
        a.imshow(np.asarray(img).reshape(28, 28), cmap="gray_r")
        a.set_title(f"{d.classes[p]}\n({d.classes[t]})", fontsize=6, color="black" if p == t else "tab:red")
        a.axis("off")
    return fig.axes[0]


def priors(rec: Record, ax: Axes | None = None) -> Axes:
    """2.P: each prior's posterior mean and 90% interval per weight of the sparse problem, beside the truth."""
    ax = _ax(ax, (7.0, 3.6))
    d = rec.data
    x = np.arange(len(d.names))
    for i, name in enumerate(d.mean):
        off = (i - 1) * 0.22
        ax.errorbar(x + off, d.mean[name], yerr=[d.mean[name] - d.q05[name], d.q95[name] - d.mean[name]], fmt="o",
                    ms=3.5, capsize=2, label=f"{name}: mean, 90% interval")
    ax.scatter(x, d.truth, marker="_", s=300, color="k", label="truth", zorder=3)
    ax.set_xticks(x, d.names)
    ax.axhline(0, color="0.7", lw=0.6)
    ax.set(ylabel="w_j", title="Large signals and nulls under three priors (sigma and scales learned)")
    ax.legend(fontsize=7)
    return ax


FIGURES: dict[type, Callable[..., Axes]] = {
    R.PriorsData: priors,
    R.ScratchMlpData: scratch_mlp,
    R.SigmoidTrainingData: sigmoid_training,
    R.LaplacePosteriorData: laplace_posterior,
    R.PriorLocationData: prior_location,
    R.TauPathData: tau_path,
    R.MseGapData: mse_gap,
    R.ScaleData: laplace_scale,
    R.GaussianPosteriorData: posterior,
    R.PredictivesData: predictives,
    R.VariancesData: variances,
    R.RatioData: ratio,
    R.CalibrationData: calibration,
}


def draw(rec: Record) -> Any:
    """The matplotlib Figure for a record, chosen by its payload's type, or None (no payload, or one that only an
    interactive view shows)."""
    figure = FIGURES.get(type(rec.data))
    return None if figure is None else figure(rec).figure


#: the page's figures: drawn at twice the screen's 110 dpi (sharp on high-density screens), shown at half size
PAGE_DPI = 220


def page_png(fig: Any) -> bytes:
    """PNG bytes of a figure for the report page: at :data:`PAGE_DPI`, reduced to a 256-colour palette (line art
    and grey images lose nothing visible, and the file is smaller than the full-colour one at half the dpi)."""
    from PIL import Image

    image = Image.open(io.BytesIO(to_png(fig, dpi=PAGE_DPI))).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    palette.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def describe(rec: Record) -> str:
    """What a record's figure shows, in words (its drawing function's first docstring line, without the record's
    id): the figure's alt text. Empty where the record has no figure."""
    figure = FIGURES.get(type(rec.data))
    line = (figure.__doc__ or "").strip().split("\n")[0] if figure else ""
    return re.sub(r"^[0-9A-Z.()a-z]+: ", "", line) if ": " in line[:10] else line


def to_png(fig: Any, dpi: int = 110) -> bytes:
    """PNG bytes of a figure, which is then closed."""
    buf = io.BytesIO()
    try:
        from bmnn import __version__

        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": f"bmnn {__version__}"})
    finally:
        plt.close(fig)
    return buf.getvalue()
