"""Job 2's sampler and model settings, declared once (:class:`bmnn._settings.Setting`): type, range or choices,
default and meaning. The table drives :class:`~bmnn.laplace.estimator.LaplaceRegression`'s defaults and the checks
its ``fit`` makes, the defaults of :func:`~bmnn.laplace.gibbs.gibbs`, and the ``bmnn lasso`` flags' defaults and
help. ``location`` (a number or a vector of p) and ``random_state`` (a seed or a Generator) are checked by their own
functions, :func:`~bmnn.laplace.posterior.validate_location` and :func:`~bmnn.laplace.estimator.as_rng`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from bmnn._checks import InputError
from bmnn._settings import Setting, check, describe

SETTINGS: dict[str, Setting] = {
    "noise_sd": Setting("float", None, "sigma, the noise sd; None: learned (Jeffreys' prior on sigma^2, or "
                        "noise_prior), and the prior's scale becomes sigma tau", low=0.0, low_open=True,
                        optional=True),
    "scale": Setting("float", None, "tau, the Laplace prior's scale; None: learned (scale_prior on 1 / tau)",
                     low=0.0, low_open=True, optional=True),
    "fit_intercept": Setting("bool", True, "fit an intercept with a flat prior (False: the material's model)"),
    "draws": Setting("int", 2000, "Gibbs draws kept per chain (the estimator's 0: the MAP alone, sigma and tau "
                     "given)", low=0),
    "warmup": Setting("int", 500, "Gibbs warm-up iterations, discarded", low=0),
    "chains": Setting("int", 16, "Gibbs chains, advanced together", low=1),
    "algorithm": Setting("str", None, "the Gaussian draw: the p x p system ('precision') or Bhattacharya et al.'s "
                         "n x n one ('bcm'); None: the cheaper for the data's shape", choices=("precision", "bcm"),
                         optional=True),
    "overrelax": Setting("float", -0.5, "over-relaxation alpha of the Gaussian step: 0 is plain Gibbs, negative "
                         "values anti-correlate successive draws", low=-1.0, high=0.0, low_open=True),
    "coordinate_steps": Setting("int", None, "collapsed coordinate steps per sweep after warm-up, for the "
                                "coordinates that mixed slowest in it; None: by a cost model", low=0,
                                optional=True),
}
#: the diabetes example's fixed lambda = sigma^2 / tau (sigma the least-squares residual sd): the benchmarks against
#: NUTS and the report's 2.S comparison use it
DIABETES_LAMBDA = 610.0
#: the scale's row for each prior (the table above holds the Laplace prior's)
SCALE: dict[str, Setting] = {
    "laplace": SETTINGS["scale"],
    "horseshoe": Setting("float", None, "tau, the horseshoe's global scale, in units of sigma; None: learned under a "
                         "half-Cauchy C+(0, 1)", low=0.0, low_open=True, optional=True),
    "gaussian": Setting("float", None, "s, the Gaussian prior's sd of each weight (in units of sigma when sigma is "
                        "learned); None: learned (scale_prior on s^2)", low=0.0, low_open=True, optional=True),
}
#: (shape, rate) priors: Gamma on 1 / tau (rate > 0), inverse gamma on sigma^2 (None: Jeffreys' 1 / sigma^2)
PRIORS: dict[str, tuple[tuple[float, float] | None, str]] = {
    "scale_prior": ((1.0, 1.0), "Gamma(shape, rate) prior on 1 / tau, when tau is learned"),
    "noise_prior": (None, "inverse-gamma(shape, scale) prior on sigma^2, when sigma is learned (None: Jeffreys)"),
}
#: the prior on the scale, for the priors that take one (the horseshoe's is fixed: C+(0, 1))
SCALE_PRIOR: dict[str, tuple[tuple[float, float], str]] = {
    "laplace": PRIORS["scale_prior"],
    "gaussian": ((1.0, 1.0), "inverse-gamma(shape, rate) prior on s^2, when s is learned"),
}
_PRIOR_NAMES = {"scale_prior": "the Gamma prior on 1 / tau", "noise_prior": "the inverse-gamma prior on sigma^2"}
DEFAULTS: dict[str, Any] = {**{k: s.default for k, s in SETTINGS.items()}, **{k: v[0] for k, v in PRIORS.items()}}


def check_prior(name: str, value: Any, what: str | None = None) -> tuple[float, float] | None:
    """A (shape, rate) pair of finite numbers, shape > 0 and rate > 0 (``scale_prior``) or >= 0 (``noise_prior``,
    which may also be ``None``); ``what`` names the prior in the message."""
    if value is None and name == "noise_prior":
        return None
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (shape, rate) of numbers, got {value!r:.80}", param=name) from None
    floor = 0.0 if name == "noise_prior" else 1e-300
    if not (a == a and b == b and abs(a) < float("inf") and abs(b) < float("inf") and a > 0 and b >= floor):
        flat = "1 / tau" if what is None else "the scale"
        rate = ">= 0" if name == "noise_prior" else f"> 0 (a flat prior on {flat} gives an improper posterior)"
        raise InputError(f"{name} ({what or _PRIOR_NAMES[name]}) must have shape > 0 and rate {rate}, both finite, got "
                         f"({a:g}, {b:g})", param=name)
    return a, b


def check_settings(params: dict[str, Any], prior: str = "laplace") -> dict[str, Any]:
    """Every entry of ``params`` that the table declares for ``prior``, checked; the checked values."""
    rows = {**SETTINGS, "scale": SCALE[prior]}
    out = {}
    for name, value in params.items():
        if name in rows:
            out[name] = check(name, rows[name], value)
        elif name == "scale_prior" and prior in SCALE_PRIOR:
            out[name] = check_prior(name, value, None if prior == "laplace" else f"the {SCALE_PRIOR[prior][1]}")
        elif name == "noise_prior":
            out[name] = check_prior(name, value)
    return out


def help_text(name: str) -> str:
    """The ``--help`` line of a setting."""
    if name in PRIORS:
        return PRIORS[name][1]
    return describe(name, SETTINGS[name])


@dataclass(frozen=True)
class SamplerSettings:
    """How the Gibbs sampler runs (not what it samples), one object checked against the table: kept draws per
    chain, warm-up iterations, chains, the Gaussian draw's algorithm, over-relaxation and collapsed coordinate
    steps."""

    draws: int = DEFAULTS["draws"]
    warmup: int = DEFAULTS["warmup"]
    chains: int = DEFAULTS["chains"]
    algorithm: str | None = DEFAULTS["algorithm"]
    overrelax: float = DEFAULTS["overrelax"]
    coordinate_steps: int | None = DEFAULTS["coordinate_steps"]

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, check(f.name, SETTINGS[f.name], getattr(self, f.name)))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
