"""``LaplaceRegression``: the job-2 model as a scikit-learn-style estimator."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bmnn._checks import InputError, NotFittedError, as_float_array, count
from bmnn.laplace.gibbs import gibbs
from bmnn.laplace.map import map_estimate
from bmnn.laplace.posterior import lambda_from_tau, log_posterior, tau_star, validate_problem


class LaplaceRegression:
    """Bayesian linear regression with known noise sd and an independent Laplace prior on each weight.

    Model: ``y = X w + eps``, ``eps ~ N(0, sigma^2 I)``, ``p(w) = prod_j (1/(2 tau)) exp(-|w_j - mu_j| / tau)``.
    No intercept is fitted (the material's model has none): centre or augment ``X`` yourself.

    The MAP minimises ``(1/2) ||y - X w||^2 + lambda ||w - mu||_1`` with ``lambda = sigma^2 / tau``; in
    scikit-learn's scaling, ``(1/(2N)) ||y - X w||^2 + alpha ||w||_1``, that is ``alpha = lambda / N`` on the
    shifted problem ``(y - X mu, w - mu)``. The posterior mean comes from the Gibbs sampler of
    :mod:`bmnn.laplace.gibbs`.

    Parameters
    ----------
    noise_sd : float
        sigma, the known noise standard deviation.
    scale : float
        tau, the Laplace prior's scale.
    location : float or array of shape (p,), default 0
        mu, the Laplace prior's location (prior knowledge enters here).
    draws, warmup, chains : int
        Gibbs settings; ``draws = 0`` skips sampling (MAP only).
    seed : int or numpy Generator, optional

    Attributes
    ----------
    coef_map_ : ndarray (p,)
    lambda_ : float
    tau_star_ : float
        Below it the MAP is exactly ``location``.
    kkt_violation_ : ndarray (p,)
        The MAP's optimality certificate per coefficient, relative to lambda.
    coef_mean_, coef_sd_, mcse_, ess_bulk_, rhat_ : ndarray (p,)
        After sampling.
    draws_ : ndarray (chains, draws, p)
    """

    def __init__(self, noise_sd: float, scale: float, location: float | ArrayLike = 0.0, *, draws: int = 2000,
                 warmup: int = 500, chains: int = 16, seed: int | np.random.Generator | None = None) -> None:
        self.noise_sd = noise_sd
        self.scale = scale
        self.location = location
        self.draws = draws
        self.warmup = warmup
        self.chains = chains
        self.seed = seed

    def fit(self, X: ArrayLike, y: ArrayLike) -> LaplaceRegression:
        """Compute the MAP and (unless ``draws = 0``) sample the posterior. Returns ``self``."""
        X, y, s, t, mu = validate_problem(X, y, self.noise_sd, self.scale, self.location)
        draws = count("draws", self.draws, minimum=0)
        res = map_estimate(X, y, s, t, mu)
        self.n_features_in_ = X.shape[1]
        self.location_ = mu
        self.lambda_ = lambda_from_tau(s, t)
        self.tau_star_ = tau_star(X, y, s, mu)
        self.coef_map_ = res.coef
        self.kkt_violation_ = res.kkt_violation
        for attr in ("coef_mean_", "coef_sd_", "mcse_", "ess_bulk_", "rhat_", "draws_"):
            self.__dict__.pop(attr, None)
        if draws > 0:
            g = gibbs(X, y, s, t, mu, draws=draws, warmup=self.warmup, chains=self.chains, seed=self.seed)
            d = g.diagnostics()
            self.draws_ = g.draws
            self.coef_mean_, self.coef_sd_ = d["mean"], d["sd"]
            self.mcse_, self.ess_bulk_, self.rhat_ = d["mcse"], d["ess_bulk"], d["rhat"]
        self._Xy = (X, y)
        return self

    def log_posterior(self, w: ArrayLike) -> NDArray[np.float64]:
        """The unnormalised log posterior at ``w`` (shape ``(..., p)``), on the fitted data."""
        if not hasattr(self, "_Xy"):
            raise NotFittedError("this LaplaceRegression is not fitted: call fit(X, y) first")
        X, y = self._Xy
        return log_posterior(w, X, y, self.noise_sd, self.scale, self.location_)

    def predict(self, X: ArrayLike, estimator: Literal["mean", "map"] = "mean") -> NDArray[np.float64]:
        """``X @ w_hat`` with ``w_hat`` the posterior mean (default) or the MAP."""
        if estimator not in ("mean", "map"):
            raise InputError(f"estimator must be 'mean' or 'map', got {estimator!r}")
        attr = "coef_mean_" if estimator == "mean" else "coef_map_"
        if not hasattr(self, attr):
            hint = "call fit(X, y) first" if not hasattr(self, "coef_map_") else "fit with draws > 0 to sample"
            raise NotFittedError(f"this LaplaceRegression has no {attr}: {hint}")
        X = as_float_array("X", X, what="the design matrix")
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(f"X must have shape (N, {self.n_features_in_}), got {X.shape}")
        return X @ getattr(self, attr)
