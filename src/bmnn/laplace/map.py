"""The MAP of Bayesian linear regression with a Laplace prior, and its optimality certificate.

The MAP solves ``argmin_w (1/2) ||y - X w||^2 + lambda ||w - mu||_1`` with ``lambda = sigma^2 / tau``.
scikit-learn's :class:`~sklearn.linear_model.Lasso` minimises ``(1/(2N)) ||y - X w||^2 + alpha ||w||_1``, so we
solve the shifted problem ``theta = w - mu`` on ``y - X mu`` with ``alpha = lambda / N`` and no intercept, then
polish: with the signs and support Lasso found, the stationarity equations on the support are linear and are
solved exactly, which brings the certificate to rounding level. A well-kept solver does the search; the
polish only sharpens its answer, and is kept only if it satisfies the optimality conditions.

Certificate: the optimality condition is a subgradient inclusion, ``X^T (y - X w) in lambda d||w - mu||_1``:
``= lambda sign(w_j - mu_j)`` where ``w_j != mu_j`` and within ``[-lambda, lambda]`` where ``w_j = mu_j``. We report
its largest violation relative to lambda.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from bmnn.laplace.posterior import validate_problem

CERTIFICATE_TOLERANCE = 1e-8


@dataclass(frozen=True)
class MapResult:
    """The MAP ``coef``, ``lam`` = sigma^2/tau, the ``kkt_violation`` per coefficient and its maximum."""

    coef: NDArray[np.float64]
    lam: float
    kkt_violation: NDArray[np.float64]

    @property
    def max_violation(self) -> float:
        """The largest violation of the subgradient condition, relative to lambda."""
        return float(np.max(self.kkt_violation))


def kkt_violation(X: NDArray, y: NDArray, w: NDArray, lam: float, location: NDArray) -> NDArray[np.float64]:
    """Per coefficient, how far ``X^T (y - X w)`` is from ``lambda d||w - mu||_1``, relative to lambda."""
    g = X.T @ (y - X @ w)
    d = w - location
    active = d != 0
    on = np.abs(g - lam * np.sign(d)) / lam
    off = np.maximum(np.abs(g) - lam, 0.0) / lam
    return np.where(active, on, off)


def _polish(X, r, theta, lam):
    """Solve the stationarity equations exactly on Lasso's support and signs; None if they disagree."""
    support = theta != 0
    if not support.any():
        return theta
    Xa = X[:, support]
    signs = np.sign(theta[support])
    try:
        t_a = np.linalg.solve(Xa.T @ Xa, Xa.T @ r - lam * signs)
    except np.linalg.LinAlgError:
        return None
    if np.any(np.sign(t_a) != signs):
        return None
    out = np.zeros_like(theta)
    out[support] = t_a
    return out


def map_estimate(
    X: ArrayLike, y: ArrayLike, noise_sd: float, scale: float, location: ArrayLike = 0.0, *, tol: float = 1e-12,
    max_iter: int = 200_000,
) -> MapResult:
    """The MAP weights and their certificate.

    Parameters
    ----------
    X : array, shape (N, p)
    y : array, shape (N,)
    noise_sd : float
        sigma.
    scale : float
        tau.
    location : float or array of shape (p,)
        mu.

    Returns
    -------
    MapResult
        Warns (``RuntimeWarning``, naming the figure) if the certificate exceeds 1e-8.
    """
    X, y, s, t, mu = validate_problem(X, y, noise_sd, scale, location)
    n, p = X.shape
    lam = s**2 / t
    r = y - X @ mu
    if np.max(np.abs(X.T @ r)) <= lam:  # tau <= tau*: mu is optimal, exactly
        theta = np.zeros(p)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lasso = Lasso(alpha=lam / n, fit_intercept=False, tol=tol, max_iter=max_iter, selection="cyclic")
            # X and r were validated above (finite float64), so scikit-learn's own input checks are skipped
            theta = lasso.fit(np.asfortranarray(X), np.ascontiguousarray(r), check_input=False).coef_.astype(np.float64)
        polished = _polish(X, r, theta, lam)
        if polished is not None:
            v_old = kkt_violation(X, r, theta, lam, np.zeros(p)).max()
            v_new = kkt_violation(X, r, polished, lam, np.zeros(p)).max()
            theta = polished if v_new <= v_old else theta
    w = mu + theta
    viol = kkt_violation(X, y, w, lam, mu)
    result = MapResult(coef=w, lam=lam, kkt_violation=viol)
    if result.max_violation > CERTIFICATE_TOLERANCE:
        warnings.warn(f"the MAP's optimality certificate is {result.max_violation:.3g} (relative to lambda), "
                      f"above {CERTIFICATE_TOLERANCE:g}", RuntimeWarning, stacklevel=2)
    return result
