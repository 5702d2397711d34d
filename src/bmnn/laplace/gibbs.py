"""A vectorised Gibbs sampler for Bayesian linear regression with a Laplace prior: sigma and tau fixed (the
material's model) or learned.

Written by hand because it is measurably better here than a general-purpose sampler: the model is
conditionally conjugate, so every step is an exact draw, and many chains (and many independent data sets)
advance together as one array; ``benchmarks/bench_laplace.py`` and ``benchmarks/bench_laplace_scale.py`` measure
its ESS per second against NumPyro's NUTS.

The model. ``y = X w + eps``, ``eps ~ N(0, sigma^2 I)``, ``w_j ~ Laplace(mu_j, b)`` independently, where the
Laplace scale is ``b = tau`` when sigma is given (exactly the material's model) and ``b = sigma tau`` when sigma is
learned: this is the Bayesian lasso of Park & Casella (2008), whose prior is scaled by sigma so that the joint
posterior of (w, sigma^2) is unimodal (with an unscaled prior it can have several modes). Learned sigma has the
prior ``p(sigma^2) ~ (sigma^2)^-(a0 + 1) exp(-b0 / sigma^2)`` (``a0 = b0 = 0``: Jeffreys' ``1 / sigma^2``, the
default); learned tau has a Gamma(a, b) prior (shape a, rate b) on the rate ``1 / tau``.

The Laplace prior as a scale mixture of Normals: ``theta_j = w_j - mu_j | s_j ~ N(0, k^2 s_j)``,
``s_j ~ Exponential(mean 2 tau^2)``, with ``k = sigma`` (learned sigma) or 1. One sweep draws, each from its exact
conditional:

1. ``theta | s, sigma, y ~ N(A^-1 c, A^-1)``, ``A = X^T X / sigma^2 + diag(1 / (k^2 s))``, by the cheaper exact
   algorithm (:mod:`bmnn.laplace.gaussian_draw`: the p x p system, or Bhattacharya et al.'s n x n one for p > n);
2. learned sigma: ``(sigma^2, theta)`` as one block (the two-block sampler of Rajaratnam et al., 2019, which mixes
   far better than drawing sigma^2 given theta): ``sigma^2 | s, y ~ InvGamma(a0 + n / 2, b0 + q / 2)`` with theta
   integrated out, ``q = r^T (I + X S X^T)^-1 r = ||r - X m||^2 + m^T S^-1 m`` (``r = y - X mu``,
   ``m = (X^T X + S^-1)^-1 X^T r``, both free of sigma), then theta as in 1: one draw with sigma = 1 gives ``m`` and
   a draw ``u ~ N(m, (X^T X + S^-1)^-1)``, and ``m + sigma (u - m)`` is the draw for the new sigma;
3. learned tau, jointly with s (s integrated out first, then drawn given the new tau):
   ``1 / tau | theta, sigma ~ Gamma(a + p, b + ||theta||_1 / k)``;
4. ``1 / s_j | theta_j, sigma, tau ~ InverseGaussian(mean k / (tau |theta_j|), shape 1 / tau^2)``.

Over-relaxation (Adler 1981; Neal 1998). Step 1 may replace the exact draw ``theta*`` by
``m + alpha (theta_old - m) + sqrt(1 - alpha^2) (theta* - m)`` (``m`` the conditional mean, ``-1 < alpha <= 0``):
an AR(1) move that leaves ``N(m, A^-1)`` exactly invariant and is reversible with respect to it, so the sweep still
targets the posterior; it costs one array operation, since ``m`` and ``theta*`` are both at hand. With learned
sigma the move is made on ``(theta - m) / sigma``, whose conditional law given ``s`` is free of sigma, so it commutes
with the collapsed sigma draw (the old theta is not a draw for the *new* sigma; its standardised offset is).
A negative ``alpha`` makes successive draws of a coefficient anti-correlated: measured here
(``benchmarks/bench_laplace_scale.py``, 16 chains), ``alpha = -0.5`` (the default) doubles the smallest bulk ESS
per draw at 1000 x 100 (0.52 to 1.05) while the smallest tail ESS also rises (0.81 to 0.86 per draw); stronger
values raise the bulk ESS further and lower the tail ESS (``-0.8``: bulk 1.55, tail 0.48). ``alpha = 0`` is the
plain Gibbs sampler.

Collapsed coordinate steps. The block draw of step 1 mixes the correlations among coefficients perfectly given
``s``, but a coefficient and its own mixing variable feed each other (a small ``|theta_j|`` draws a small ``s_j``,
which keeps ``theta_j`` small; a strongly shrunk coefficient of a p >> n problem likewise). After warm-up the
sampler therefore also draws, for a fixed set ``K`` of coordinates, ``theta_j | theta_-j, sigma, tau, y`` with
``s_j`` integrated out, one coordinate after another: the Laplace prior times the Gaussian likelihood in
``theta_j``, an exact two-piece truncated Normal, ``p(theta_j) ~ exp(-a theta_j^2 / 2 + l theta_j - |theta_j| / b)``
(``a = ||x_j||^2 / sigma^2``, ``b`` the Laplace scale), whose sign is drawn from the two pieces' masses and whose
value by the inverse CDF in logarithms (``log_ndtr``, ``ndtri_exp``). These moves leave the posterior of
``(theta, sigma, tau)`` invariant and do not read ``s``; step 4 then redraws every ``s_j`` from its exact
conditional given the new theta, so the sweep still targets the joint posterior. ``K`` is chosen once, at the end of
warm-up, as the coordinates with the smallest ESS over the second half of the warm-up (batch means, pooled over
chains), and fixed afterwards (a fixed kernel for the kept draws). Its size by default keeps the extra cost near a
tenth of the block draw's (:func:`auto_coordinate_steps`). The steps are over-relaxed by the same ``alpha`` as the
Gaussian step, in normal scores: with ``F`` the conditional's CDF, ``z = Phi^-1(F(theta_j))`` moves to
``alpha z + sqrt(1 - alpha^2) xi`` and ``theta_j`` to ``F^-1(Phi(z))``, an AR(1) move in z that leaves the
conditional exactly invariant and is reversible with respect to it. Measured here at 200 x 2000 (the synthetic data
of ``benchmarks/bench_laplace_scale.py``, 16 chains, 300 warm-up iterations and 300 draws), 41 steps per sweep raise
the smallest bulk ESS per draw from 0.24 to 0.54 and the smallest tail ESS from 0.24 to 0.66, for 12% more time (the
slowest coordinates are then the strongly shrunk true signals); exact draws instead of over-relaxed ones, at the
93 steps of an earlier cost model, reached 0.39.

The inverse-Gaussian draw is the Michael-Schucany-Haas transformation rewritten in terms of the *inverse* mean
``a = tau |theta_j| / k``: ``x = 1 / (a + q + sqrt(q (q + 2 a)))`` with ``q = Z^2 / (2 shape)``, accepted with
probability ``1 / (1 + a x)``, else ``1 / (a^2 x)``. Nothing cancels, and ``a = 0`` gives the exact limit (the Levy
law ``shape / Z^2``). The textbook form ``m + m^2 y / (2 shape) - ...`` loses every digit when the mean ``m`` is
huge; numpy's ``Generator.wald`` was seen to return zero or negative values at a mean of 1e16.

Units. With sigma learned the model is exactly equivariant under a rescaling of y (and mu): w - mu and sigma scale
with it, tau does not, and Jeffreys' prior is scale-free (an inverse-gamma rate scales with sigma^2). The sampler
therefore runs on ``r = y - X mu`` multiplied by the power of four that brings its largest entry near 1 (its norm,
from the statistics), and multiplies the draws back: a power of two, so the draws are exactly those in the data's
units, and y of size 1e200 or 1e-200 is served as y of size 1. ``r = 0`` under Jeffreys' prior is refused (the
posterior of sigma is improper). A state that still leaves float64's range (e.g. sigma given, tau learned, y of
size 1e200: tau^2 overflows) is refused with a message, not returned as NaN draws.

Draws are shaped ``(chains, draws, ...)``; ESS, R-hat and MCSE come from ArviZ (:mod:`bmnn.laplace.diagnostics`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_expit, log_ndtr, ndtri_exp

from bmnn._checks import (
    InputError,
    as_generator,
    as_real_array,
    check_memory,
    count,
    finite_scalar,
    positive_scalar,
)
from bmnn.laplace import gaussian_draw
from bmnn.laplace.diagnostics import summarize
from bmnn.laplace.posterior import validate_design, validate_location, validate_problem, validate_statistics
from bmnn.laplace.settings import DEFAULTS, check_prior

#: the default Gamma(shape, rate) prior on 1 / tau when tau is learned: Exponential with mean 1. Weak where 1 / tau
#: is well below a few units (standardised X, y in sigma units; or, with sigma given, coefficients of size 1 or
#: more); its rate must be > 0: with a flat prior on 1 / tau the posterior is improper (the likelihood stays
#: positive as tau -> 0, where w -> mu), and the sampler drifts to tau = 0
DEFAULT_SCALE_PRIOR = DEFAULTS["scale_prior"]

#: alpha of the over-relaxed Gaussian step (module docstring): both the bulk and the tail ESS per draw rise with it
#: at the sizes of ``benchmarks/bench_laplace_scale.py``
DEFAULT_OVERRELAX = DEFAULTS["overrelax"]


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


#: the cost model of :func:`auto_coordinate_steps`, calibrated on this project's 2-core x86-64 machine: the block
#: draw runs at about 4e10 flop/s-equivalents (float32 products for the n x n way); one coordinate step costs about
#: 80 microseconds, nearly all of it per-call overhead (measured 87, 80 and 83 with 4, 16 and 64 chains)
BLOCK_FLOPS_PER_S, STEP_S, STEP_S_PER_CHAIN = 4e10, 8e-5, 1e-7
#: the share of the block draw's cost the default coordinate steps may add
STEP_BUDGET = 0.1
#: the least warm-up from which coordinate steps are chosen (its second half ranks the coordinates)
STEP_MIN_WARMUP = 40


def auto_coordinate_steps(n: int, p: int, chains: int) -> int:
    """The default number of collapsed coordinate steps per sweep: as many as cost about ``STEP_BUDGET`` of the
    block draw by the cost model above (none at small p, where the block draw is cheap; 41 at 200 x 2000 with 16
    chains)."""
    algorithm = gaussian_draw.choose(n, p)
    block = gaussian_draw.costs(n, p)[algorithm] * chains / BLOCK_FLOPS_PER_S
    return int(min(p, STEP_BUDGET * block // (STEP_S + STEP_S_PER_CHAIN * chains)))


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


#: normal scores are kept within +-Z_MAX (Phi(-37.5) is about 5e-308, float64's least normal number)
Z_MAX = 37.5


@dataclass(frozen=True)
class GibbsResult:
    """Draws shaped ``(chains, draws, ...)``: ``draws`` of w (p), and of ``noise_sd`` and ``scale`` where they were
    learned (``None`` where fixed); ``rb_mean`` is the Rao-Blackwellised posterior mean of w per chain;
    ``algorithm`` is the Gaussian draw used; ``coordinates`` those given collapsed coordinate steps."""

    draws: NDArray[np.float64]
    rb_mean: NDArray[np.float64]
    noise_sd: NDArray[np.float64] | None = None
    scale: NDArray[np.float64] | None = None
    algorithm: str = "precision"
    overrelax: float = 0.0
    coordinates: NDArray[np.intp] | None = None  # the coordinates of the collapsed steps (None: none taken)

    def diagnostics(self) -> dict[str, NDArray[np.float64]]:
        """Posterior mean and sd, and ArviZ's MCSE of the mean, bulk ESS and rank-normalised R-hat, per coefficient."""
        return summarize(self.draws)


