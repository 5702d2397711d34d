"""The horseshoe prior's conditional updates for the Gibbs kernel (:mod:`bmnn.laplace.kernel`).

The prior (Carvalho, Polson & Scott, 2010): ``theta_j = w_j - mu_j | lambda_j, tau ~ N(0, lambda_j^2 tau^2
sigma^2)``, ``lambda_j ~ C+(0, 1)``, ``tau ~ C+(0, 1)`` unless given; in units of sigma whether sigma is given or
learned (``k = sigma`` in the kernel's notation), as is standard. Its density has a pole at ``theta_j = 0`` and
Cauchy tails: it shrinks noise hard and leaves large signals almost untouched, where the Laplace prior shrinks both
by the same amount.

Each local half-Cauchy is written with an inverse-gamma auxiliary (Makalic & Schmidt, 2016): ``lambda_j^2 | nu_j ~
InvGamma(1/2, 1/nu_j)``, ``nu_j ~ InvGamma(1/2, 1)``. Given ``z = theta / k`` every conditional is then an inverse
gamma, drawn exactly (:meth:`HorseshoePrior.update`):

* ``lambda_j^2 | z_j, nu_j, tau ~ InvGamma(1, 1/nu_j + z_j^2 / (2 tau^2))``;
* ``nu_j | lambda_j ~ InvGamma(1, 1 + 1/lambda_j^2)``;
* tau learned: see below.

tau learned is not drawn given theta (that centred update, with an auxiliary like nu's, mixes slowly when p is
large: tau and every theta_j feed each other) but at the start of each sweep given lambda and the data, with theta
and sigma integrated out (:meth:`HorseshoePrior.marginal_update`, the idea of Johndrow, Orenstein & Bhattacharya, 2020):
``y - X mu | lambda, tau, sigma ~ N(0, sigma^2 M)``, ``M = I + tau^2 X Lambda^2 X^T``, so that

    log p(tau | lambda, y) = -log det(M) / 2 - quad(M) / (2 sigma^2) + log p(tau)            (sigma given)
    log p(tau | lambda, y) = -log det(M) / 2 - (a0 + dof/2) log(b0 + quad(M) / 2) + log p(tau)   (sigma learned)

with ``quad(M) = r^T M^-1 r`` and ``p(tau)`` the half-Cauchy; both terms are sums over the eigenvalues of
``X Lambda^2 X^T``, computed once per sweep, so the density costs O(min(n, p)) at any tau. ``log tau`` is drawn by
slice sampling (Neal, 2003: stepping out, shrinkage), which leaves this density exactly invariant; the kernel's
Gaussian block then draws sigma and theta afresh given the new tau. No auxiliary for tau is needed.

An inverse gamma ``InvGamma(a, b)`` is drawn as ``b / G``, ``G ~ Gamma(a, 1)``: a scale ``b`` that is tiny or huge
does not lose digits, so nothing is clipped here. The kernel's Gaussian block floors each prior variance at
``1 / U_MAX = 1e-300`` (the conditional sd of such a coefficient is then below 1e-150); a ``lambda_j`` that small
still moves, by the multiplicative steps of the updates above. The prior has no collapsed coordinate step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from bmnn.laplace.kernel import Start


def inverse_gamma(shape: float, scale: NDArray | float, rng: np.random.Generator, size=None) -> NDArray[np.float64]:
    """Draws of InvGamma(shape, scale) (density ``~ x^-(shape + 1) exp(-scale / x)``) as ``scale / Gamma(shape)``."""
    scale = np.asarray(scale, dtype=np.float64)
    return scale / rng.gamma(shape, size=scale.shape if size is None else size)


@dataclass(frozen=True)
class HorseshoeState:
    """The horseshoe's part of a chain's state: ``scale`` is tau (chains,); ``lam2`` the local ``lambda_j^2``
    (chains, p); ``nu`` their auxiliaries."""

    scale: NDArray[np.float64]
    lam2: NDArray[np.float64]
    nu: NDArray[np.float64]


@dataclass(frozen=True)
class HorseshoePrior:
    """The horseshoe with tau given (``scale``) or learned under ``tau ~ C+(0, 1)``."""

    scale: float | None
    #: this prior has no collapsed coordinate step
    collapsible = False

    def in_sigma_units(self, noise_learned: bool) -> bool:
        """Always: the prior of theta is in units of sigma, given or learned."""
        return True

    def init(self, chains: int, p: int, start: Start, rng: np.random.Generator) -> HorseshoeState:
        """tau given, or Piironen & Vehtari's reference scale for one expected non-zero weight, ``1 / ((p - 1)
        sqrt(n))`` in units of sigma (at most 1): a sparse start; every lambda_j = 1, the auxiliaries at 1."""
        ref = min(1.0, 1.0 / (max(p - 1, 1) * np.sqrt(start.n)))
        tau = np.full(chains, ref if self.scale is None else self.scale)
        return HorseshoeState(scale=tau, lam2=np.ones((chains, p)), nu=np.ones((chains, p)))

    def variances(self, state: HorseshoeState) -> NDArray[np.float64]:
        """The prior variances of ``theta / sigma`` given the local and global scales: ``lambda_j^2 tau^2``."""
        return state.lam2 * (state.scale * state.scale)[:, None]

    def update(self, state: HorseshoeState, theta: NDArray, k: NDArray, rng: np.random.Generator) -> HorseshoeState:
        """lambda^2 and nu given theta and tau, each from its exact conditional (module docstring)."""
        z2 = (theta / k[:, None]) ** 2
        tau2 = state.scale * state.scale
        lam2 = inverse_gamma(1.0, 1.0 / state.nu + z2 / (2.0 * tau2[:, None]), rng)
        return replace(state, lam2=lam2, nu=inverse_gamma(1.0, 1.0 + 1.0 / lam2, rng))

    def marginal_update(self, state: HorseshoeState, design, noise: tuple[float, float, float] | None,
                        sigma: NDArray, rng: np.random.Generator) -> HorseshoeState:
        """tau given lambda and the data, theta and sigma integrated out (module docstring); nothing when tau is
        given. ``noise``: sigma^2's inverse-gamma (a0, b0) and the degrees of freedom when sigma is learned."""
        if self.scale is not None:
            return state
        kappa, u, rest = design.spectrum(state.lam2)

        def log_density(x: NDArray) -> NDArray:  # x = log tau, per chain
            t = np.exp(2.0 * x)[:, None]
            logdet = np.sum(np.log1p(t * kappa), axis=1)
            quad = rest + np.sum(u / (1.0 + t * kappa), axis=1)
            if noise is None:
                fit = -quad / (2.0 * sigma * sigma)
            else:
                a0, b0, dof = noise
                fit = -(a0 + 0.5 * dof) * np.log(b0 + 0.5 * quad)
            return -0.5 * logdet + fit - np.log1p(np.exp(2.0 * x)) + x  # half-Cauchy, in log tau

        return replace(state, scale=np.exp(slice_sample(np.log(state.scale), log_density, rng)))


