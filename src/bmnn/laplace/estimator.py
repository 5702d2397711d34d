"""``LaplaceRegression``: the job-2 model as a scikit-learn-style estimator, with sigma and tau given (the
material's model) or learned."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bmnn._checks import InputError, NotFittedError, as_float_array, as_generator, count
from bmnn.laplace.diagnostics import interval, summarize
from bmnn.laplace.gibbs import DEFAULT_OVERRELAX, DEFAULT_SCALE_PRIOR, gibbs, power_of_four
from bmnn.laplace.map import map_estimate
from bmnn.laplace.posterior import lambda_from_tau, log_posterior, tau_star, validate_design, validate_location


class LaplaceRegression:
    """Bayesian linear regression with an independent Laplace prior on each weight.

    Model: ``y = X w + eps``, ``eps ~ N(0, sigma^2 I)``, ``w_j ~ Laplace(mu_j, b)`` with ``b = tau`` when sigma is
    given (the material's model: ``p(w) = prod_j (1/(2 tau)) exp(-|w_j - mu_j| / tau)``) and ``b = sigma tau``
    when sigma is learned (Park & Casella's Bayesian lasso, whose scaling keeps the joint posterior unimodal).
    No intercept is fitted (the material's model has none): centre or augment ``X`` yourself.

    The MAP minimises ``(1/2) ||y - X w||^2 + lambda ||w - mu||_1`` with ``lambda = sigma^2 / b``; in
    scikit-learn's scaling, ``(1/(2N)) ||y - X w||^2 + alpha ||w||_1``, that is ``alpha = lambda / N`` on the
    shifted problem ``(y - X mu, w - mu)``. The MAP is defined for given sigma and tau: where either is learned, the
    MAP (and tau*) are computed at their posterior medians, and ``map_at_`` says so. The posterior comes from the
    Gibbs sampler of :mod:`bmnn.laplace.gibbs`.

    Parameters
    ----------
    noise_sd : float or None
        sigma, the noise standard deviation; ``None`` learns it (prior ``noise_prior``).
    scale : float or None
        tau, the Laplace prior's scale; ``None`` learns it (prior ``scale_prior`` on ``1 / tau``).
    location : float or array of shape (p,), default 0
        mu, the Laplace prior's location (prior knowledge enters here).
    scale_prior : (a, b), default (1, 1)
        Gamma shape and rate of the prior on ``1 / tau``.
    noise_prior : (a0, b0) or None
        Inverse-gamma shape and scale of the prior on sigma^2; ``None``: Jeffreys' ``1 / sigma^2``.
    draws, warmup, chains : int
        Gibbs settings; ``draws = 0`` skips sampling (MAP only; needs sigma and tau given).
    seed : int or numpy Generator, optional
    algorithm : "precision", "bcm" or None
        The Gaussian conditional draw (:mod:`bmnn.laplace.gaussian_draw`); ``None`` picks the cheaper.
    overrelax : float in (-1, 0], default -0.5
        alpha of the over-relaxed Gaussian step (:mod:`bmnn.laplace.gibbs`); 0 is the plain Gibbs sampler.
    coordinate_steps : int >= 0 or None
        Collapsed coordinate steps per sweep after warm-up (:mod:`bmnn.laplace.gibbs`); ``None`` by its cost model,
        0 none.

    Attributes
    ----------
    coef_map_ : ndarray (p,)
    lambda_ : float
    tau_star_ : float
        Below it the MAP is exactly ``location``.
    kkt_violation_ : ndarray (p,)
        The MAP's optimality certificate per coefficient, relative to lambda.
    map_at_ : dict
        The sigma and tau the MAP was computed at, and whether each was given or a posterior median.
    coef_mean_, coef_sd_, mcse_, ess_bulk_, rhat_ : ndarray (p,)
        After sampling.
    draws_ : ndarray (chains, draws, p)
    noise_sd_draws_, scale_draws_ : ndarray (chains, draws)
        Where learned.
    noise_sd_summary_, scale_summary_ : dict
        Where learned: mean, sd, median, 90% interval, MCSE, bulk ESS, R-hat.
    """

    def __init__(self, noise_sd: float | None = None, scale: float | None = None, location: float | ArrayLike = 0.0,
                 *, scale_prior: tuple[float, float] = DEFAULT_SCALE_PRIOR,
                 noise_prior: tuple[float, float] | None = None, draws: int = 2000, warmup: int = 500,
                 chains: int = 16, seed: int | np.random.Generator | None = None, algorithm: str | None = None,
                 overrelax: float = DEFAULT_OVERRELAX, coordinate_steps: int | None = None) -> None:
        self.noise_sd = noise_sd
        self.scale = scale
        self.location = location
        self.scale_prior = scale_prior
        self.noise_prior = noise_prior
        self.draws = draws
        self.warmup = warmup
        self.chains = chains
        self.seed = seed
        self.algorithm = algorithm
        self.overrelax = overrelax
        self.coordinate_steps = coordinate_steps

    _SAMPLED = ("coef_mean_", "coef_sd_", "mcse_", "ess_bulk_", "rhat_", "draws_", "noise_sd_draws_", "scale_draws_",
                "noise_sd_summary_", "scale_summary_", "coef_rb_mean_")

    def fit(self, X: ArrayLike, y: ArrayLike, feature_names: list[str] | None = None) -> LaplaceRegression:
        """Sample the posterior (unless ``draws = 0``) and compute the MAP. Returns ``self``."""
        X, y = validate_design(X, y)
        mu = validate_location(self.location, X.shape[1])

        def sample(draws):
            return gibbs(X, y, self.noise_sd, self.scale, mu, draws=draws, warmup=self.warmup, chains=self.chains,
                         seed=self.seed, scale_prior=self.scale_prior, noise_prior=self.noise_prior,
                         algorithm=self.algorithm, overrelax=self.overrelax,
                         coordinate_steps=self.coordinate_steps)

        def map_at(s, b, e):  # the data, sigma, b and mu in units of 2^-e (exact), back in the data's units
            res = map_estimate(X, np.ldexp(y, e), np.ldexp(s, e), np.ldexp(b, e), np.ldexp(mu, e))
            return np.ldexp(res.coef, -e), res.kkt_violation

        self._fit(X.shape[1], mu, feature_names, sample, map_at,
                  lambda s, e: float(np.ldexp(tau_star(X, np.ldexp(y, e), np.ldexp(s, e), np.ldexp(mu, e)), -e)))
        self._Xy = (X, y)
        return self

    def fit_statistics(self, gram: ArrayLike, xty: ArrayLike, yty: float, n: int,
                       feature_names: list[str] | None = None) -> LaplaceRegression:
        """:meth:`fit` from the sufficient statistics ``X^T X``, ``X^T y``, ``y^T y`` and the row count ``n``
        alone (data bigger than memory, see :func:`bmnn.datasets.table_moments`; the p x p draw, so n >= p is
        expected). Returns ``self``; :meth:`log_posterior` then needs the rows and is not available."""
        from bmnn.laplace.gibbs import gibbs_from_statistics
        from bmnn.laplace.map import map_from_statistics

        G = as_float_array("gram", gram, what="X^T X")
        q = as_float_array("xty", xty, what="X^T y")
        if G.ndim != 2 or G.shape != (q.shape[0], q.shape[0]):
            raise InputError(f"gram must be (p, p) with p = len(xty) = {q.shape[0]}, got shape {G.shape}")
        mu = validate_location(self.location, q.shape[0])
        if self.algorithm == "bcm":
            raise InputError("algorithm 'bcm' needs the rows of X; from the statistics only the p x p draw "
                             "('precision') is possible", param="algorithm")

        def sample(draws):
            return gibbs_from_statistics(G, q, yty, n, self.noise_sd, self.scale, mu, draws=draws,
                                         warmup=self.warmup, chains=self.chains, seed=self.seed,
                                         scale_prior=self.scale_prior, noise_prior=self.noise_prior,
                                         overrelax=self.overrelax, coordinate_steps=self.coordinate_steps)

        def map_at(s, b, e):  # X^T y, sigma, b and mu in units of 2^-e, as in fit
            res = map_from_statistics(G, np.ldexp(q, e), np.ldexp(s, e), np.ldexp(b, e), np.ldexp(mu, e))
            return np.ldexp(res.coef, -e), res.kkt_violation

        def star(s, e):
            g = float(np.max(np.abs(np.ldexp(q, e) - G @ np.ldexp(mu, e))))
            return np.inf if g == 0 else float(np.ldexp(np.ldexp(s, e) ** 2 / g, -e))

        self._fit(q.shape[0], mu, feature_names, sample, map_at, star)
        self.__dict__.pop("_Xy", None)
        return self

    def _fit(self, p, mu, feature_names, sample, map_at, tau_star_at) -> None:
        draws = count("draws", self.draws, minimum=0)
        learned = self.noise_sd is None or self.scale is None
        if draws == 0 and learned:
            raise InputError("draws must be >= 1 when noise_sd or scale is learned (the MAP is taken at their "
                             "posterior medians)")
        for attr in self._SAMPLED:
            self.__dict__.pop(attr, None)
        self.n_features_in_ = p
        self.feature_names_in_ = _feature_names(feature_names, p)
        self.location_ = mu
        s, t = self.noise_sd, self.scale
        if draws > 0:
            g = sample(draws)
            d = g.diagnostics()
            self.draws_, self.algorithm_ = g.draws, g.algorithm
            self.coef_mean_, self.coef_sd_ = d["mean"], d["sd"]
            self.mcse_, self.ess_bulk_, self.rhat_ = d["mcse"], d["ess_bulk"], d["rhat"]
            self.coef_rb_mean_ = g.rb_mean.mean(axis=0)
            if g.noise_sd is not None:
                self.noise_sd_draws_, self.noise_sd_summary_ = g.noise_sd, _summary(g.noise_sd)
                s = self.noise_sd_summary_["median"]
            if g.scale is not None:
                self.scale_draws_, self.scale_summary_ = g.scale, _summary(g.scale)
                t = self.scale_summary_["median"]
        # the MAP's Laplace scale b: tau, or sigma tau under the scaled prior of learned sigma
        b = t if self.noise_sd is not None else s * t
        # learned sigma: the MAP problem is solved in units where sigma is near 1 (it is equivariant under scaling
        # y, mu, sigma and b together; a power of two, so exact), whatever the scale of y
        e = 0 if self.noise_sd is not None else power_of_four(s)
        self.coef_map_, self.kkt_violation_ = map_at(s, b, e)
        self.map_at_ = {"noise_sd": s, "scale": t,
                        "noise_sd_from": "given" if self.noise_sd is not None else "posterior median",
                        "scale_from": "given" if self.scale is not None else "posterior median"}
        self.lambda_ = lambda_from_tau(s, b) if self.noise_sd is not None else s / t  # sigma^2 / (sigma tau)
        ts = tau_star_at(s, e)  # the threshold on b; in units of tau it is b* / sigma under the scaled prior
        self.tau_star_ = ts if self.noise_sd is not None else ts / s

    def _require(self, attr: str) -> None:
        if not hasattr(self, attr):
            hint = "call fit(X, y) first" if not hasattr(self, "coef_map_") else "fit with draws > 0 to sample"
            raise NotFittedError(f"this LaplaceRegression has no {attr}: {hint}")

    def _check_X(self, X: ArrayLike) -> NDArray[np.float64]:
        X = as_float_array("X", X, what="the design matrix")
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(f"X must have shape (N, {self.n_features_in_}), got {X.shape}")
        return X

    def log_posterior(self, w: ArrayLike) -> NDArray[np.float64]:
        """The unnormalised log posterior at ``w`` (shape ``(..., p)``), on the fitted data, at the sigma and tau of
        the MAP (given, or posterior medians)."""
        self._require("_Xy")
        X, y = self._Xy
        s, t = self.map_at_["noise_sd"], self.map_at_["scale"]
        b = t if self.noise_sd is not None else s * t
        return log_posterior(w, X, y, s, b, self.location_)

    def predict(self, X: ArrayLike, estimator: Literal["mean", "map"] = "mean", return_std: bool = False):
        """``X @ w_hat`` with ``w_hat`` the posterior mean (default) or the MAP.

        With ``return_std`` (scikit-learn's ``BayesianRidge`` convention), also the sd of the posterior predictive
        of a new observation at each row: ``sqrt(Var_draws(x^T w) + E[sigma^2])`` (estimated from the draws).
        """
        if estimator not in ("mean", "map"):
            raise InputError(f"estimator must be 'mean' or 'map', got {estimator!r}")
        attr = "coef_mean_" if estimator == "mean" else "coef_map_"
        self._require(attr)
        X = self._check_X(X)
        mean = X @ getattr(self, attr)
        if not return_std:
            return mean
        self._require("draws_")
        w = self.draws_.reshape(-1, self.n_features_in_)
        var = np.empty(X.shape[0])
        for i in range(0, X.shape[0], 1024):  # in blocks of rows, so memory stays draws x 1024
            f = w @ X[i:i + 1024].T
            var[i:i + 1024] = f.var(axis=0, ddof=1)
        noise2 = float(np.mean(self.noise_sd_draws_ ** 2)) if hasattr(self, "noise_sd_draws_") else float(
            self.noise_sd) ** 2
        return mean, np.sqrt(var + noise2)

    def predict_interval(self, X: ArrayLike, level: float = 0.9,
                         seed: int | np.random.Generator | None = 0) -> tuple[NDArray, NDArray]:
        """The equal-tailed ``level`` interval of the posterior predictive of a new observation at each row of
        ``X``, from the draws (each draw ``x^T w_s + sigma_s z_s``)."""
        self._require("draws_")
        X = self._check_X(X)
        rng = as_generator(seed)
        w = self.draws_.reshape(-1, self.n_features_in_)
        sig = (self.noise_sd_draws_.reshape(-1) if hasattr(self, "noise_sd_draws_")
               else np.full(w.shape[0], float(self.noise_sd)))
        lo, hi = np.empty(X.shape[0]), np.empty(X.shape[0])
        for i in range(0, X.shape[0], 1024):
            f = w @ X[i:i + 1024].T + sig[:, None] * rng.standard_normal((w.shape[0], min(1024, X.shape[0] - i)))
            lo[i:i + 1024], hi[i:i + 1024] = interval(f[None], level)
        return lo, hi

    def coef_interval(self, level: float = 0.9) -> tuple[NDArray, NDArray]:
        """The equal-tailed ``level`` credible interval of every coefficient, from the draws."""
        self._require("draws_")
        return interval(self.draws_, level)

    def to_inference_data(self):
        """The draws as an ArviZ ``InferenceData`` (group ``posterior``: ``w`` with dimension ``feature``, and
        ``sigma``, ``tau`` where learned), so ArviZ's summaries and plots work."""
        self._require("draws_")
        from bmnn.laplace.diagnostics import _arviz

        az = _arviz()
        post = {"w": self.draws_}
        if hasattr(self, "noise_sd_draws_"):
            post["sigma"] = self.noise_sd_draws_
        if hasattr(self, "scale_draws_"):
            post["tau"] = self.scale_draws_
        return az.from_dict(posterior=post, coords={"feature": self.feature_names_in_}, dims={"w": ["feature"]})


def _summary(draws: NDArray) -> dict[str, float]:
    d = summarize(draws)
    lo, hi = interval(draws, 0.9)
    return {"mean": float(d["mean"]), "sd": float(d["sd"]), "median": float(np.median(draws)), "q05": float(lo),
            "q95": float(hi), "mcse": float(d["mcse"]), "ess_bulk": float(d["ess_bulk"]), "rhat": float(d["rhat"])}


def _feature_names(names, p: int) -> list[str]:
    """``names`` checked: one string per column (``x0``, ``x1``, ... when ``None``)."""
    if names is None:
        return [f"x{j}" for j in range(p)]
    if isinstance(names, str) or not hasattr(names, "__len__"):
        raise InputError(f"feature_names must be a list of p = {p} names, got {names!r:.80}")
    names = [str(v) for v in names]
    if len(names) != p:
        raise InputError(f"feature_names must have one name per column of X (p = {p}), got {len(names)}")
    return names