#: the largest mixing precision u_j kept: the inverse-Gaussian draw is +inf when tau |theta_j| underflows (tiny tau),
#: and inf * 0 in the linear system would be NaN. At u_j = 1e300 the conditional sd of theta_j is below 1e-150, so
#: the cap moves no draw by more than that.
U_MAX = 1e300


def gibbs_batched(
    gram: NDArray, c: NDArray, scale: float, *, chains: int, draws: int, warmup: int,
    rng: np.random.Generator, keep_draws: bool = True,
) -> tuple[NDArray | None, NDArray]:
    """The sampler with sigma and tau fixed on many independent problems at once (the simulation studies).

    Parameters
    ----------
    gram : array, shape (B, p, p)
        ``X^T X / sigma^2`` per problem.
    c : array, shape (B, p)
        ``X^T (y - X mu) / sigma^2`` per problem.
    scale : float
        tau.

    Returns
    -------
    draws : array (B, chains, draws, p) of theta = w - mu, or None when ``keep_draws`` is False
    rb_mean : array (B, chains, p)
        The Rao-Blackwellised mean of theta, averaging ``E[theta | u, y]`` over the kept iterations.
    """
    b, p = c.shape
    check_memory(8.0 * b * chains * ((draws if keep_draws else 0) * p + 3 * p * p + 8 * p),
                 f"draws x chains x p = {draws} x {chains} x {p} kept values and {chains} {p} x {p} systems")
    lam = 1.0 / scale**2
    evals, evecs = np.linalg.eigh(gram)  # a square root of the PSD Gram matrix (p > N is allowed)
    root = (evecs * np.sqrt(np.clip(evals, 0.0, None))[:, None, :])[:, None]  # (B, 1, p, p)
    u = np.minimum(1.0 / rng.exponential(2 * scale**2, size=(b, chains, p)), U_MAX)  # the prior's mixing law
    eye = np.eye(p)
    gram = gram[:, None]
    rhs = np.empty((b, chains, p, 2))
    rhs[..., 1] = c[:, None, :]
    out = np.empty((b, chains, draws, p)) if keep_draws else None
    rb = np.zeros((b, chains, p))
    for it in range(warmup + draws):
        z1 = rng.standard_normal((b, chains, p, 1))
        z2 = rng.standard_normal((b, chains, p))
        rhs[..., 0] = rhs[..., 1] + (root @ z1)[..., 0] + np.sqrt(u) * z2
        sol = np.linalg.solve(gram + u[..., None] * eye, rhs)
        theta = sol[..., 0]
        if it >= warmup:
            rb += sol[..., 1]
            if out is not None:
                out[:, :, it - warmup] = theta
        u = np.minimum(inverse_gaussian(scale * np.abs(theta), lam, rng), U_MAX)
    return out, rb / draws


