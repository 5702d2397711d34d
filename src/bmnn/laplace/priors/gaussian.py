"""The Gaussian prior's conditional update for the Gibbs kernel (:mod:`bmnn.laplace.kernel`), used when its scale
is learned (with the scale given the posterior is exact in closed form: :func:`closed_form`).

The prior: ``theta = w - mu ~ N(0, k^2 s^2 I)`` with ``k = 1`` when sigma is given (the scale ``s`` is absolute, as
the Laplace prior's tau is) and ``k = sigma`` when sigma is learned (the conjugate prior: the posterior is then a
multivariate Student t). Learned, ``s^2 ~ InvGamma(a, b)`` and ``s^2 | theta ~ InvGamma(a + p/2, b + ||theta / k||^2
/ 2)``, drawn exactly. Its MAP given sigma and s is ridge regression around mu with ``alpha = sigma^2 / (k^2 s^2)``,
which is also its posterior mean.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from bmnn.laplace.kernel import Start
from bmnn.laplace.priors.horseshoe import inverse_gamma


@dataclass(frozen=True)
class GaussianState:
    """The Gaussian prior's part of a chain's state: ``scale`` is s (chains,)."""

    scale: NDArray[np.float64]
    p: int


@dataclass(frozen=True)
class GaussianPrior:
    """The Gaussian prior with scale ``s`` given (``scale``) or learned under ``InvGamma(shape, rate)`` on ``s^2``
    (``scale_prior``)."""

    scale: float | None
    scale_prior: tuple[float, float] = (1.0, 1.0)
    #: this prior has no collapsed coordinate step
    collapsible = False

    def in_sigma_units(self, noise_learned: bool) -> bool:
        """In units of sigma only when sigma is learned (the conjugate prior)."""
        return noise_learned

    def init(self, chains: int, p: int, start: Start, rng: np.random.Generator) -> GaussianState:
        """s given, or 1."""
        return GaussianState(scale=np.full(chains, 1.0 if self.scale is None else self.scale), p=p)

    def variances(self, state: GaussianState) -> NDArray[np.float64]:
        """The prior variances of ``theta / k``: ``s^2`` for every coefficient."""
        return np.repeat((state.scale * state.scale)[:, None], state.p, axis=1)

    def update(self, state: GaussianState, theta: NDArray, k: NDArray, rng: np.random.Generator) -> GaussianState:
        """``s^2 | theta`` (if learned)."""
        if self.scale is not None:
            return state
        a, b = self.scale_prior
        s2 = inverse_gamma(a + 0.5 * state.p, b + 0.5 * np.sum((theta / k[:, None]) ** 2, axis=1), rng)
        return replace(state, scale=np.sqrt(s2))


@dataclass(frozen=True)
class ClosedForm:
    """The exact posterior of w under the Gaussian prior with its scale given: ``w | sigma ~ N(mean, sigma_f^2
    cov)`` where ``sigma_f`` is sigma given (then ``cov`` already includes it and ``noise`` is None), or, sigma
    learned, ``sigma^2 ~ InvGamma(noise)`` (shape, scale) and w is a multivariate Student t."""

    mean: NDArray[np.float64]
    cov: NDArray[np.float64]
    noise: tuple[float, float] | None

    def sd(self) -> NDArray[np.float64]:
        """The posterior sd of each coefficient (sigma learned: the Student t's, finite for shape > 1)."""
        var = np.diag(self.cov).copy()
        if self.noise is not None:
            a, b = self.noise
            var *= b / (a - 1.0) if a > 1.0 else np.inf
        return np.sqrt(var)

    def sample(self, chains: int, draws: int, rng: np.random.Generator) -> tuple[NDArray, NDArray | None]:
        """Independent draws of w (chains, draws, p), and of sigma (chains, draws) when learned."""
        p = self.mean.shape[0]
        root = np.linalg.cholesky(self.cov + 0.0 * np.eye(p))
        z = rng.standard_normal((chains, draws, p)) @ root.T
        if self.noise is None:
            return self.mean + z, None
        sigma = np.sqrt(inverse_gamma(self.noise[0], self.noise[1], rng, size=(chains, draws)))
        return self.mean + sigma[..., None] * z, sigma


def closed_form(gram: NDArray, xtr: NDArray, rtr: float, n_dof: int, location: NDArray, noise_sd: float | None,
                scale: float, noise_prior: tuple[float, float] | None) -> ClosedForm:
    """The exact posterior from ``X^T X``, ``X^T r``, ``r^T r`` (``r = y - X mu``) and the residual degrees of freedom:
    sigma given, ``A = X^T X / sigma^2 + I / s^2``, ``w ~ N(mu + A^-1 X^T r / sigma^2, A^-1)``; sigma learned,
    ``A1 = X^T X + I / s^2``, ``m = A^-1 X^T r``, ``sigma^2 | y ~ InvGamma(a0 + dof/2, b0 + (r^T r - m^T X^T r)/2)``
    and ``w | sigma ~ N(mu + m, sigma^2 A1^-1)``."""
    p = xtr.shape[0]
    if noise_sd is not None:
        A = gram / noise_sd**2 + np.eye(p) / scale**2
        chol = np.linalg.cholesky(A)
        cov = np.linalg.inv(A)
        mean = np.linalg.solve(chol.T, np.linalg.solve(chol, xtr / noise_sd**2))
        return ClosedForm(mean=location + mean, cov=(cov + cov.T) / 2, noise=None)
    A1 = gram + np.eye(p) / scale**2
    cov = np.linalg.inv(A1)
    m = np.linalg.solve(A1, xtr)
    a0, b0 = noise_prior if noise_prior is not None else (0.0, 0.0)
    quad = max(rtr - float(m @ xtr), 0.0)
    return ClosedForm(mean=location + m, cov=(cov + cov.T) / 2, noise=(a0 + 0.5 * n_dof, b0 + 0.5 * quad))
