"""``LaplaceRegression``: the job-2 model as a scikit-learn regressor, with sigma and tau given (the material's
model) or learned, and an intercept with a flat prior (scikit-learn's default) or none (the material's model).

It is a ``RegressorMixin`` + ``BaseEstimator``: parameters are stored as given and checked in ``fit``, the seed is
``random_state``, named columns are remembered and checked at ``predict``, ``score`` is R^2, and scikit-learn's own
``check_estimator`` passes; so ``clone``, ``Pipeline``, ``cross_val_score`` and ``GridSearchCV`` work. scikit-learn
is imported with this module, not with ``import bmnn``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFitted
from sklearn.utils.validation import validate_data

from bmnn._checks import InputError, as_float_array, check_memory, count
from bmnn._checks import NotFittedError as _BmnnNotFitted
from bmnn.laplace.diagnostics import interval, quantile_mcse, summarize
from bmnn.laplace.gibbs import Data, GibbsResult, Noise, laplace_prior, power_of_four, run
from bmnn.laplace.map import map_estimate, map_from_statistics
from bmnn.laplace.posterior import lambda_from_tau, log_posterior, tau_star, validate_design, validate_location
from bmnn.laplace.priors.laplace import LaplacePrior
from bmnn.laplace.settings import DEFAULTS, SamplerSettings, check_settings
from bmnn.laplace.settings import DEFAULTS as D


class NotFittedError(_BmnnNotFitted, _SklearnNotFitted):
    """The estimator was used before ``fit`` (scikit-learn's ``NotFittedError``, and bmnn's)."""


def as_rng(random_state) -> np.random.Generator:
    """A numpy Generator from whatever scikit-learn's ``check_random_state`` accepts (None, an int, a
    ``RandomState``) or a ``Generator``; the same ``random_state`` gives the same Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1, size=4))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return np.random.default_rng(int(random_state))
    raise InputError(f"random_state must be None, a non-negative integer, a numpy RandomState or Generator, got "
                     f"{random_state!r:.80}", param="random_state")