def _prior_pair(name: str, value, what: str) -> tuple[float, float]:
    return check_prior(name, value)


def gibbs(
    X: ArrayLike, y: ArrayLike, noise_sd: float | None, scale: float | None, location: ArrayLike = 0.0, *,
    draws: int = DEFAULTS["draws"], warmup: int = DEFAULTS["warmup"], chains: int = DEFAULTS["chains"],
    seed: int | np.random.Generator | None = None,
    scale_prior: tuple[float, float] = DEFAULT_SCALE_PRIOR, noise_prior: tuple[float, float] | None = None,
    algorithm: str | None = None, overrelax: float = DEFAULT_OVERRELAX, coordinate_steps: int | None = None,
    intercept: bool = False,
) -> GibbsResult:
    """Sample ``w | X, y`` (and sigma, tau where learned) for the Laplace-prior regression.

    Parameters
    ----------
    X : array, shape (N, p)
    y : array, shape (N,)
    noise_sd : float or None
        sigma, the known noise sd; ``None`` learns it (and scales the prior by sigma, as Park & Casella).
    scale : float or None
        tau, the prior scale; ``None`` learns it under ``scale_prior``.
    location : float or array of shape (p,)
        mu, the prior location.
    draws, warmup, chains : int
        Kept draws per chain, discarded warm-up iterations, and chains (advanced together).
    seed : int or numpy Generator
    scale_prior : (a, b)
        Gamma shape and rate of the prior on ``1 / tau`` (used when tau is learned).
    noise_prior : (a0, b0) or None
        Inverse-gamma shape and scale of the prior on sigma^2 (used when sigma is learned); ``None``: Jeffreys.
    algorithm : "precision", "bcm" or None
        The Gaussian draw; ``None`` picks the cheaper for the shape of X.
    overrelax : float in (-1, 0]
        alpha of the over-relaxed Gaussian step (module docstring); 0 is plain Gibbs.
    coordinate_steps : int >= 0 or None
        How many coordinates get a collapsed coordinate step per sweep after warm-up (module docstring); ``None``
        by the cost model of :func:`auto_coordinate_steps`; 0 none. Taken only when ``warmup >= 40``.
    intercept : bool
        ``X`` and ``y`` are centred, and an intercept with a flat prior is integrated out: the posterior of w is
        then exactly that of the centred problem, and learned sigma's update has ``n - 1`` degrees of freedom.

    Returns
    -------
    GibbsResult
        ``draws`` shaped ``(chains, draws, p)``; ``noise_sd`` and ``scale`` shaped ``(chains, draws)`` if learned.
    """
    X, y = validate_design(X, y)
    n, p = X.shape
    mu = validate_location(location, p)
    s_fixed = None if noise_sd is None else positive_scalar("noise_sd", noise_sd, what="sigma, the known noise sd")
    t_fixed = None if scale is None else positive_scalar("scale", scale, what="tau, the Laplace prior's scale")
    a_t, b_t = _prior_pair("scale_prior", scale_prior, "the Gamma prior on 1 / tau")
    a_s, b_s = (0.0, 0.0) if noise_prior is None else _prior_pair("noise_prior", noise_prior,
                                                                  "the inverse-gamma prior on sigma^2")
    t_check = t_fixed if t_fixed is not None else 1.0
    if s_fixed is None:  # learned sigma: the sampler runs on r = y - X mu in units of its size (module docstring)
        with np.errstate(over="ignore", invalid="ignore"):
            r = y - X @ mu
        exponent = _unit_exponent(float(np.max(np.abs(r))), b_s)
        r = np.ldexp(r, exponent)
        validate_problem(X, r, 1.0, t_check, 0.0)
    else:
        validate_problem(X, y, s_fixed, t_check, mu)
        r, exponent = y - X @ mu, 0
    alpha = _overrelax(overrelax)
    steps = _steps(coordinate_steps, n, p, chains)
    design = gaussian_draw.Design.build(X, r, algorithm)
    return _sample(design, n, p, mu, s_fixed, t_fixed, (a_t, b_t), (a_s, b_s), draws, warmup, chains, seed, alpha,
                   steps, exponent, int(bool(intercept)))


