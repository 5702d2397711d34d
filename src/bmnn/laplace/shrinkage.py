"""Two companions of the Laplace prior on the same sampler, as scikit-learn regressors exactly like
:class:`~bmnn.laplace.estimator.LaplaceRegression` (same parameters where they apply, same posterior attributes and
methods):

* :class:`HorseshoeRegression`: the horseshoe prior (:mod:`bmnn.laplace.priors.horseshoe`), which keeps large
  signals while shrinking the rest; sampled by the Gibbs kernel at any p. It has no MAP (its prior has a pole at 0).
* :class:`GaussianPriorRegression`: a Normal prior on each weight (:mod:`bmnn.laplace.priors.gaussian`), whose MAP
  is ridge regression; with its scale given the posterior is exact in closed form (mean, sd, and independent draws
  for intervals and prediction), and with its scale learned it is sampled by the same kernel.

Each is its prior's module, its rows of :mod:`bmnn.laplace.settings` and the thin class below; the driver
(:func:`bmnn.laplace.gibbs.run`) is the Laplace prior's.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bmnn._checks import positive_scalar
from bmnn.laplace.estimator import PosteriorRegression, _Arrays, _Statistics
from bmnn.laplace.gibbs import GibbsResult
from bmnn.laplace.posterior import squared_in_range
from bmnn.laplace.priors.gaussian import ClosedForm, GaussianPrior, closed_form
from bmnn.laplace.priors.horseshoe import HorseshoePrior
from bmnn.laplace.settings import DEFAULTS as D
from bmnn.laplace.settings import SCALE_PRIOR, check_prior


def _scale(value: float | None, what: str) -> float | None:
    return None if value is None else squared_in_range("scale", positive_scalar("scale", value, what=what), "scale")


class HorseshoeRegression(PosteriorRegression):
    """Bayesian linear regression with the horseshoe prior.

    Model: ``y = b0 + X w + eps``, ``eps ~ N(0, sigma^2 I)``, ``w_j - mu_j | lambda_j, tau ~ N(0, lambda_j^2 tau^2
    sigma^2)``, ``lambda_j ~ C+(0, 1)``, ``tau ~ C+(0, 1)`` unless given; sigma given or learned (Jeffreys' prior,
    or ``noise_prior``); an intercept with a flat prior unless ``fit_intercept=False``. Sampled exactly by the
    Gibbs kernel with Makalic & Schmidt's auxiliaries; the Gaussian block by the cheaper exact draw for the shape of
    X (p > n included).

    Parameters
    ----------
    noise_sd : float or None
        sigma; ``None`` learns it.
    scale : float or None
        tau, the global scale in units of sigma; ``None`` learns it (half-Cauchy prior).
    location : float or array (p,)
        mu, where the prior centres each weight.
    fit_intercept, noise_prior, draws, warmup, chains, random_state, algorithm, overrelax
        As for :class:`~bmnn.laplace.estimator.LaplaceRegression` (:mod:`bmnn.laplace.settings`).

    Attributes
    ----------
    coef_ (the posterior mean), coef_mean_, coef_sd_, mcse_, ess_bulk_, rhat_, draws_, intercept_,
    intercept_draws_, noise_sd_draws_ and noise_sd_summary_ (sigma learned), scale_draws_ and scale_summary_ (tau
    learned), as for ``LaplaceRegression``. There is no ``coef_map_``: the horseshoe has no MAP.
    """

    _prior_name = "horseshoe"
    _no_map = "the horseshoe's prior density is infinite at w = location, so the posterior has no mode to report"
    _draws_needed = "the horseshoe is sampled: draws must be >= 1"

    def __init__(self, noise_sd: float | None = D["noise_sd"], scale: float | None = None,
                 location: float | ArrayLike = 0.0, *, fit_intercept: bool = D["fit_intercept"],
                 noise_prior: tuple[float, float] | None = D["noise_prior"], draws: int = D["draws"],
                 warmup: int = D["warmup"], chains: int = D["chains"], random_state=None,
                 algorithm: str | None = D["algorithm"], overrelax: float = D["overrelax"]) -> None:
        self._store(locals())

    def _prior(self) -> HorseshoePrior:
        return HorseshoePrior(_scale(self.scale, "tau, the horseshoe's global scale"))

    def _closed_form(self) -> bool:
        return False

    def _point_estimates(self, source: _Arrays | _Statistics, mu: NDArray) -> None:
        """None: the horseshoe has no MAP."""


class GaussianPriorRegression(PosteriorRegression):
    """Bayesian linear regression with a Normal prior on each weight (Bayesian ridge regression).

    Model: ``y = b0 + X w + eps``, ``eps ~ N(0, sigma^2 I)``, ``w - mu ~ N(0, s^2 I)`` with sigma given (``s``
    absolute, as the Laplace prior's tau), or ``w - mu ~ N(0, sigma^2 s^2 I)`` with sigma learned (the conjugate
    prior: a Student-t posterior); ``s`` given (``scale``) or learned under ``InvGamma(scale_prior)`` on ``s^2``; an
    intercept with a flat prior unless ``fit_intercept=False``.

    With ``scale`` given the posterior is computed in closed form: ``coef_mean_`` and ``coef_sd_`` are exact
    (``mcse_`` is 0) and ``draws_`` are independent draws from it (for intervals, prediction and ArviZ). With
    ``scale=None`` the Gibbs kernel samples it.

    The MAP given sigma and s is the posterior mean given them: ridge regression around mu,
    ``(1/2) ||y - b0 - X w||^2 + (alpha/2) ||w - mu||^2`` with ``alpha = sigma^2 / s^2`` (sigma given) or
    ``1 / s^2`` (sigma learned); scikit-learn's ``Ridge(alpha=alpha_)`` minimises the same objective times 2. Where
    s is learned the MAP is taken at its posterior median (``map_at_``).

    Parameters
    ----------
    noise_sd : float or None
    scale : float or None
        s, the prior sd of each weight (in units of sigma when sigma is learned); ``None`` learns it.
    location : float or array (p,)
    scale_prior : (a, b), default (1, 1)
        Inverse-gamma shape and rate of the prior on ``s^2`` (used when s is learned).
    fit_intercept, noise_prior, draws, warmup, chains, random_state, algorithm, overrelax
        As for :class:`~bmnn.laplace.estimator.LaplaceRegression`.

    Attributes
    ----------
    As ``LaplaceRegression``'s posterior attributes, and ``coef_map_``, ``intercept_map_``, ``alpha_``,
    ``map_at_``; ``closed_form_`` (the exact posterior) when ``scale`` is given.
    """

    _prior_name = "gaussian"
    _scale_symbol = "s"
    _draws_needed = "draws must be >= 1 when scale is learned"

    def __init__(self, noise_sd: float | None = D["noise_sd"], scale: float | None = None,
                 location: float | ArrayLike = 0.0, *, fit_intercept: bool = D["fit_intercept"],
                 scale_prior: tuple[float, float] = SCALE_PRIOR["gaussian"][0],
                 noise_prior: tuple[float, float] | None = D["noise_prior"], draws: int = D["draws"],
                 warmup: int = D["warmup"], chains: int = D["chains"], random_state=None,
                 algorithm: str | None = D["algorithm"], overrelax: float = D["overrelax"]) -> None:
        self._store(locals())

    def _prior(self) -> GaussianPrior:
        return GaussianPrior(_scale(self.scale, "s, the Gaussian prior's sd"),
                             check_prior("scale_prior", self.scale_prior, "the inverse-gamma prior on s^2"))

    def _closed_form(self) -> bool:
        return self.scale is not None

    def _exact(self, source: _Arrays | _Statistics, mu: NDArray, noise_sd: float | None, scale: float) -> ClosedForm:
        """The closed-form posterior at the given sigma (or sigma learned) and s."""
        gram, xtr, rtr = source.moments(mu)
        dof = source.n - int(bool(self.fit_intercept))
        return closed_form(gram, xtr, rtr, dof, mu, noise_sd, scale, check_prior("noise_prior", self.noise_prior))

    def _sample(self, source: _Arrays | _Statistics, mu: NDArray, draws: int, rng: np.random.Generator) -> GibbsResult:
        """Independent draws from the closed form when s is given; else the Gibbs kernel."""
        if self.scale is None:
            return super()._sample(source, mu, draws, rng)
        prior = self._prior()
        sd = None if self.noise_sd is None else positive_scalar("noise_sd", self.noise_sd, what="sigma")
        exact = self._exact(source, mu, sd, prior.scale)
        w, sigma = exact.sample(self.chains, draws, rng)
        return GibbsResult(draws=w, rb_mean=np.tile(exact.mean, (self.chains, 1)), noise_sd=sigma,
                           algorithm="closed form")

    def _point_estimates(self, source: _Arrays | _Statistics, mu: NDArray) -> None:
        """The closed form (s given) and the MAP: ridge at sigma and s given or at their posterior medians."""
        s = self.scale if self.scale is not None else self.scale_summary_["median"]
        sd = self.noise_sd
        if self.scale is not None:
            self.closed_form_ = self._exact(source, mu, sd, s)
            self.coef_mean_, self.coef_sd_ = self.closed_form_.mean, self.closed_form_.sd()
            if hasattr(self, "mcse_"):
                self.mcse_ = np.zeros_like(self.coef_mean_)  # the mean is exact
        # given sigma and s, the posterior mean of the Normal-Normal model; with sigma learned it is free of sigma
        self.coef_map_ = self._exact(source, mu, sd, s).mean
        self.alpha_ = (sd / s) ** 2 if sd is not None else 1.0 / s**2
        self.map_at_ = {"noise_sd": sd, "scale": s,
                        "noise_sd_from": "given" if sd is not None else "not needed (the MAP is free of sigma)",
                        "scale_from": "given" if self.scale is not None else "posterior median"}
        self.intercept_map_ = float(self.y_mean_ - self.x_mean_ @ self.coef_map_)
