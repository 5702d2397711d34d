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
from scipy.linalg import solve_triangular

from bmnn._checks import InputError
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
    A^-1)`` where ``sigma_f`` is 1 when sigma is given (``A`` then includes it, and ``noise`` is None), or, sigma
    learned, ``sigma^2 ~ InvGamma(noise)`` (shape, scale) and w is a multivariate Student t. ``chol`` is the lower
    Cholesky factor of the precision ``A``; nothing inverts it explicitly."""

    mean: NDArray[np.float64]
    chol: NDArray[np.float64]
    noise: tuple[float, float] | None

    @property
    def cov(self) -> NDArray[np.float64]:
        """``A^-1`` (times sigma^2 when sigma is learned), from the factor."""
        inv = solve_triangular(self.chol, np.eye(self.chol.shape[0]), lower=True)
        return inv.T @ inv

    def sd(self) -> NDArray[np.float64]:
        """The posterior sd of each coefficient (sigma learned: the Student t's, finite for shape > 1)."""
        inv = solve_triangular(self.chol, np.eye(self.chol.shape[0]), lower=True)
        var = np.sum(inv * inv, axis=0)  # diag(A^-1) = column norms of L^-1
        if self.noise is not None:
            a, b = self.noise
            var *= b / (a - 1.0) if a > 1.0 else np.inf
        return np.sqrt(var)

    def sample(self, chains: int, draws: int, rng: np.random.Generator) -> tuple[NDArray, NDArray | None]:
        """Independent draws of w (chains, draws, p), and of sigma (chains, draws) when learned: ``mean + L^-T z``
        has covariance ``A^-1``."""
        p = self.mean.shape[0]
        z = rng.standard_normal((p, chains * draws))
        w = solve_triangular(self.chol, z, lower=True, trans="T").T.reshape(chains, draws, p)
        if self.noise is None:
            return self.mean + w, None
        sigma = np.sqrt(inverse_gamma(self.noise[0], self.noise[1], rng, size=(chains, draws)))
        return self.mean + sigma[..., None] * w, sigma


def closed_form(gram: NDArray, xtr: NDArray, rtr: float, n_dof: int, location: NDArray, noise_sd: float | None,
                scale: float, noise_prior: tuple[float, float] | None) -> ClosedForm:
    """The exact posterior from ``X^T X``, ``X^T r``, ``r^T r`` (``r = y - X mu``) and the residual degrees of freedom:
    sigma given, ``A = X^T X / sigma^2 + I / s^2``, ``w ~ N(mu + A^-1 X^T r / sigma^2, A^-1)``; sigma learned,
    ``A1 = X^T X + I / s^2``, ``m = A1^-1 X^T r``, ``sigma^2 | y ~ InvGamma(a0 + dof/2, b0 + (r^T r - m^T X^T r)/2)``
    and ``w | sigma ~ N(mu + m, sigma^2 A1^-1)``. Refuses a precision that is not numerically positive definite
    (a scale so wide that X^T X's null space, p > n, is not held by the prior) and, under Jeffreys' prior, y = X mu
    exactly (the posterior of sigma is then improper)."""
    p = xtr.shape[0]
    given = noise_sd is not None
    A = (gram / noise_sd**2 if given else gram) + np.eye(p) / scale**2
    try:
        chol = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise InputError(f"scale = {scale:g} is too wide for these data: the posterior's precision X^T X + I / s^2 "
                         "is singular to float64's precision (p > n or collinear columns); give a smaller scale",
                         param="scale") from None
    m = solve_triangular(chol, solve_triangular(chol, xtr / noise_sd**2 if given else xtr, lower=True), lower=True,
                         trans="T")
    if given:
        return ClosedForm(mean=location + m, chol=chol, noise=None)
    a0, b0 = noise_prior if noise_prior is not None else (0.0, 0.0)
    quad = max(rtr - float(m @ xtr), 0.0)
    if b0 == 0.0 and quad == 0.0:
        raise InputError("y - X location is all zeros: with noise_sd learned under Jeffreys' prior 1 / sigma^2 the "
                         "posterior of sigma is improper (it piles up at 0); give noise_sd, or a noise_prior with "
                         "rate > 0", param="noise_sd")
    return ClosedForm(mean=location + m, chol=chol, noise=(a0 + 0.5 * n_dof, b0 + 0.5 * quad))