def power_of_four(size: float) -> int:
    """The even ``e`` that brings ``2^e size`` nearest 1 (``size > 0``, finite): scaling by ``2^e`` is exact, and
    even so that square roots stay exact."""
    return -2 * round(float(np.log2(size)) / 2)


def _unit_exponent(size: float, b_s: float) -> int:
    """The even ``e`` for which ``2^e size`` is near 1: with sigma learned, the sampler runs on ``r = y - X mu``
    scaled by ``2^e`` (``size``: its largest entry or its norm), exactly (module docstring). Refuses ``r = 0`` under
    Jeffreys' prior, where the posterior of sigma is improper, and a noise prior whose rate leaves float64's range
    on that scale."""
    if not np.isfinite(size):
        raise InputError("the data are too large for float64: y - X location overflows; rescale X and y")
    if size == 0.0:
        if b_s == 0.0:
            raise InputError("y - X location is all zeros: with noise_sd learned under Jeffreys' prior 1 / sigma^2 "
                             "the posterior of sigma is improper (it piles up at 0); give noise_sd, or a "
                             "noise_prior with rate > 0", param="noise_sd")
        return 0
    e = power_of_four(size)
    with np.errstate(over="ignore", under="ignore"):
        scaled_rate = float(np.ldexp(b_s, 2 * e))
    if b_s > 0 and not 0.0 < scaled_rate < np.inf:
        raise InputError(f"noise_prior's rate {b_s:g} is beyond float64's range on the scale of the data (largest "
                         f"|y - X location| {size:.3g}); rescale y or the prior", param="noise_prior")
    return e


