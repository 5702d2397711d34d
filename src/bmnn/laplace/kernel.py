"""One sweep of the Gibbs sampler for linear regression with a scale-mixture-of-Normals prior: the kernel.

The model. ``y = X w + eps``, ``eps ~ N(0, sigma^2 I)``; ``theta = w - mu`` has the prior
``theta_j | v_j ~ N(0, k^2 v_j)`` given the prior's mixing variables ``v`` (their law, and that of any global
scale, is the prior's: :mod:`bmnn.laplace.priors`), where ``k = sigma`` when the prior is in units of sigma and
``k = 1`` otherwise. sigma is given, or learned under ``p(sigma^2) ~ (sigma^2)^-(a0 + 1) exp(-b0 / sigma^2)``
(``a0 = b0 = 0``: Jeffreys' ``1 / sigma^2``).

One sweep (:meth:`Kernel.step`) draws, each from its exact conditional, in this order:

1. **the Gaussian block** (:func:`gaussian_update`, sigma given): ``theta | v, y ~ N(A^-1 c, A^-1)``,
   ``A = X^T X / sigma^2 + diag(1 / (k^2 v))``, by the cheaper exact algorithm for the shape of X
   (:mod:`bmnn.laplace.gaussian_draw`: the p x p system, or Bhattacharya et al.'s n x n one for p > n);
   **or, sigma learned, the noise and the Gaussian block together** (:func:`noise_gaussian_update`, the two-block
   sampler of Rajaratnam et al., 2019, which mixes far better than drawing sigma^2 given theta; it needs ``k =
   sigma``): ``sigma^2 | v, y ~ InvGamma(a0 + dof / 2, b0 + q / 2)`` with theta integrated out,
   ``q = r^T (I + X V X^T)^-1 r = ||r - X m||^2 + m^T V^-1 m`` (``r = y - X mu``, ``m = (X^T X + V^-1)^-1 X^T r``,
   both free of sigma), then theta: one draw with sigma = 1 gives ``m`` and a draw ``u ~ N(m, (X^T X + V^-1)^-1)``,
   and ``m + sigma (u - m)`` is the draw for the new sigma;
2. the prior's collapsed coordinate steps, for the coordinates the driver chose (only a prior that has them);
3. the prior's own variables given theta (its global scale and the mixing variables ``v``).

A prior may also offer a step taken first, before the Gaussian block (``marginal_update``): its global scale given
its local scales and the data, with theta and sigma integrated out (through the spectrum of ``X V X^T``:
:meth:`~bmnn.laplace.gaussian_draw.Design.spectrum`). The Gaussian block that follows draws theta and sigma from
their full conditional given that scale, so the sweep is a partially collapsed Gibbs sampler (van Dyk & Park, 2008)
and still targets the posterior; that block then draws theta afresh (no over-relaxation), since the old theta is
not a draw given the new scale.

Over-relaxation (Adler 1981; Neal 1998). Step 1 may replace the exact draw ``theta*`` by
``m + alpha (theta_old - m) + sqrt(1 - alpha^2) (theta* - m)`` (``m`` the conditional mean, ``-1 < alpha <= 0``):
an AR(1) move that leaves ``N(m, A^-1)`` exactly invariant and is reversible with respect to it, so the sweep still
targets the posterior; it costs one array operation, since ``m`` and ``theta*`` are both at hand. With learned
sigma the move is made on ``(theta - m) / sigma``, whose conditional law given ``v`` is free of sigma, so it commutes
with the collapsed sigma draw (the old theta is not a draw for the *new* sigma; its standardised offset is). A
negative alpha makes successive draws of a coefficient anti-correlated, which raises the bulk ESS (too strong a value
lowers the tail ESS: ``benchmarks/bench_laplace_scale.py`` measures both); ``alpha = 0`` is the plain Gibbs sampler.

The state is a :class:`ChainState`; the kernel is pure apart from the Generator it is handed, and the driver
(:func:`bmnn.laplace.gibbs.run`) owns the loop: warm-up, kept draws, the choice of collapsed coordinates, range
checks and units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from bmnn.laplace import gaussian_draw

#: the largest mixing precision ``1 / v_j`` kept, and so the least prior variance: a mixing draw can be +inf or 0 at
#: the edges of float64 (tiny tau), and inf * 0 in the linear system would be NaN. At a precision of 1e300 the
#: conditional sd of theta_j is below 1e-150, so the cap moves no draw by more than that.
U_MAX = 1e300


class Start(NamedTuple):
    """What a prior may use to place its starting point: sigma's starting value, the prior's unit k at it,
    ``max |X^T (y - X mu)|`` and the number of rows."""

    sigma: float
    k: float
    grad: float
    n: int = 1


class Collapsed(NamedTuple):
    """The coordinates given collapsed coordinate steps and the Gram matrix entries those steps read: ``cols``,
    ``gcols = (X^T X)[:, cols]``, ``gdiag`` the diagonal of ``X^T X``, ``xtr = X^T (y - X mu)``."""

    cols: NDArray[np.intp]
    gcols: NDArray[np.float64]
    gdiag: NDArray[np.float64]
    xtr: NDArray[np.float64]


class Prior(Protocol):
    """What the kernel asks of a prior (:mod:`bmnn.laplace.priors`)."""

    collapsible: bool

    def in_sigma_units(self, noise_learned: bool) -> bool: ...
    def init(self, chains: int, p: int, start: Start, rng: np.random.Generator) -> Any: ...
    def variances(self, state: Any) -> NDArray[np.float64]: ...
    def update(self, state: Any, theta: NDArray, k: NDArray, rng: np.random.Generator) -> Any: ...


@dataclass(frozen=True)
class ChainState:
    """The state of every chain after a sweep (leading axis: chains).

    Attributes
    ----------
    theta : (chains, p)
        ``w - mu``, in the sampler's units (the driver may have scaled the data by a power of two).
    sigma : (chains,)
        The noise sd (constant when given).
    prior : the prior's state
        Its global scale (``prior.scale``) and mixing variables.
    cond_mean : (chains, p) or None
        ``E[theta | v, sigma, y]`` from the last Gaussian block, for the Rao-Blackwellised mean.
    """

    theta: NDArray[np.float64] | None
    sigma: NDArray[np.float64]
    prior: Any
    cond_mean: NDArray[np.float64] | None = None


def gaussian_update(design: gaussian_draw.Design, theta: NDArray | None, var: NDArray, sigma: NDArray,
                    alpha: float, rng: np.random.Generator, work: gaussian_draw.Workspace) -> tuple[NDArray, NDArray]:
    """Step 1 with sigma given: ``theta | v, y`` (over-relaxed by ``alpha`` about the conditional mean when an old
    ``theta`` is given); ``var`` the prior variances ``k^2 v``. Returns the new theta and the conditional mean."""
    fresh, cond_mean = gaussian_draw.draw(design, np.maximum(var, 1.0 / U_MAX), sigma, rng, work)
    if alpha != 0.0 and theta is not None:
        keep = np.sqrt(1.0 - alpha * alpha)
        return cond_mean + alpha * (theta - cond_mean) + keep * (fresh - cond_mean), cond_mean
    return fresh, cond_mean


def noise_gaussian_update(design: gaussian_draw.Design, theta: NDArray | None, sigma: NDArray, var: NDArray,
                          noise: tuple[float, float, float], alpha: float, rng: np.random.Generator,
                          work: gaussian_draw.Workspace) -> tuple[NDArray, NDArray, NDArray]:
    """Step 1 with sigma learned: ``(sigma^2, theta) | v, y`` as one block; ``var`` the prior variances of
    ``theta / sigma``, ``noise = (a0, b0, dof)`` sigma^2's inverse-gamma prior and the residual degrees of freedom.
    Returns the new sigma, theta and the conditional mean."""
    a_s, b_s, dof = noise
    var = np.maximum(var, 1.0 / U_MAX)
    chains = sigma.shape[0]
    unit, cond_mean = gaussian_draw.draw(design, var, np.ones(chains), rng, work)  # N(m, A1^-1), A1 = X^T X + V^-1
    quad = design.marginal_quad(cond_mean, var)  # r^T (I + X V X^T)^-1 r
    step = unit - cond_mean  # N(0, A1^-1)
    if alpha != 0.0 and theta is not None:  # over-relax the standardised offset, free of sigma
        step = alpha * (theta - cond_mean) / sigma[:, None] + np.sqrt(1.0 - alpha * alpha) * step
    new_sigma = np.sqrt((b_s + 0.5 * quad) / rng.gamma(a_s + 0.5 * dof, size=chains))
    return new_sigma, cond_mean + new_sigma[:, None] * step, cond_mean  # theta ~ N(m, sigma^2 A1^-1)


@dataclass(frozen=True)
class Kernel:
    """One sweep of the sampler on one data set, for many chains at once.

    Attributes
    ----------
    design : gaussian_draw.Design
        The data: ``X^T X``, ``X^T r`` and what the chosen Gaussian draw needs (``r = y - X mu``).
    prior : Prior
        The prior's conditional updates (:mod:`bmnn.laplace.priors`).
    noise : (a0, b0, dof) or None
        sigma learned: sigma^2's inverse-gamma prior (in the sampler's units) and the residual degrees of freedom
        (n, less one for an intercept integrated out); ``None``: sigma given.
    overrelax : float in (-1, 0]
        alpha of the Gaussian block.
    """

    design: gaussian_draw.Design
    prior: Prior
    noise: tuple[float, float, float] | None
    overrelax: float = 0.0

    def _k(self, sigma: NDArray) -> NDArray:
        return sigma if self.prior.in_sigma_units(self.noise is not None) else np.ones(sigma.shape[0])

    def init(self, chains: int, sigma: float | None, rng: np.random.Generator) -> ChainState:
        """The starting state: sigma given, or the spread of ``y - X mu``; the prior's own start; no theta yet."""
        d = self.design
        s = np.full(chains, sigma if sigma is not None else max(np.sqrt(d.rtr / d.n), 1e-300))
        grad = float(np.max(np.abs(d.xtr))) if d.xtr.size else 0.0
        start = Start(float(s[0]), float(self._k(s)[0]), grad, d.n)
        return ChainState(theta=None, sigma=s, prior=self.prior.init(chains, d.p, start, rng))

    def step(self, state: ChainState, rng: np.random.Generator, work: gaussian_draw.Workspace,
             collapsed: Collapsed | None = None) -> ChainState:
        """One sweep (module docstring): the Gaussian block (with sigma, if learned), the collapsed coordinate steps
        of ``collapsed`` (if any), the prior's variables."""
        old = state.theta  # the over-relaxed move starts from it: valid only if it is a draw given the current v
        if hasattr(self.prior, "marginal_update"):
            prior = self.prior.marginal_update(state.prior, self.design, self.noise, state.sigma, rng)
            if prior is not state.prior:  # the scale moved with theta integrated out: draw theta afresh
                old = None
            state = replace(state, prior=prior)
        v = self.prior.variances(state.prior)
        if self.noise is not None:
            sigma, theta, cond_mean = noise_gaussian_update(self.design, old, state.sigma, v, self.noise,
                                                            self.overrelax, rng, work)
            k = sigma
        else:
            sigma, k = state.sigma, self._k(state.sigma)
            theta, cond_mean = gaussian_update(self.design, old, k[:, None] ** 2 * v, sigma, self.overrelax, rng,
                                               work)
        if collapsed is not None:
            theta = self.prior.collapsed_update(theta, collapsed, sigma, k, state.prior, rng, self.overrelax)
        return ChainState(theta=theta, sigma=sigma, prior=self.prior.update(state.prior, theta, k, rng),
                          cond_mean=cond_mean)
