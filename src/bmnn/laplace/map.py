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

from bmnn._checks import InputError, positive_scalar
from bmnn.laplace.posterior import validate_location, validate_problem, validate_statistics

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


def map_from_statistics(gram: ArrayLike, xty: ArrayLike, noise_sd: float, scale: float, location: ArrayLike = 0.0,
                        *, tol: float = 1e-14, max_sweeps: int = 100_000) -> MapResult:
    """The MAP from the sufficient statistics ``X^T X`` and ``X^T y`` alone (data bigger than memory): cyclic
    coordinate descent on the Gram matrix, then the same exact polish on the support and signs it found, and the
    same certificate, ``X^T (y - X w) = X^T y - X^T X w``.

    Coordinate descent is written here because scikit-learn's solvers want the rows of X; it only has to find the
    support and the signs, which the polish then solves exactly.
    """
    G = np.asarray(gram, dtype=np.float64)
    q0 = np.asarray(xty, dtype=np.float64)
    p = q0.shape[0]
    if G.shape != (p, p) or not (np.all(np.isfinite(G)) and np.all(np.isfinite(q0))):
        raise InputError(f"gram must be a finite ({p}, {p}) matrix matching xty, got shape {G.shape}")
    G = validate_statistics(G, q0)[0]
    s = positive_scalar("noise_sd", noise_sd, what="sigma, the known noise sd")
    t = positive_scalar("scale", scale, what="tau, the Laplace prior's scale")
    mu = validate_location(location, p)
    lam = s**2 / t
    q = q0 - G @ mu  # X^T (y - X mu)
    theta = np.zeros(p)
    if np.max(np.abs(q)) > lam:
        diag = np.diag(G).copy()
        grad = q.copy()  # X^T r - X^T X theta
        for _ in range(max_sweeps):
            biggest = 0.0
            for j in range(p):
                if diag[j] <= 0:
                    continue
                z = grad[j] + diag[j] * theta[j]
                new = np.sign(z) * max(abs(z) - lam, 0.0) / diag[j]
                step = new - theta[j]
                if step != 0.0:
                    grad -= G[:, j] * step
                    theta[j] = new
                    biggest = max(biggest, abs(step) * np.sqrt(diag[j]))
            if biggest <= tol * (1.0 + np.sqrt(max(theta @ (G @ theta), 0.0))):
                break
        support = theta != 0
        if support.any():
            signs = np.sign(theta[support])
            try:
                t_a = np.linalg.solve(G[np.ix_(support, support)], q[support] - lam * signs)
                if np.all(np.sign(t_a) == signs):
                    polished = np.zeros(p)
                    polished[support] = t_a
                    if _kkt_gram(G, q, polished, lam).max() <= _kkt_gram(G, q, theta, lam).max():
                        theta = polished
            except np.linalg.LinAlgError:
                pass
    return MapResult(coef=mu + theta, lam=lam, kkt_violation=_kkt_gram(G, q, theta, lam))


def _kkt_gram(G: NDArray, q: NDArray, theta: NDArray, lam: float) -> NDArray[np.float64]:
    """:func:`kkt_violation` from the Gram matrix: ``g = X^T r - X^T X theta``."""
    g = q - G @ theta
    active = theta != 0
    return np.where(active, np.abs(g - lam * np.sign(theta)) / lam, np.maximum(np.abs(g) - lam, 0.0) / lam)