def gibbs_from_statistics(
    gram: ArrayLike, xty: ArrayLike, yty: float, n: int, noise_sd: float | None, scale: float | None,
    location: ArrayLike = 0.0, *, draws: int = DEFAULTS["draws"], warmup: int = DEFAULTS["warmup"],
    chains: int = DEFAULTS["chains"],
    seed: int | np.random.Generator | None = None, scale_prior: tuple[float, float] = DEFAULT_SCALE_PRIOR,
    noise_prior: tuple[float, float] | None = None, overrelax: float = DEFAULT_OVERRELAX,
    coordinate_steps: int | None = None, intercept: bool = False,
) -> GibbsResult:
    """:func:`gibbs` from the sufficient statistics ``X^T X``, ``X^T y``, ``y^T y`` and ``n`` (data bigger than
    memory, n >= p): the p x p precision draw needs nothing else, and learned sigma's
    ``||r - X m||^2 = r^T r - 2 m^T X^T r + m^T X^T X m``."""
    G, q0 = as_real_array("gram", gram), as_real_array("xty", xty)
    yty = finite_scalar("yty", yty, what="y^T y")
    if q0.ndim != 1:
        raise InputError(f"xty must be a vector (p,), got shape {q0.shape}")
    p = q0.shape[0]
    if G.shape != (p, p) or not (np.all(np.isfinite(G)) and np.all(np.isfinite(q0)) and np.isfinite(yty)):
        raise InputError(f"gram must be a finite ({p}, {p}) matrix matching xty, got shape {G.shape}")
    G, evals, evecs = validate_statistics(G, q0, float(yty))
    n = count("n", n)
    mu = validate_location(location, p)
    s_fixed = None if noise_sd is None else positive_scalar("noise_sd", noise_sd, what="sigma, the known noise sd")
    t_fixed = None if scale is None else positive_scalar("scale", scale, what="tau, the Laplace prior's scale")
    a_t, b_t = _prior_pair("scale_prior", scale_prior, "the Gamma prior on 1 / tau")
    a_s, b_s = (0.0, 0.0) if noise_prior is None else _prior_pair("noise_prior", noise_prior,
                                                                  "the inverse-gamma prior on sigma^2")
    q = q0 - G @ mu
    rtr = max(float(yty) - 2.0 * float(mu @ q0) + float(mu @ G @ mu), 0.0)
    exponent = 0
    if s_fixed is None:  # r = y - X mu in units of its norm, as in gibbs
        exponent = _unit_exponent(np.sqrt(rtr), b_s)
        q, rtr = np.ldexp(q, exponent), float(np.ldexp(rtr, 2 * exponent))
    alpha = _overrelax(overrelax)
    steps = _steps(coordinate_steps, n, p, chains)
    design = gaussian_draw.Design.from_gram(G, q, rtr, n, (evals, evecs))
    return _sample(design, n, p, mu, s_fixed, t_fixed, (a_t, b_t), (a_s, b_s), draws, warmup, chains, seed, alpha,
                   steps, exponent, int(bool(intercept)))