class PosteriorRegression(RegressorMixin, BaseEstimator):
    """The shared part of the Bayesian linear regressions of :mod:`bmnn.laplace` (one prior each: Laplace,
    horseshoe, Gaussian): fitting from rows or from sufficient statistics, the intercept with a flat prior, the
    posterior summaries and diagnostics, prediction with its sd and intervals, coefficient intervals, and ArviZ
    InferenceData. A subclass names its prior (``_prior_name``: its rows of :mod:`bmnn.laplace.settings`), builds
    the kernel's prior (``_prior``) and adds its point estimates (``_point_estimates``)."""

    _prior_name = "laplace"
    #: the scale's name in ArviZ's posterior group
    _scale_symbol = "tau"
    #: why the model has no MAP ("" where it has one)
    _no_map = ""

    def _store(self, values: dict) -> None:
        """``__init__``'s work, as scikit-learn asks: each parameter stored as given, nothing checked."""
        for name in self._get_param_names():
            setattr(self, name, values[name])

    def _forget(self) -> None:
        """Drop every fitted attribute, so that a refit that fails leaves no half of an earlier fit behind."""
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            del self.__dict__[attr]

    def _check_settings(self) -> bool:
        """The settings checked against their declarations (:mod:`bmnn.laplace.settings`); whether to fit an
        intercept."""
        check_settings({k: (bool(v) if isinstance(v, np.bool_) else v) for k, v in self.get_params().items()},
                       self._prior_name)
        return bool(self.fit_intercept)

    def fit(self, X: ArrayLike, y: ArrayLike, feature_names: list[str] | None = None) -> PosteriorRegression:
        """Sample the posterior (unless ``draws = 0``) and compute the MAP. ``X`` may be a table with named columns
        (they are then checked at :meth:`predict`); ``feature_names`` names the coefficients in summaries and
        ArviZ (default: the table's names, else ``x0``, ``x1``, ...). Returns ``self``."""
        self._forget()
        intercept = self._check_settings()
        X, y = _validate(self, X, y, fitting=True)
        X, y = validate_design(X, y)
        n, p = X.shape
        if intercept and n < 2:
            raise InputError(f"n_samples = {n}: an intercept needs at least 2 samples (with one, the data cannot "
                             "tell the intercept from the weights); pass fit_intercept=False", param="X")
        mu = validate_location(self.location, p)
        x_mean, y_mean = (X.mean(axis=0), float(y.mean())) if intercept else (np.zeros(p), 0.0)
        Xc, yc = (X - x_mean, y - y_mean) if intercept else (X, y)
        self._fit(_Arrays(Xc, yc), mu, (x_mean, y_mean), feature_names)
        return self

    def fit_statistics(self, gram: ArrayLike, xty: ArrayLike, yty: float, n: int, *,
                       x_mean: ArrayLike | None = None, y_mean: float | None = None, centered: bool = False,
                       feature_names: list[str] | None = None) -> PosteriorRegression:
        """:meth:`fit` from the sufficient statistics ``X^T X``, ``X^T y``, ``y^T y`` and the row count ``n``
        alone (data bigger than memory, see :func:`bmnn.datasets.table_moments`; the p x p draw, so n >= p is
        expected). With ``fit_intercept``, also the column means ``x_mean`` and ``y_mean``; the statistics are then
        centred here, or given centred (``centered=True``: ``(X - mean)^T (X - mean)`` and so on, which keeps every
        digit when the means are large). Returns ``self``."""
        self._forget()
        G = as_float_array("gram", gram, what="X^T X")
        q = as_float_array("xty", xty, what="X^T y")
        if G.ndim != 2 or q.ndim != 1 or G.shape != (q.shape[0], q.shape[0]):
            raise InputError(f"gram must be (p, p) with p = len(xty) = {q.shape[0]}, got shape {G.shape}")
        p, n = q.shape[0], count("n", n)
        intercept = self._check_settings()
        if intercept:
            if x_mean is None or y_mean is None:
                raise InputError("with fit_intercept, fit_statistics needs the column means x_mean and y_mean "
                                 "(or pass fit_intercept=False)", param="x_mean")
            xm = as_float_array("x_mean", x_mean, what="the column means of X").reshape(-1)
            ym = float(as_float_array("y_mean", y_mean, what="the mean of y"))
            if xm.shape != (p,):
                raise InputError(f"x_mean must have p = {p} entries, got {xm.shape[0]}", param="x_mean")
            if n < 2:
                raise InputError(f"n_samples = {n}: an intercept needs at least 2 samples", param="n")
            if not centered:
                G, q, yty = G - n * np.outer(xm, xm), q - n * xm * ym, float(yty) - n * ym * ym
        else:
            xm, ym = np.zeros(p), 0.0
        mu = validate_location(self.location, p)
        if self.algorithm == "bcm":
            raise InputError("algorithm 'bcm' needs the rows of X; from the statistics only the p x p draw "
                             "('precision') is possible", param="algorithm")
        self.n_features_in_ = p
        self._fit(_Statistics(G, q, yty, n), mu, (xm, ym), feature_names)
        return self

    def _sample(self, source: _Arrays | _Statistics, mu: NDArray, draws: int, rng: np.random.Generator) -> GibbsResult:
        """The posterior draws: the Gibbs sampler's driver (:func:`bmnn.laplace.gibbs.run`) with this prior."""
        noise = Noise.checked(self.noise_sd, self.noise_prior)
        settings = SamplerSettings(**{k: getattr(self, k, DEFAULTS[k]) for k in SamplerSettings.names()}
                                   | {"draws": draws})
        data = source.data(mu, noise, settings.algorithm, bool(self.fit_intercept))
        return run(data, self._prior(), noise, settings, rng)

    def _fit(self, source: _Arrays | _Statistics, mu: NDArray, means: tuple, feature_names) -> None:
        """The shared part of :meth:`fit` and :meth:`fit_statistics`: sampling (:func:`bmnn.laplace.gibbs.run`),
        the posterior summaries, the intercept's draws, and the point estimates."""
        n, p = source.n, mu.shape[0]
        draws = count("draws", self.draws, minimum=0)
        if draws == 0 and not self._closed_form():
            raise InputError(self._draws_needed)
        rng = as_rng(self.random_state)
        self.coef_names_ = _feature_names(feature_names if feature_names is not None else
                                          getattr(self, "feature_names_in_", None), p)
        self.location_ = mu
        self.n_samples_ = n
        self.x_mean_, self.y_mean_ = means
        if draws > 0:
            self._keep(self._sample(source, mu, draws, rng), rng)
        self._point_estimates(source, mu)
        self.coef_ = self.coef_mean_ if draws > 0 else self.coef_map_
        self.intercept_ = float(self.y_mean_ - self.x_mean_ @ self.coef_)

    #: why draws = 0 is refused for this fit
    _draws_needed = "draws must be >= 1 when noise_sd or scale is learned (the MAP is taken at their posterior medians)"

    def _keep(self, g: GibbsResult, rng: np.random.Generator) -> None:
        """The draws and their summaries as fitted attributes; the intercept's draws."""
        d = g.diagnostics()
        self.draws_, self.algorithm_ = g.draws, g.algorithm
        self.coef_mean_, self.coef_sd_ = d["mean"], d["sd"]
        self.mcse_, self.ess_bulk_, self.rhat_ = d["mcse"], d["ess_bulk"], d["rhat"]
        self.coef_rb_mean_ = g.rb_mean.mean(axis=0)
        if g.noise_sd is not None:
            self.noise_sd_draws_, self.noise_sd_summary_ = g.noise_sd, _summary(g.noise_sd)
        if g.scale is not None:
            self.scale_draws_, self.scale_summary_ = g.scale, _summary(g.scale)
        if self.fit_intercept:  # b0 | w, sigma, y ~ N(mean y - mean(X)^T w, sigma^2 / n), one per draw
            sig = self.noise_sd_draws_ if g.noise_sd is not None else float(self.noise_sd)
            z = rng.standard_normal(g.draws.shape[:2])
            self.intercept_draws_ = self.y_mean_ - g.draws @ self.x_mean_ + sig * z / np.sqrt(self.n_samples_)

    def _require(self, attr: str) -> None:
        if not hasattr(self, attr):
            hint = "call fit(X, y) first" if not hasattr(self, "coef_") else "fit with draws > 0 to sample"
            raise NotFittedError(f"this {type(self).__name__} has no {attr}: {hint}")

    def _check_X(self, X: ArrayLike) -> NDArray[np.float64]:
        self._require("coef_")
        return _validate(self, X)  # names and width checked as scikit-learn does

    def predict(self, X: ArrayLike, estimator: Literal["mean", "map"] | None = None, return_std: bool = False):
        """``intercept + X @ w_hat`` with ``w_hat`` the posterior mean (``"mean"``) or the MAP (``"map"``); by
        default ``coef_``: the posterior mean, or the MAP when the model was fitted with ``draws = 0``.

        With ``return_std`` (scikit-learn's ``BayesianRidge`` convention), also the sd of the posterior predictive
        of a new observation at each row: ``sqrt(Var_draws(b0 + x^T w) + E[sigma^2])`` (estimated from the draws).
        """
        if estimator not in ("mean", "map", None):
            raise InputError(f"estimator must be 'mean' or 'map', got {estimator!r}")
        if estimator is None:
            self._require("coef_")
            estimator = "mean" if hasattr(self, "coef_mean_") else "map"
        attr = "coef_mean_" if estimator == "mean" else "coef_map_"
        if attr == "coef_map_" and self._no_map:
            raise InputError(f"{type(self).__name__} has no MAP: {self._no_map}", param="estimator")
        self._require(attr)
        X = self._check_X(X)
        mean = X @ getattr(self, attr) + (self.intercept_ if estimator == "mean" else self.intercept_map_)
        if not return_std:
            return mean
        self._require("draws_")
        w, b0 = self._flat_draws()
        var = np.empty(X.shape[0])
        for i in range(0, X.shape[0], 1024):  # in blocks of rows, so memory stays draws x 1024
            f = w @ X[i:i + 1024].T + b0[:, None]
            var[i:i + 1024] = f.var(axis=0, ddof=1)
        noise2 = float(np.mean(self.noise_sd_draws_ ** 2)) if hasattr(self, "noise_sd_draws_") else float(
            self.noise_sd) ** 2
        return mean, np.sqrt(var + noise2)

    def _flat_draws(self) -> tuple[NDArray, NDArray]:
        w = self.draws_.reshape(-1, self.n_features_in_)
        b0 = self.intercept_draws_.reshape(-1) if hasattr(self, "intercept_draws_") else np.zeros(w.shape[0])
        return w, b0

    def _sigma_draws(self, size: int) -> NDArray:
        return (self.noise_sd_draws_.reshape(-1) if hasattr(self, "noise_sd_draws_")
                else np.full(size, float(self.noise_sd)))

    def predict_interval(self, X: ArrayLike, level: float = 0.9, random_state=0) -> tuple[NDArray, NDArray]:
        """The equal-tailed ``level`` interval of the posterior predictive of a new observation at each row of
        ``X``, from the draws (each draw ``b0_s + x^T w_s + sigma_s z_s``)."""
        self._require("draws_")
        X = self._check_X(X)
        rng = as_rng(random_state)
        w, b0 = self._flat_draws()
        sig = self._sigma_draws(w.shape[0])
        lo, hi = np.empty(X.shape[0]), np.empty(X.shape[0])
        for i in range(0, X.shape[0], 1024):
            f = (w @ X[i:i + 1024].T + b0[:, None]
                 + sig[:, None] * rng.standard_normal((w.shape[0], min(1024, X.shape[0] - i))))
            lo[i:i + 1024], hi[i:i + 1024] = interval(f[None], level)
        return lo, hi

    def coef_interval(self, level: float = 0.9) -> tuple[NDArray, NDArray]:
        """The equal-tailed ``level`` credible interval of every coefficient, from the draws."""
        self._require("draws_")
        return interval(self.draws_, level)

    def to_inference_data(self, X: ArrayLike | None = None, y: ArrayLike | None = None, *, random_state=0,
                          source: str | None = None):
        """The draws as an ArviZ ``InferenceData``: group ``posterior`` (``w`` with dimension ``feature`` named by
        ``coef_names_``; ``intercept``, ``sigma``, ``tau`` where present); with the data ``X``, ``y`` also
        ``observed_data``, ``log_likelihood`` (pointwise, for ``az.loo`` and ``az.waic``) and
        ``posterior_predictive`` (one replicate of y per draw, for ``az.plot_ppc``), after a check that the
        chains x draws x n values fit in memory. The settings (and ``source``, a name for the data) are in
        ``attrs``."""
        self._require("draws_")
        from bmnn.laplace.diagnostics import _arviz

        az = _arviz()
        post = {"w": self.draws_}
        for name, attr in (("intercept", "intercept_draws_"), ("sigma", "noise_sd_draws_"),
                           (self._scale_symbol, "scale_draws_")):
            if hasattr(self, attr):
                post[name] = getattr(self, attr)
        groups, dims = {"posterior": post}, {"w": ["feature"]}
        if (X is None) != (y is None):
            raise InputError("to_inference_data needs both X and y for the data groups, or neither", param="X")
        if X is not None:
            X = self._check_X(X)
            y = validate_design(X, as_float_array("y", y, what="the targets").reshape(-1))[1]
            chains, draws = self.draws_.shape[:2]
            check_memory(8.0 * 3 * chains * draws * X.shape[0],
                         f"the means, log likelihood and predictive replicates: 3 x chains x draws x n = 3 x {chains} "
                         f"x {draws} x {X.shape[0]} values")
            w, b0 = self._flat_draws()
            sig = self._sigma_draws(w.shape[0])[:, None]
            mean = w @ X.T + b0[:, None]
            loglik = -0.5 * ((y - mean) / sig) ** 2 - np.log(sig) - 0.5 * np.log(2 * np.pi)
            rep = mean + sig * as_rng(random_state).standard_normal(mean.shape)
            shape = (chains, draws, X.shape[0])
            groups.update(observed_data={"y": y}, log_likelihood={"y": loglik.reshape(shape)},
                          posterior_predictive={"y": rep.reshape(shape)})
            dims["y"] = ["obs"]
        idata = az.from_dict(**groups, coords={"feature": self.coef_names_}, dims=dims)
        attrs = {"model": f"bmnn {type(self).__name__}", "source": source or "",
                 **{k: repr(v) for k, v in self.get_params().items()}}
        for group in idata.groups():
            getattr(idata, group).attrs.update(attrs)
        return idata



