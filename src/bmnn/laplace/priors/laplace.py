"""The Laplace prior's conditional updates for the Gibbs kernel (:mod:`bmnn.laplace.kernel`).

The prior as a scale mixture of Normals: ``theta_j = w_j - mu_j | s_j ~ N(0, k^2 s_j)``,
``s_j ~ Exponential(mean 2 tau^2)``, so that ``theta_j ~ Laplace(0, k tau)``; ``k = sigma`` when sigma is learned
(Park & Casella's scaled prior, whose joint posterior of (w, sigma^2) is unimodal), else ``k = 1`` (the material's
model: the Laplace scale is tau itself). Given theta the kernel calls :meth:`LaplacePrior.update`, which draws

* learned tau, jointly with s (s integrated out first, then drawn given the new tau):
  ``1 / tau | theta ~ Gamma(a + p, b + ||theta||_1 / k)`` under the Gamma(a, b) prior on ``1 / tau``;
* ``1 / s_j | theta_j, tau ~ InverseGaussian(mean k / (tau |theta_j|), shape 1 / tau^2)``.

It also offers a collapsed coordinate step (:func:`coordinate_steps`): ``theta_j | theta_-j, y`` with ``s_j``
integrated out, the Laplace prior times the Gaussian likelihood in ``theta_j``, an exact two-piece truncated
Normal, ``p(theta_j) ~ exp(-a theta_j^2 / 2 + l theta_j - |theta_j| / b)`` (``a = ||x_j||^2 / sigma^2``, ``b = k
tau``): its sign is drawn from the two pieces' masses and its value by the inverse CDF in logarithms (``log_ndtr``,
``ndtri_exp``). The move leaves the posterior of ``(theta, sigma, tau)`` invariant and does not read ``s``; the
update above then redraws every ``s_j`` given the new theta. It is over-relaxed by ``alpha`` in normal scores: with
``F`` the conditional's CDF, ``z = Phi^-1(F(theta_j))`` moves to ``alpha z + sqrt(1 - alpha^2) xi`` and ``theta_j``
to ``F^-1(Phi(z))``, an AR(1) move in z that leaves the conditional exactly invariant and is reversible with respect
to it. Why: the block draw of the Gaussian step mixes the correlations among coefficients perfectly given ``s``, but
a coefficient and its own mixing variable feed each other (a small ``|theta_j|`` draws a small ``s_j``, which keeps
``theta_j`` small); integrating ``s_j`` out breaks that loop.

The inverse-Gaussian draw is the Michael-Schucany-Haas transformation rewritten in terms of the *inverse* mean
``a = tau |theta_j| / k``: ``x = 1 / (a + q + sqrt(q (q + 2 a)))`` with ``q = Z^2 / (2 shape)``, accepted with
probability ``1 / (1 + a x)``, else ``1 / (a^2 x)``. Nothing cancels, and ``a = 0`` gives the exact limit (the Levy
law ``shape / Z^2``). The textbook form ``m + m^2 y / (2 shape) - ...`` loses every digit when the mean ``m`` is
huge; numpy's ``Generator.wald`` returns zero or negative values at a mean of 1e16.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_expit, log_ndtr, ndtri_exp

from bmnn.laplace.kernel import U_MAX, Collapsed, Start

#: normal scores are kept within +-Z_MAX (Phi(-37.5) is about 5e-308, float64's least normal number)
Z_MAX = 37.5


def inverse_gaussian(inv_mean: ArrayLike, shape: ArrayLike, rng: np.random.Generator) -> NDArray[np.float64]:
    """Draws from InverseGaussian(mean = 1 / inv_mean, shape), stable for any ``inv_mean >= 0``.

    Parameters
    ----------
    inv_mean : array
        ``1 / mean``; 0 gives the Levy limit ``shape / Z^2``.
    shape : float or array
        The inverse-Gaussian shape (often written lambda), > 0.
    """
    a = np.asarray(inv_mean, dtype=np.float64)
    lam = np.asarray(shape, dtype=np.float64)
    size = np.broadcast(a, lam).shape
    q = rng.standard_normal(size)
    q *= q
    q /= 2 * lam
    root = np.add(q, 2 * a, out=np.empty_like(q))  # in place from here (0-d arrays too): x = 1 / (a + q +
    np.sqrt(root, out=root)  # sqrt(q) sqrt(q + 2 a)), the root as a product of roots: q (q + 2 a) would overflow
    root *= np.sqrt(q)  # from q ~ 1e154 on (tau ~ 1e77)
    q += a
    q += root
    x = np.divide(1.0, q, out=q)
    accept = rng.random(size) * (1.0 + a * x) <= 1.0
    with np.errstate(divide="ignore", over="ignore"):
        other = 1.0 / (a * a * x)
    return np.where(accept, x, other)


def coordinate_steps(theta: NDArray, cols: NDArray, gcols: NDArray, gdiag: NDArray, xtr: NDArray, s2: NDArray,
                     lap: NDArray, rng: np.random.Generator, alpha: float = 0.0) -> NDArray:
    """Draws of ``theta_j | theta_-j, y`` with the Laplace prior (its mixing variable integrated out), for ``j`` in
    ``cols`` in turn, in every chain (module docstring), over-relaxed by ``alpha`` in normal scores (0: exact
    independent draws). ``theta`` (chains, p) is updated in place.

    Parameters
    ----------
    cols : int array (k,)
        The coordinates, each with ``gdiag[j] > 0``.
    gcols : array (p, k)
        ``(X^T X)[:, cols]``.
    gdiag, xtr : arrays (p,)
        The diagonal of ``X^T X`` and ``X^T (y - X mu)``.
    s2, lap : arrays (chains,)
        sigma^2 and the Laplace scale of theta (tau, or sigma tau).
    alpha : float in (-1, 0]
        The normal score ``z = Phi^-1(F(theta_j))`` of the old value under the conditional CDF ``F`` moves to
        ``alpha z + sqrt(1 - alpha^2) xi``; the new value is ``F^-1(Phi(z'))``.
    """
    g = theta @ gcols  # (X^T X theta)[cols], kept current as coordinates change
    inv_b = 1.0 / lap
    chains = theta.shape[0]
    keep = np.sqrt(1.0 - alpha * alpha)
    for i, j in enumerate(cols):
        a = gdiag[j] / s2
        old = theta[:, j].copy()
        lin = (xtr[j] - g[:, i]) / s2 + a * old
        root = np.sqrt(a)
        m_pos, m_neg = (lin - inv_b) / a, (lin + inv_b) / a  # the modes of the two Gaussian pieces
        log_pos, log_neg = log_ndtr(m_pos * root), log_ndtr(-m_neg * root)  # their masses, less a common factor
        odds = -2.0 * lin * inv_b / a + log_pos - log_neg  # log P(theta_j > 0) - log P(theta_j < 0)
        lp_pos, lp_neg = log_expit(odds), log_expit(-odds)
        # the old value's normal score, from the side whose tail is the smaller (no 1 - F cancels); a log-probability
        # is <= 0, the minimum only catches rounding; scores beyond +-Z_MAX (probability < 1e-300) are clipped
        below = lp_neg + log_ndtr((old - m_neg) * root) - log_neg  # log F(old), old <= 0
        above = lp_pos + log_ndtr((m_pos - old) * root) - log_pos  # log (1 - F(old)), old > 0
        z = np.where(old <= 0, ndtri_exp(np.minimum(below, 0.0)), -ndtri_exp(np.minimum(above, 0.0)))
        z = np.clip(alpha * np.clip(z, -Z_MAX, Z_MAX) + keep * rng.standard_normal(chains), -Z_MAX, Z_MAX)
        log_u, log_v = log_ndtr(z), log_ndtr(-z)  # log Phi(z') and log (1 - Phi(z'))
        neg = np.minimum(m_neg + ndtri_exp(np.minimum(log_u - lp_neg + log_neg, 0.0)) / root, 0.0)
        pos = np.maximum(m_pos - ndtri_exp(np.minimum(log_v - lp_pos + log_pos, 0.0)) / root, 0.0)
        new = np.where(log_u < lp_neg, neg, pos)
        theta[:, j] = new
        g += (new - old)[:, None] * gcols[j][None, :]
    return theta


@dataclass(frozen=True)
class LaplaceState:
    """The Laplace prior's part of a chain's state: ``scale`` is tau (chains,), ``mix`` the mixing variables s
    (chains, p), the prior variances of ``theta / k``."""

    scale: NDArray[np.float64]
    mix: NDArray[np.float64]


@dataclass(frozen=True)
class LaplacePrior:
    """The Laplace prior with scale tau given (``scale``) or learned under a Gamma(shape, rate) prior on ``1 / tau``
    (``scale_prior``), in units of sigma when sigma is learned. The kernel reads :meth:`variances` and calls
    :meth:`update` and, for the chosen coordinates, :meth:`collapsed_update`."""

    scale: float | None
    scale_prior: tuple[float, float] = (1.0, 1.0)
    #: this prior has a collapsed coordinate step
    collapsible = True

    def in_sigma_units(self, noise_learned: bool) -> bool:
        """Whether theta's prior scale is multiplied by sigma: only when sigma is learned (Park & Casella)."""
        return noise_learned

    def init(self, chains: int, p: int, start: Start, rng: np.random.Generator) -> LaplaceState:
        """tau given, or ten times tau* (where the MAP starts to move off mu); s from its prior given tau."""
        if self.scale is not None:
            tau0 = self.scale
        else:
            tau0 = 10.0 * start.sigma ** 2 / start.grad / start.k if start.grad > 0 else 1.0
        tau = np.full(chains, tau0)
        return LaplaceState(scale=tau, mix=rng.exponential(2 * tau[:, None] ** 2, size=(chains, p)))

    def variances(self, state: LaplaceState) -> NDArray[np.float64]:
        """The prior variances of ``theta / k`` given the mixing variables: s."""
        return state.mix

    def update(self, state: LaplaceState, theta: NDArray, k: NDArray, rng: np.random.Generator) -> LaplaceState:
        """tau (if learned) with s integrated out, then s given theta and tau (module docstring)."""
        tau = state.scale
        if self.scale is None:
            a, b = self.scale_prior
            tau = 1.0 / rng.gamma(a + theta.shape[1], 1.0 / (b + np.sum(np.abs(theta), axis=1) / k))
        ig = inverse_gaussian(tau[:, None] * np.abs(theta) / k[:, None], 1.0 / tau[:, None] ** 2, rng)
        return replace(state, scale=tau, mix=1.0 / np.minimum(ig, U_MAX))

    def collapsed_update(self, theta: NDArray, cc: Collapsed, sigma: NDArray, k: NDArray, state: LaplaceState,
                         rng: np.random.Generator, alpha: float) -> NDArray:
        """The collapsed coordinate steps of the coordinates ``cc.cols``, in place (:func:`coordinate_steps`)."""
        return coordinate_steps(theta, cc.cols, cc.gcols, cc.gdiag, cc.xtr, sigma * sigma, state.scale * k, rng,
                                alpha)