def slice_sample(x0: NDArray, log_density, rng: np.random.Generator, width: float = 1.0, steps: int = 20,
                 shrinks: int = 200) -> NDArray[np.float64]:
    """One slice-sampling update (Neal, 2003: stepping out by ``width`` at most ``steps`` times, then shrinkage) of
    each entry of ``x0`` under its own ``log_density`` (vectorised: it takes and returns arrays shaped as ``x0``). It
    leaves each density exactly invariant; an entry whose shrinkage has not ended after ``shrinks`` tries keeps its
    value (the interval has then shrunk by a factor of about 2^200 onto it)."""
    level = log_density(x0) - rng.exponential(size=x0.shape)
    lo = x0 - width * rng.random(x0.shape)
    hi = lo + width
    left = np.floor(steps * rng.random(x0.shape))
    right = steps - 1 - left
    with np.errstate(over="ignore", invalid="ignore"):
        while np.any(grow := (left > 0) & (log_density(lo) > level)):
            lo = np.where(grow, lo - width, lo)
            left -= grow
        while np.any(grow := (right > 0) & (log_density(hi) > level)):
            hi = np.where(grow, hi + width, hi)
            right -= grow
        out, active = x0.copy(), np.ones(x0.shape, dtype=bool)
        for _ in range(shrinks):
            x1 = lo + rng.random(x0.shape) * (hi - lo)
            take = active & (log_density(x1) > level)
            out = np.where(take, x1, out)
            active &= ~take
            if not active.any():
                break
            lo = np.where(active & (x1 < x0), x1, lo)
            hi = np.where(active & (x1 >= x0), x1, hi)
    return out
