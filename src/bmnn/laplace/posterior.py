"""Job 2's posterior: the unnormalised log posterior, the lambda <-> tau mapping, the threshold tau*, and the
exact posterior for an orthonormal design.

Model (the material's symbols): ``y = X w + eps``, ``eps ~ N(0, sigma^2 I)`` with sigma known, and independent
Laplace priors ``p(w) = prod_j (1 / (2 tau)) exp(-|w_j - mu_j| / tau)``: location mu, scale tau. In ``p``
dimensions the prior's normaliser is ``(2 tau)^-p``.

With ``X^T X = I`` the posterior factorises: writing ``b = X^T y`` (the least-squares fit), coordinate j has
density proportional to ``exp(-(w - b_j)^2 / (2 sigma^2) - |w - mu_j| / tau)``, a two-piece mixture of Normals
truncated at ``mu_j``: ``N(b_j - sigma^2/tau, sigma^2)`` on ``w > mu_j`` and ``N(b_j + sigma^2/tau, sigma^2)`` on
``w < mu_j``, with weights from ``log Phi`` (computed by ``scipy.special.log_ndtr``, so no underflow). The pieces'
moments are written here rather than taken from ``scipy.stats.truncnorm``, whose mean was seen to be wrong by
O(1) when the truncation point lies hundreds of thousands of sds into the tail (tiny tau); ours stays exact there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from bmnn._checks import CONSTANT_TOL, InputError, as_float_array, positive_scalar


def validate_design(X: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``X`` (N x p) and ``y`` (N) as finite float64 arrays of matching length."""
    X = as_float_array("X", X, what="the design matrix")
    y = as_float_array("y", y, what="the targets")
    if X.ndim != 2:
        raise InputError(f"X must be 2-dimensional (N x p), got shape {X.shape}")
    if y.ndim != 1:
        raise InputError(f"y must be 1-dimensional (N), got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise InputError(f"X has {X.shape[0]} rows but y has {y.shape[0]} entries; they must match")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"X must have at least one row and one column, got shape {X.shape}")
    return X, y


def validate_location(location: ArrayLike, p: int) -> NDArray[np.float64]:
    """mu as a vector of length ``p`` (a scalar is broadcast)."""
    mu = as_float_array("location", location, what="mu, the prior location")
    if mu.ndim == 0:
        return np.full(p, float(mu))
    if mu.shape != (p,):
        raise InputError(f"location must be a scalar or a vector of length p = {p}, got shape {mu.shape}")
    return mu


def squared_in_range(name: str, v: float, sym: str) -> float:
    """A positive scale ``v`` whose square and inverse square are finite float64 numbers (about 1e-154 to 1e154)."""
    if not (v * v > 0 and math.isfinite(v * v) and math.isfinite(1 / (v * v))):
        raise InputError(f"{name} = {v:g}: {sym}^2 or 1/{sym}^2 is beyond float64's range (keep {sym} between "
                         "about 1e-154 and 1e154; rescale the data)", param=name)
    return v


def validate_problem(X: ArrayLike, y: ArrayLike, noise_sd: float, scale: float, location: ArrayLike):
    """``(X, y, sigma, tau, mu)`` checked at the boundary: the design and targets, the two scales, the location."""
    X, y = validate_design(X, y)
    s = positive_scalar("noise_sd", noise_sd, what="sigma, the known noise sd")
    t = positive_scalar("scale", scale, what="tau, the Laplace prior's scale")
    squared_in_range("noise_sd", s, "sigma")
    squared_in_range("scale", t, "tau")
    mu = validate_location(location, X.shape[1])
    # the sampler and the MAP work with X^T X / sigma^2 and X^T (y - X mu) / sigma^2: refuse data whose sums of
    # products cannot be represented, rather than return NaN
    xmax, rmax = float(np.max(np.abs(X))), float(np.max(np.abs(y))) + float(np.max(np.abs(X))) * float(
        np.sum(np.abs(mu)))
    products = X.shape[0] * xmax * max(xmax, rmax)  # X^T X and X^T y themselves, and divided by sigma^2
    bound = max(products, products / (s * s))
    if not bound < 1e300:
        raise InputError(f"the data are too large for float64: sums of products such as X^T X / sigma^2 can reach "
                         f"{bound:.3g} (largest |X| entry {xmax:.3g}, largest |y| {float(np.max(np.abs(y))):.3g}); "
                         "rescale X and y")
    return X, y, s, t, mu


def validate_statistics(gram: NDArray[np.float64], xty: NDArray[np.float64], yty: float | None = None
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The sufficient statistics ``X^T X``, ``X^T y``, ``y^T y`` (finite float64, of matching shapes) checked for
    what they must be, whatever X and y were: ``X^T X`` symmetric and positive semi-definite, ``y^T y >= 0`` and
    at least the part of ``y^T y`` that the columns explain, ``(X^T y)^T (X^T X)^+ X^T y`` (Cauchy-Schwarz).
    Tolerances allow the rounding of sums over many rows (``yty = None``: the checks of ``X^T X`` alone). Returns
    ``X^T X`` made exactly symmetric, and its eigenvalues and eigenvectors (``numpy.linalg.eigh``)."""
    G = gram
    if G.shape[0] == 0:
        raise InputError("gram and xty must describe at least one column of X, got none", param="gram")
    top = float(np.max(np.abs(np.diag(G))))
    if np.any(np.diag(G) < 0) or float(np.max(np.abs(G - G.T))) > 1e-9 * top:
        raise InputError("gram must be X^T X: symmetric with a non-negative diagonal, got a matrix that is not",
                         param="gram")
    G = (G + G.T) / 2
    evals, evecs = np.linalg.eigh(G)
    big = float(evals[-1])
    if evals[0] < -1e-8 * max(big, 0.0):
        raise InputError(f"gram must be X^T X, positive semi-definite; its smallest eigenvalue is {evals[0]:.3g} "
                         f"(largest {big:.3g})", param="gram")
    if yty is None:
        return G, evals, evecs
    if not yty >= 0:
        raise InputError(f"yty must be y^T y >= 0, got {yty:g}", param="yty")
    keep = evals > 1e-8 * big
    explained = float(np.sum((evecs[:, keep].T @ xty) ** 2 / evals[keep]))
    if explained > yty * (1 + 1e-6) + 1e-300:
        raise InputError(f"the statistics do not fit together: y^T y = {yty:.6g}, but X^T y and X^T X say the "
                         f"columns of X alone explain {explained:.6g} of it", param="yty")
    return G, evals, evecs


def lambda_from_tau(noise_sd: float, scale: float) -> float:
    """The regularisation strength of the MAP problem: ``lambda = sigma^2 / tau``."""
    return positive_scalar("noise_sd", noise_sd, what="sigma") ** 2 / positive_scalar("scale", scale, what="tau")


def tau_from_lambda(noise_sd: float, lam: float) -> float:
    """The prior scale giving regularisation strength ``lam``: ``tau = sigma^2 / lambda``."""
    return positive_scalar("noise_sd", noise_sd, what="sigma") ** 2 / positive_scalar("lam", lam, what="lambda")


def tau_star(X: ArrayLike, y: ArrayLike, noise_sd: float, location: ArrayLike = 0.0) -> float:
    """``tau* = sigma^2 / ||X^T (y - X mu)||_inf``: for every ``tau <= tau*`` the MAP is exactly mu.

    Returns ``inf`` when ``y = X mu`` exactly (the MAP is mu for every tau).
    """
    X, y = validate_design(X, y)
    mu = validate_location(location, X.shape[1])
    s = positive_scalar("noise_sd", noise_sd, what="sigma")
    g = np.max(np.abs(X.T @ (y - X @ mu)))
    return np.inf if g == 0 else s**2 / g


def log_posterior(
    w: ArrayLike, X: ArrayLike, y: ArrayLike, noise_sd: float, scale: float, location: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """The unnormalised log posterior ``log p(y | X, w) + log p(w)``, for many ``w`` at once.

    Parameters
    ----------
    w : array, shape (..., p)
    X : array, shape (N, p)
    y : array, shape (N,)
    noise_sd : float
        sigma.
    scale : float
        tau, the Laplace prior's scale.
    location : float or array of shape (p,)
        mu, the Laplace prior's location.

    Returns
    -------
    array, shape (...)
        ``-N/2 log(2 pi sigma^2) - ||y - X w||^2 / (2 sigma^2) - p log(2 tau) - ||w - mu||_1 / tau``.
    """
    X, y, s, t, mu = validate_problem(X, y, noise_sd, scale, location)
    n, p = X.shape
    w = as_float_array("w", w, what="the weights")
    if w.shape[-1:] != (p,):
        raise InputError(f"w must have last dimension p = {p}, got shape {w.shape}")
    resid = y - w @ X.T
    loglik = -0.5 * n * np.log(2 * np.pi * s**2) - 0.5 * np.sum(resid**2, axis=-1) / s**2
    logprior = -p * np.log(2 * t) - np.sum(np.abs(w - mu), axis=-1) / t
    return loglik + logprior


_CF_FROM = 4.0  # above this truncation point the continued fraction replaces the erfcx formula
_CF_TERMS = 80


def _upper_tail_moments(alpha: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """For Z ~ N(0, 1) truncated to Z > alpha: ``g = E[Z] - alpha`` and ``v = Var[Z]``, without cancellation.

    With the inverse Mills ratio ``r = phi(alpha) / Q(alpha)``, ``g = r - alpha`` and ``v = 1 - r g``. For moderate
    alpha, ``r = sqrt(2/pi) / erfcx(alpha / sqrt 2)``. For large alpha both differences cancel, so we use the
    continued fraction ``r = alpha + 1/(alpha + h)``, ``h = 2/(alpha + 3/(alpha + ...))``, which gives
    ``g = 1/(alpha + h)`` and ``v = (h (alpha + h) - 1) / (alpha + h)^2`` directly.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    big = alpha > _CF_FROM
    a_small = np.where(big, 0.0, alpha)
    with np.errstate(over="ignore"):
        r = np.sqrt(2 / np.pi) / special.erfcx(a_small / np.sqrt(2))
    g_small = r - a_small
    v_small = 1 - r * g_small
    a_big = np.where(big, alpha, _CF_FROM + 1)
    h = np.zeros_like(a_big)
    for k in range(_CF_TERMS, 1, -1):
        h = k / (a_big + h)
    g_big = 1 / (a_big + h)
    v_big = (h * (a_big + h) - 1) / (a_big + h) ** 2
    return np.where(big, g_big, g_small), np.where(big, v_big, v_small)


@dataclass(frozen=True)
class OrthonormalPosterior:
    """The exact per-coordinate posterior for ``X^T X = I`` (see the module docstring).

    Attributes
    ----------
    location : ndarray (p,)
        mu, where the two pieces meet.
    mean_upper, mean_lower : ndarray (p,)
        The untruncated means ``b -+ sigma^2 / tau`` of the pieces above and below mu.
    noise_sd : float
        sigma, the sd of both pieces.
    weight_upper : ndarray (p,)
        Posterior probability that ``w_j > mu_j``.
    """

    location: NDArray[np.float64]
    mean_upper: NDArray[np.float64]
    mean_lower: NDArray[np.float64]
    noise_sd: float
    weight_upper: NDArray[np.float64]

    def _pieces(self):
        """Offsets of the two pieces' means from mu, and their variances."""
        s = self.noise_sd
        g_up, v_up = _upper_tail_moments((self.location - self.mean_upper) / s)
        g_lo, v_lo = _upper_tail_moments(-(self.location - self.mean_lower) / s)  # mirrored
        return s * g_up, s**2 * v_up, -s * g_lo, s**2 * v_lo

    def mean(self) -> NDArray[np.float64]:
        """Posterior mean of each coordinate."""
        d_up, _, d_lo, _ = self._pieces()
        pu = self.weight_upper
        return self.location + pu * d_up + (1 - pu) * d_lo

    def var(self) -> NDArray[np.float64]:
        """Posterior variance of each coordinate (the law of total variance over the two pieces)."""
        d_up, v_up, d_lo, v_lo = self._pieces()
        pu = self.weight_upper
        return pu * v_up + (1 - pu) * v_lo + pu * (1 - pu) * (d_up - d_lo) ** 2

    def cdf(self, w: ArrayLike) -> NDArray[np.float64]:
        """Posterior CDF of each coordinate at ``w`` (broadcast against the coordinates), in log space."""
        w = np.asarray(w, dtype=np.float64)
        s, mu, pu = self.noise_sd, self.location, self.weight_upper
        below = np.exp(special.log_ndtr((np.minimum(w, mu) - self.mean_lower) / s)
                       - special.log_ndtr((mu - self.mean_lower) / s))
        above_tail = np.exp(special.log_ndtr(-(np.maximum(w, mu) - self.mean_upper) / s)
                            - special.log_ndtr(-(mu - self.mean_upper) / s))
        return np.where(w < mu, (1 - pu) * below, (1 - pu) + pu * (1 - above_tail))

    def pdf(self, w: ArrayLike) -> NDArray[np.float64]:
        """Posterior density of each coordinate at ``w``."""
        w = np.asarray(w, dtype=np.float64)
        s, mu, pu = self.noise_sd, self.location, self.weight_upper
        up = np.exp(stats.norm.logpdf(w, self.mean_upper, s) - special.log_ndtr(-(mu - self.mean_upper) / s))
        lo = np.exp(stats.norm.logpdf(w, self.mean_lower, s) - special.log_ndtr((mu - self.mean_lower) / s))
        return np.where(w >= mu, pu * up, (1 - pu) * lo)


def orthonormal_posterior(
    X: ArrayLike, y: ArrayLike, noise_sd: float, scale: float, location: ArrayLike = 0.0, *, atol: float = 1e-10
) -> OrthonormalPosterior:
    """The exact posterior when ``X^T X = I`` (checked to ``atol``).

    Piece weights: ``log Z+ = -(b - mu)/tau + log Phi((b - sigma^2/tau - mu)/sigma)`` and
    ``log Z- = (b - mu)/tau + log Phi((mu - b - sigma^2/tau)/sigma)``, normalised with log-sum-exp.
    """
    X, y, s, t, mu = validate_problem(X, y, noise_sd, scale, location)
    p = X.shape[1]
    if not np.allclose(X.T @ X, np.eye(p), atol=atol, rtol=0):
        raise InputError("orthonormal_posterior needs X^T X = I (orthonormal columns); use the Gibbs sampler instead")
    b = X.T @ y
    shift = s**2 / t
    log_up = -(b - mu) / t + special.log_ndtr((b - shift - mu) / s)
    log_lo = (b - mu) / t + special.log_ndtr((mu - b - shift) / s)
    weight_upper = np.exp(log_up - np.logaddexp(log_up, log_lo))
    return OrthonormalPosterior(location=mu, mean_upper=b - shift, mean_lower=b + shift, noise_sd=s,
                                weight_upper=weight_upper)


def standardize(X: ArrayLike, y: ArrayLike, names: list[str] | None = None):
    """Columns of ``X`` centred and scaled to unit (population) sd, and ``y`` centred: ``(X_std, y_centred)``.

    Every column is first brought to magnitude about 1 by a power of two (exact: no digit is lost), so data near
    float64's limits (1e300 or 1e-300) are standardised without their squares overflowing or underflowing. A column
    that is constant up to rounding (its sd at most :data:`bmnn._checks.CONSTANT_TOL` of its size) cannot be
    scaled and is refused, named from ``names``.
    """
    X, y = validate_design(X, y)
    Z = np.ldexp(X, -np.frexp(np.max(np.abs(X), axis=0))[1])
    m = Z.mean(axis=0)
    Z -= m
    sd = np.sqrt(np.mean(Z * Z, axis=0))
    const = np.flatnonzero(sd <= CONSTANT_TOL * np.maximum(np.abs(m), np.max(np.abs(Z), axis=0)))
    if const.size:
        j = int(const[0])
        raise InputError(f"column {names[j] if names else j!r} is constant, so it cannot be standardised")
    ey = int(np.frexp(np.max(np.abs(y)))[1])
    yc = np.ldexp(y, -ey)
    return Z / sd, np.ldexp(yc - yc.mean(), ey)
