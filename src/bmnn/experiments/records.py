"""The plain records that experiments return and that plots and the report read.

A :class:`Record` answers one sub-question of the material: the quantities, what theory says they should be,
whether each check held (with its numbers and tolerance), and the data its figure needs, as a typed payload (one
frozen dataclass per figure below): :mod:`bmnn.plots` draws a record by its payload's type, and
:mod:`bmnn.report.interactive` builds a view from it, reading fields by name, so a renamed field fails where it is
read, not when a page is built. The "explore" payloads hold the grids an interactive view needs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


class Payload:
    """The base of the typed figure data (each a frozen dataclass)."""


@dataclass(frozen=True, eq=False)
class Job1Explore(Payload):
    """The starting point of job 1's view (the page computes every closed form itself)."""

    noise_sd: float
    prior_sd: float
    n: int
    xbar: float
    level: float


@dataclass(frozen=True, eq=False)
class GaussianPosteriorData(Payload):
    """1.1: prior, likelihood (unnormalised) and posterior of mu on a grid; the ABC draws; the MLE."""

    grid: Array
    prior: Array
    likelihood: Array
    posterior: Array
    abc: Array
    mle: float


@dataclass(frozen=True, eq=False)
class PredictivesData(Payload):
    """1.2: the full and the two plug-in predictive densities on a grid."""

    grid: Array
    full: Array
    plugin_mle: Array
    plugin_map: Array


@dataclass(frozen=True, eq=False)
class VariancesData(Payload):
    """1.2(e): Var(x | D) over n against its limit sigma^2; the view's starting point."""

    n: Array
    full: Array
    sigma2: float
    explore: Job1Explore


@dataclass(frozen=True, eq=False)
class RatioData(Payload):
    """1.3: mu_MAP / mu_MLE over n."""

    n: Array
    ratio: Array


@dataclass(frozen=True, eq=False)
class CalibrationData(Payload):
    """1.C: coverage of the three predictives' intervals over n, the nominal level and its standard error."""

    n: Array
    level: float
    se: float
    full: Array
    plugin_map: Array
    plugin_mle: Array


@dataclass(frozen=True, eq=False)
class Posterior2dExplore(Payload):
    """2.1's view: the data ``X``, ``y``, the statistics the page evaluates the log posterior from, and per tau the
    MAP, the mean and the mean's MCSE."""

    X: Array
    y: Array
    gram: Array
    xty: Array
    yty: float
    n: int
    noise_sd: float
    taus: Array
    map: Array
    mean: Array
    axis: Array
    mcse: Array


@dataclass(frozen=True, eq=False)
class LaplacePosteriorData(Payload):
    """2.1: the 1-d posterior (quadrature and draws) and the 2-d one (grid density and draws)."""

    grid1: Array
    dens1: Array
    draws1: Array
    axis2: Array
    dens2: Array
    draws2: Array
    explore: Posterior2dExplore


@dataclass(frozen=True, eq=False)
class LocationExplore(Payload):
    """2.3's view: the MAP's error over the distance of mu from w_true, per tau of the view's grid."""

    taus: Array
    dist: Array
    err: Array
    ols: float


@dataclass(frozen=True, eq=False)
class PriorLocationData(Payload):
    """2.3: the MAP's error over the distance of mu from w_true, per tau; least squares' error."""

    dist: Array
    taus: Array
    err: Array
    ols: float
    explore: LocationExplore


@dataclass(frozen=True, eq=False)
class DiabetesExplore(Payload):
    """2.4's view: per tau of a grid, every coefficient's MAP, posterior mean and 90% interval, the Monte Carlo
    standard errors of the mean and of the interval's ends (the larger of the two); tau*."""

    names: list[str]
    noise_sd: float
    tau_star: float
    taus: Array
    map: Array
    mean: Array
    q05: Array
    q95: Array
    zeros: Array
    mcse: Array
    mcse_interval: Array


@dataclass(frozen=True, eq=False)
class TauPathData(Payload):
    """2.4: the MAP path over tau, tau*, the location; the view's grids."""

    taus: Array
    path: Array
    tau_star: float
    mu: Array
    explore: DiabetesExplore


@dataclass(frozen=True, eq=False)
class MseGapData(Payload):
    """2.5: test MSE of the MAP and of the posterior mean over n, with their standard errors, and their paired
    difference with its standard error."""

    n: Array
    diff: Array
    se: Array
    mse_map: Array
    mse_mean: Array
    reps: int
    se_map: Array
    se_mean: Array


@dataclass(frozen=True, eq=False)
class PriorsData(Payload):
    """2.P: on a sparse simulated problem, the truth and each prior's posterior means and 90% intervals."""

    names: list[str]
    truth: Array
    mean: dict[str, Array]
    q05: dict[str, Array]
    q95: dict[str, Array]