def _overrelax(value) -> float:
    try:
        a = float(value)
    except (TypeError, ValueError):
        raise InputError(f"overrelax must be a number in (-1, 0], got {value!r}", param="overrelax") from None
    if not -1.0 < a <= 0.0:
        raise InputError(f"overrelax must be in (-1, 0] (0: plain Gibbs; -1 would never move off the reflection), "
                         f"got {a:g}", param="overrelax")
    return a


def _steps(value, n: int, p: int, chains) -> int:
    """The number of collapsed coordinate steps: ``None`` by the cost model, else a count in [0, p]."""
    chains = count("chains", chains)
    if value is None:
        return auto_coordinate_steps(n, p, chains)
    return min(count("coordinate_steps", value, minimum=0), p)


def batch_means_ess(x: NDArray) -> NDArray[np.float64]:
    """The batch-means ESS of each coordinate of ``x`` (chains, iterations, ...): ``N var(x) / (b var(batch
    means))`` with batches of ``b = iterations // 10`` (at least 1) in each chain, about the pooled mean (so chains
    that disagree lower it, as R-hat would). Cheap (one pass), for ranking; ArviZ's bulk ESS takes about 1.4 s on
    16 x 100 x 2000 here, this a few milliseconds. NaN where the draws are constant."""
    chains, iters = x.shape[:2]
    b = max(1, iters // 10)
    nb = iters // b
    means = x[:, : nb * b].reshape(chains, nb, b, *x.shape[2:]).mean(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return chains * iters * x.var(axis=(0, 1)) / (b * means.var(axis=(0, 1)))


def _choose_coordinates(window: NDArray, k: int, gdiag: NDArray) -> NDArray[np.intp]:
    """The ``k`` coordinates with the smallest batch-means ESS over the warm-up ``window`` (chains, iterations, p),
    among those with a non-zero column (a coefficient whose ESS is undefined, e.g. constant, ranks first)."""
    ess = np.nan_to_num(batch_means_ess(window), nan=-np.inf)
    ess[gdiag <= 0] = np.inf
    order = np.argsort(ess, kind="stable")[:k]
    return np.sort(order[ess[order] < np.inf])


#: how often (in sweeps) the sampler checks that theta, sigma and tau are still finite
CHECK_EVERY = 64


def _check_range(theta: NDArray, sigma: NDArray, tau: NDArray, exponent: int) -> None:
    """Refuse a run whose state left float64's range (a posterior far out of scale: e.g. tau learned with
    coefficients of size 1e150), rather than return NaN draws."""
    if np.all(np.isfinite(theta)) and np.all(np.isfinite(sigma) & (sigma > 0) & np.isfinite(tau) & (tau > 0)):
        return
    w = np.abs(np.ldexp(theta, -exponent))
    seen = f"largest finite |w - location| drawn {np.max(w[np.isfinite(w)]):.3g}" if np.any(np.isfinite(w)) else (
        "no finite w drawn")
    taus = tau[np.isfinite(tau)]
    seen += f", tau up to {np.max(taus):.3g}" if taus.size else ""
    raise InputError(f"the posterior leaves float64's range ({seen}): rescale X and y (standardised columns, y of "
                     "size about 1), or give noise_sd and scale")


def _sample(design, n, p, mu, s_fixed, t_fixed, scale_prior, noise_prior, draws, warmup, chains, seed,
            alpha=0.0, steps=0, exponent=0, lost_dof=0) -> GibbsResult:
    """The sweep of the module docstring, on a :class:`~bmnn.laplace.gaussian_draw.Design` whose ``r = y - X mu``
    was multiplied by ``2^exponent`` (learned sigma only): theta and sigma are then drawn in those units and
    returned in the data's. ``lost_dof``: degrees of freedom the centring took from sigma's update (1 with an
    intercept integrated out)."""
    (a_t, b_t), (a_s, b_s) = scale_prior, noise_prior
    b_s = float(np.ldexp(b_s, 2 * exponent))  # the inverse-gamma rate is in units of sigma^2
    draws, chains = count("draws", draws), count("chains", chains)
    warmup = count("warmup", warmup, minimum=0)
    rng = as_generator(seed)
    learn_s, learn_t = s_fixed is None, t_fixed is None
    # the warm-up's last iterations (at most 100, its second half) rank the coordinates for the collapsed steps
    window = min(warmup - warmup // 2, 100) if steps and warmup >= STEP_MIN_WARMUP else 0
    check_memory(8.0 * chains * (draws * (p + 2) + window * p) + 8.0 * p * steps + design.memory(chains),
                 f"draws x chains x p = {draws} x {chains} x {p} kept values, {window} warm-up iterations and the "
                 "linear systems")

    # starting point: sigma from the spread of y - X mu; tau ten times tau* (where the MAP starts to move off mu)
    sigma = np.full(chains, s_fixed if not learn_s else max(np.sqrt(design.rtr / n), 1e-300))
    grad = float(np.max(np.abs(design.xtr)))
    k = sigma if learn_s else np.ones(chains)
    tau = np.full(chains, t_fixed if not learn_t else (10.0 * sigma[0] ** 2 / grad / k[0] if grad > 0 else 1.0))
    mix = rng.exponential(2 * tau[:, None] ** 2, size=(chains, p))  # the prior's mixing law
    out = np.empty((chains, draws, p))
    out_s = np.empty((chains, draws)) if learn_s else None
    out_t = np.empty((chains, draws)) if learn_t else None
    rb = np.zeros((chains, p))
    theta = None
    keep = np.sqrt(1.0 - alpha * alpha)  # the fresh draw's weight in the over-relaxed move
    recent = np.empty((chains, window, p)) if window else None
    cols, gcols, gdiag = None, None, design.gram_diagonal()
    work = gaussian_draw.Workspace()
    # overflow inside a sweep is either harmless (a prior variance of inf, whose precision 0 enters the system) or
    # reaches theta, sigma or tau, which are checked every CHECK_EVERY sweeps: a clear error, not NaN draws
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for it in range(warmup + draws):
            if learn_s:  # 1-2. (sigma^2, theta) | s, y as one block: sigma^2 with theta integrated out, then theta
                mix = np.maximum(mix, 1.0 / U_MAX)
                # N(m, A1^-1), A1 = X^T X + S^-1
                unit, cond_mean = gaussian_draw.draw(design, mix, np.ones(chains), rng, work)
                quad = design.marginal_quad(cond_mean, mix)  # r^T (I + X S X^T)^-1 r
                step = unit - cond_mean  # N(0, A1^-1)
                if alpha != 0.0 and theta is not None:  # over-relax the standardised offset, free of sigma
                    step = alpha * (theta - cond_mean) / sigma[:, None] + keep * step
                sigma = np.sqrt((b_s + 0.5 * quad) / rng.gamma(a_s + 0.5 * (n - lost_dof), size=chains))
                k = sigma
                theta = cond_mean + sigma[:, None] * step  # N(m, sigma^2 A1^-1)
            else:  # 1. theta | s, y
                # prior variances of theta given the mixing variables
                d = np.maximum(k[:, None] ** 2 * mix, 1.0 / U_MAX)
                fresh, cond_mean = gaussian_draw.draw(design, d, sigma, rng, work)
                if alpha != 0.0 and theta is not None:
                    theta = cond_mean + alpha * (theta - cond_mean) + keep * (fresh - cond_mean)
                else:
                    theta = fresh
            if cols is not None:  # collapsed coordinate steps on theta alone; step 4 below redraws s given them
                coordinate_steps(theta, cols, gcols, gdiag, design.xtr, sigma * sigma, tau * k, rng, alpha)
            if learn_t:  # 3. 1 / tau | theta, sigma (s integrated out)
                tau = 1.0 / rng.gamma(a_t + p, 1.0 / (b_t + np.sum(np.abs(theta), axis=1) / k))
            # 4. 1 / s | theta, sigma, tau
            mix = 1.0 / np.minimum(inverse_gaussian(tau[:, None] * np.abs(theta) / k[:, None], 1.0 / tau[:, None] ** 2,
                                                    rng), U_MAX)
            if recent is not None and it >= warmup - window:
                recent[:, it - (warmup - window)] = theta
                if it == warmup - 1:
                    cols = _choose_coordinates(recent, steps, gdiag)
                    gcols, recent = design.gram_columns(cols), None
            if it >= warmup:
                j = it - warmup
                out[:, j] = theta if exponent else theta + mu
                rb += cond_mean
                if learn_s:
                    out_s[:, j] = sigma
                if learn_t:
                    out_t[:, j] = tau
            if it % CHECK_EVERY == CHECK_EVERY - 1 or it == warmup + draws - 1:
                _check_range(theta, sigma, tau, exponent)

    if exponent:  # back to the data's units (exact: a power of two)
        out = np.ldexp(out, -exponent, out=out)
        out += mu
        rb = np.ldexp(rb, -exponent)
        out_s = np.ldexp(out_s, -exponent, out=out_s)
    return GibbsResult(draws=out, rb_mean=rb / draws + mu, noise_sd=out_s, scale=out_t, algorithm=design.algorithm,
                       overrelax=alpha, coordinates=cols)