class LaplaceRegression(PosteriorRegression):
    """Bayesian linear regression with an independent Laplace prior on each weight.

    Model: ``y = b0 + X w + eps``, ``eps ~ N(0, sigma^2 I)``, ``w_j ~ Laplace(mu_j, b)`` with ``b = tau`` when sigma
    is given (the material's model: ``p(w) = prod_j (1/(2 tau)) exp(-|w_j - mu_j| / tau)``) and ``b = sigma tau``
    when sigma is learned (Park & Casella's Bayesian lasso, whose scaling keeps the joint posterior unimodal).

    The intercept ``b0`` (``fit_intercept=True``, the default, as in every scikit-learn linear model) has a flat
    prior. Under the Gaussian likelihood it is integrated out exactly by centring: the posterior of w is that of
    the centred problem ``(X - mean X, y - mean y)``; with sigma learned, sigma's update keeps ``n - 1`` degrees of
    freedom; and ``b0 | w, sigma, y ~ N(mean y - (mean X)^T w, sigma^2 / n)``, drawn with each draw of w. The
    material's own model has no intercept: pass ``fit_intercept=False`` (the report does).

    The MAP minimises ``(1/2) ||y - b0 - X w||^2 + lambda ||w - mu||_1`` with ``lambda = sigma^2 / b``; in
    scikit-learn's scaling, ``(1/(2N)) ||y - Xw||^2 + alpha ||w||_1``, that is ``alpha = lambda / N`` on the
    shifted problem ``(y - X mu, w - mu)``. The MAP is defined for given sigma and tau: where either is learned, the
    MAP (and tau*) are computed at their posterior medians, and ``map_at_`` says so. The posterior comes from the
    Gibbs sampler of :mod:`bmnn.laplace.gibbs`.

    A fitted model keeps what prediction, intervals and summaries need (the draws, the column means), not the
    training data: :meth:`log_posterior` and :meth:`to_inference_data`'s data groups take the data as arguments.

    Parameters (declared, with their defaults and ranges, in :mod:`bmnn.laplace.settings`; checked in ``fit``)
    ----------
    noise_sd : float or None
        sigma, the noise standard deviation; ``None`` learns it (prior ``noise_prior``).
    scale : float or None
        tau, the Laplace prior's scale; ``None`` learns it (prior ``scale_prior`` on ``1 / tau``).
    location : float or array of shape (p,), default 0
        mu, the Laplace prior's location (prior knowledge enters here).
    fit_intercept : bool, default True
        Fit an intercept with a flat prior (above); ``False`` is the material's model.
    scale_prior : (a, b), default (1, 1)
        Gamma shape and rate of the prior on ``1 / tau``.
    noise_prior : (a0, b0) or None
        Inverse-gamma shape and scale of the prior on sigma^2; ``None``: Jeffreys' ``1 / sigma^2``.
    draws, warmup, chains : int
        Gibbs settings; ``draws = 0`` skips sampling (MAP only; needs sigma and tau given).
    random_state : None, int, numpy RandomState or Generator
        The seed: the same value gives the same draws.
    algorithm : "precision", "bcm" or None
        The Gaussian conditional draw (:mod:`bmnn.laplace.gaussian_draw`); ``None`` picks the cheaper.
    overrelax : float in (-1, 0], default -0.5
        alpha of the over-relaxed Gaussian step (:mod:`bmnn.laplace.gibbs`); 0 is the plain Gibbs sampler.
    coordinate_steps : int >= 0 or None
        Collapsed coordinate steps per sweep after warm-up (:mod:`bmnn.laplace.gibbs`); ``None`` by its cost model,
        0 none.

    Attributes
    ----------
    coef_ : ndarray (p,)
        The posterior mean of w (the MAP when ``draws = 0``): what :meth:`predict` uses.
    intercept_ : float
        ``mean y - (mean X)^T coef_`` (0 without an intercept): the posterior mean of b0 given that of w.
    coef_map_, intercept_map_ : the MAP and its intercept
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
    intercept_draws_ : ndarray (chains, draws)
        With an intercept.
    noise_sd_draws_, scale_draws_ : ndarray (chains, draws)
        Where learned.
    noise_sd_summary_, scale_summary_ : dict
        Where learned: mean, sd, median, 90% interval (q05, q95), the MCSE of the mean and of each end (mcse,
        mcse_q05, mcse_q95), bulk ESS, R-hat.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a table with named columns (a pandas DataFrame): :meth:`predict` then checks them.
    coef_names_ : list of str
        The names of the coefficients in summaries and ArviZ coordinates: ``feature_names`` given to ``fit``, else
        ``feature_names_in_``, else ``x0``, ``x1``, ...
    """

    def __init__(self, noise_sd: float | None = D["noise_sd"], scale: float | None = D["scale"],
                 location: float | ArrayLike = 0.0, *, fit_intercept: bool = D["fit_intercept"],
                 scale_prior: tuple[float, float] = D["scale_prior"], noise_prior: tuple[float, float] | None =
                 D["noise_prior"], draws: int = D["draws"], warmup: int = D["warmup"], chains: int = D["chains"],
                 random_state=None, algorithm: str | None = D["algorithm"], overrelax: float = D["overrelax"],
                 coordinate_steps: int | None = D["coordinate_steps"]) -> None:
        self._store(locals())

    def _prior(self) -> LaplacePrior:
        """The prior the sampler runs with."""
        return laplace_prior(self.scale, self.scale_prior)

    def _closed_form(self) -> bool:
        """Whether the fit can be made without draws (the MAP with sigma and tau given)."""
        return self.noise_sd is not None and self.scale is not None

    def _point_estimates(self, source: _Arrays | _Statistics, mu: NDArray) -> None:
        """The MAP, lambda and tau*, at sigma and tau given or at their posterior medians."""
        s = self.noise_sd if self.noise_sd is not None else self.noise_sd_summary_["median"]
        t = self.scale if self.scale is not None else self.scale_summary_["median"]
        # the MAP's Laplace scale b: tau, or sigma tau under the scaled prior of learned sigma
        b = t if self.noise_sd is not None else s * t
        # learned sigma: the MAP problem is solved in units where sigma is near 1 (it is equivariant under scaling
        # y, mu, sigma and b together; a power of two, so exact), whatever the scale of y
        e = 0 if self.noise_sd is not None else power_of_four(s)
        self.coef_map_, self.kkt_violation_ = source.map_at(s, b, mu, e)
        self.map_at_ = {"noise_sd": s, "scale": t,
                        "noise_sd_from": "given" if self.noise_sd is not None else "posterior median",
                        "scale_from": "given" if self.scale is not None else "posterior median"}
        self.lambda_ = lambda_from_tau(s, b) if self.noise_sd is not None else s / t  # sigma^2 / (sigma tau)
        ts = source.tau_star(s, mu, e)  # the threshold on b; in units of tau it is b* / sigma under the scaled prior
        self.tau_star_ = ts if self.noise_sd is not None else ts / s
        self.intercept_map_ = float(self.y_mean_ - self.x_mean_ @ self.coef_map_)

    def log_posterior(self, w: ArrayLike, X: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """The unnormalised log posterior of w at ``w`` (shape ``(..., p)``) on the data ``X``, ``y`` (a fitted model
        keeps no data), at the sigma and tau of the MAP (given, or posterior medians), with the intercept
        integrated out (the centred data) when there is one."""
        self._require("coef_map_")
        X, y = validate_design(as_float_array("X", X, what="the design matrix"), as_float_array("y", y))
        if X.shape[1] != self.n_features_in_:
            raise InputError(f"X must have {self.n_features_in_} columns, got {X.shape[1]}", param="X")
        if self.fit_intercept:
            X, y = X - X.mean(axis=0), y - y.mean()
        s, t = self.map_at_["noise_sd"], self.map_at_["scale"]
        b = t if self.noise_sd is not None else s * t
        return log_posterior(w, X, y, s, b, self.location_)

def _validate(est: LaplaceRegression, X, y=None, fitting: bool = False):
    """scikit-learn's own checks of ``X`` (and ``y`` for ``fit``): shapes, names, finiteness, sparse and complex
    input, ``y`` of shape (n, 1); its ``ValueError`` restated as :class:`InputError` with its message (its
    ``TypeError`` for input that is not numbers stays a ``TypeError``, as scikit-learn's checks expect)."""
    try:
        if not fitting:
            return validate_data(est, X, dtype=np.float64, reset=False)
        return validate_data(est, X, y, dtype=np.float64, y_numeric=True)
    except InputError:
        raise
    except ValueError as exc:
        text = " ".join(str(exc).split())
        raise InputError(text if len(text) <= 200 else text[:200] + "...", param="X") from None


def _summary(draws: NDArray) -> dict[str, float]:
    d = summarize(draws)
    lo, hi = interval(draws, 0.9)
    return {"mean": float(d["mean"]), "sd": float(d["sd"]), "median": float(np.median(draws)), "q05": float(lo),
            "q95": float(hi), "mcse": float(d["mcse"]), "mcse_q05": float(quantile_mcse(draws, 0.05)),
            "mcse_q95": float(quantile_mcse(draws, 0.95)), "ess_bulk": float(d["ess_bulk"]), "rhat": float(d["rhat"])}


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


@dataclass(frozen=True)
class _Arrays:
    """The (centred) data as rows: what the sampler and the MAP read in :meth:`LaplaceRegression.fit`."""

    X: NDArray[np.float64]
    y: NDArray[np.float64]

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def data(self, mu: NDArray, noise: Noise, algorithm: str | None, intercept: bool) -> Data:
        return Data.from_arrays(self.X, self.y, mu, noise, algorithm, intercept)

    def moments(self, mu: NDArray) -> tuple[NDArray, NDArray, float]:
        """``X^T X``, ``X^T r`` and ``r^T r`` with ``r = y - X mu`` (the p x p matrix formed: memory checked)."""
        p = self.X.shape[1]
        check_memory(8.0 * 3 * p * p, f"the {p} x {p} matrices of the closed-form posterior")
        r = self.y - self.X @ mu
        return self.X.T @ self.X, self.X.T @ r, float(r @ r)

    def map_at(self, s: float, b: float, mu: NDArray, e: int) -> tuple[NDArray, NDArray]:
        """The MAP at sigma ``s`` and Laplace scale ``b``, solved in units of ``2^-e`` (exact), in the data's."""
        res = map_estimate(self.X, np.ldexp(self.y, e), np.ldexp(s, e), np.ldexp(b, e), np.ldexp(mu, e))
        return np.ldexp(res.coef, -e), res.kkt_violation

    def tau_star(self, s: float, mu: NDArray, e: int) -> float:
        """The Laplace scale below which the MAP is ``mu``."""
        return float(np.ldexp(tau_star(self.X, np.ldexp(self.y, e), np.ldexp(s, e), np.ldexp(mu, e)), -e))


@dataclass(frozen=True)
class _Statistics:
    """The (centred) sufficient statistics: what the sampler and the MAP read in
    :meth:`LaplaceRegression.fit_statistics`."""

    gram: NDArray[np.float64]
    xty: NDArray[np.float64]
    yty: float
    n: int

    def data(self, mu: NDArray, noise: Noise, algorithm: str | None, intercept: bool) -> Data:
        return Data.from_statistics(self.gram, self.xty, self.yty, self.n, mu, noise, intercept)

    def moments(self, mu: NDArray) -> tuple[NDArray, NDArray, float]:
        q = self.xty - self.gram @ mu
        rtr = max(float(self.yty) - 2.0 * float(mu @ self.xty) + float(mu @ self.gram @ mu), 0.0)
        return self.gram, q, rtr

    def map_at(self, s: float, b: float, mu: NDArray, e: int) -> tuple[NDArray, NDArray]:
        res = map_from_statistics(self.gram, np.ldexp(self.xty, e), np.ldexp(s, e), np.ldexp(b, e), np.ldexp(mu, e))
        return np.ldexp(res.coef, -e), res.kkt_violation

    def tau_star(self, s: float, mu: NDArray, e: int) -> float:
        g = float(np.max(np.abs(np.ldexp(self.xty, e) - self.gram @ np.ldexp(mu, e))))
        return np.inf if g == 0 else float(np.ldexp(np.ldexp(s, e) ** 2 / g, -e))