@dataclass(frozen=True, eq=False)
class ScaleData(Payload):
    """2.S: ESS per second over p, ours and NUTS's (None where unfinished, with its upper bound)."""

    p: list[int]
    ours: list[float]
    nuts: list[float | None]
    nuts_bound: list[float | None]
    machine: str


@dataclass(frozen=True, eq=False)
class SaturationData(Payload):
    """3.S's view: per label y (0, 1), the output gradient's table over a2
    (:func:`bmnn.sigmoid_mlp.output_gradient_table`), and per precision where its expanded form breaks."""

    tables: dict[int, dict[str, Any]]
    breaks: dict[str, list[float]]


@dataclass(frozen=True, eq=False)
class SigmoidTrainingData(Payload):
    """3.T: the training histories (per epoch) on breast cancer and, where the data are present, Fashion-MNIST."""

    cancer: dict[str, list[float]]
    fashion: dict[str, list[float]] | None = None


@dataclass(frozen=True, eq=False)
class ScratchMlpData(Payload):
    """4: the histories of both recipes, the best run's confusion matrix, and the test images shown with their
    predictions and class probabilities."""

    classic: list[dict[str, Any]]
    best: list[dict[str, Any]]
    confusion: Any
    classes: tuple[str, ...]
    images: Any
    pred: Any
    true: Any
    proba: Any
    index: Any


@dataclass(frozen=True)
class Check:
    """One verification: ``value`` compared with ``expected`` under ``tolerance``; ``held`` is the verdict; ``se``
    the standard error of a Monte Carlo ``value`` (the page shows it to the digits that supports)."""

    name: str
    value: Any
    expected: Any
    tolerance: str
    held: bool
    se: float | None = None


@dataclass(frozen=True)
class Sampled:
    """A Monte Carlo estimate and its standard error (an MCSE): the page shows it to the digits the error
    supports, with the error."""

    value: float
    se: float

    def __float__(self) -> float:
        return float(self.value)


@dataclass(frozen=True)
class Interval:
    """A posterior interval from draws, its ends (and optionally the mean) Monte Carlo estimates: the page shows
    ``mean [lo, hi]``, each number to the digits its MCSE supports (the errors themselves are not written, to keep
    tables of intervals readable)."""

    lo: Sampled
    hi: Sampled
    mean: Sampled | None = None


@dataclass
class Record:
    """One sub-question answered by computation.

    Attributes
    ----------
    id : str
        The material's id, e.g. ``"1.2(e)"``.
    title, statement : str
        A short title and the question in the report's own words.
    answer : str
        The answer in words (plain text; may hold inline LaTeX between ``$...$``).
    formulas : list of str
        LaTeX, rendered as MathML by the report.
    values : dict
        Named computed values, shown as a table.
    checks : list of Check
    table : dict or None
        ``{"columns": [...], "rows": [[...], ...]}`` for a tabular answer.
    tables : list of dict
        Further tables, each ``{"title": ..., "columns": [...], "rows": [...]}``.
    data : Payload or None
        What its figure (and view) needs; its type chooses the figure.
    """

    id: str
    title: str
    statement: str
    answer: str = ""
    formulas: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    table: dict[str, Any] | None = None
    data: Payload | None = None
    tables: list[dict[str, Any]] = field(default_factory=list)

    @property
    def held(self) -> bool:
        """Whether every check held."""
        return all(c.held for c in self.checks)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly view without the figure data."""
        out = {k: v for k, v in vars(self).items() if k != "data"}
        out["checks"] = [asdict(c) for c in self.checks]
        return out


def close(name: str, value: float, expected: float, *, rtol: float = 0.0, atol: float = 0.0) -> Check:
    """``|value - expected| <= atol + rtol * |expected|``."""
    value, expected = float(value), float(expected)
    ok = math.isfinite(value) and abs(value - expected) <= atol + rtol * abs(expected)
    parts = [f"rtol {rtol:g}" if rtol else "", f"atol {atol:g}" if atol else ""]
    return Check(name, value, expected, " + ".join(p for p in parts if p) or "exact", ok)


def within_se(name: str, value: float, expected: float, se: float, *, k: float = 4.0) -> Check:
    """A Monte-Carlo estimate within ``k`` standard errors of its target."""
    value, expected, se = float(value), float(expected), float(se)
    z = (value - expected) / se if se > 0 else math.inf
    return Check(name, value, expected, f"|z| <= {k:g} (se {se:.3g}, z {z:+.2f})", abs(z) <= k, se=se)


def holds(name: str, ok: bool, value: Any = True, expected: Any = True, tolerance: str = "exact") -> Check:
    """A logical check."""
    return Check(name, value, expected, tolerance, bool(ok))


@dataclass
class Section:
    """One job of the material: its title, setting, formulas and its records in the material's order."""

    job: int
    title: str
    setting: str
    records: list[Record]
    formulas: list[str] = field(default_factory=list)
