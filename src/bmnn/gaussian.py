"""Job 1: the mean of a Normal with known variance, under a Normal prior.

Model (the material's symbols): ``x_i = mu + eps_i``, ``eps_i ~ N(0, sigma^2)`` with sigma known, prior
``mu ~ N(m0, tau^2)`` (the material takes ``m0 = 0``). Everything here works on the sufficient statistics
``(n, sum x)``; raw data are reduced to them by :func:`sufficient_stats`, whose sum is exact (integer arithmetic,
rounded once), whatever the order and magnitude of the values.

Closed forms implemented (``v_n`` is the posterior variance, ``m_n`` the posterior mean):

* ``mu | D ~ N(m_n, v_n)``, ``v_n = (n / sigma^2 + 1 / tau^2)^-1``,
  ``m_n = v_n (sum x / sigma^2 + m0 / tau^2) = (tau^2 sum x + sigma^2 m0) / (n tau^2 + sigma^2)``, computed with
  the ratio ``(sigma/tau)^2`` or ``(tau/sigma)^2``, whichever is at most 1, so that a vague prior (tau = 1e200) or
  a tiny noise sd gives the right finite answer instead of inf/inf;
* ``mu_MLE = sum x / n`` (undefined for ``n = 0``), ``mu_MAP = m_n`` (the posterior is symmetric and unimodal);
* full posterior predictive ``x | D ~ N(m_n, v_n + sigma^2)`` (the prior predictive when ``n = 0``);
* plug-in predictive ``x | mu* ~ N(mu*, sigma^2)``;
* shrinkage ``n tau^2 / (n tau^2 + sigma^2)``, which equals ``mu_MAP / mu_MLE`` when ``m0 = 0``.

All functions broadcast: many data sets along leading axes, hyper-parameters broadcast against them.

The distributions returned (:class:`Normal`) answer as a frozen ``scipy.stats.norm`` does (``pdf``, ``logpdf``,
``cdf``, ``logcdf``, ``sf``, ``logsf``, ``ppf``, ``isf``, ``interval``, ``rvs``, ``mean()``, ``std()``, ``var()``,
``median()``, ``entropy()``, ``support()``, ``stats()``, ``moment()``), each method delegated to scipy. They are a
thin class of bmnn's rather than scipy's own object for one reason: a frozen ``scipy.stats.norm`` keeps only the sd,
so ``var()`` would be the square of a square root, off in the last digit from the ``v_n`` the closed forms compute;
here ``var()`` returns it exactly. Only the conjugate algebra is written here, because that algebra is the subject
of the material.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from bmnn._checks import (
    InputError,
    NotFittedError,
    as_float_array,
    as_generator,
    as_real_array,
    check_level,
    finite_scalar,
    positive,
    positive_scalar,
)

__all__ = [
    "Normal",
    "NormalKnownVariance",
    "SufficientStats",
    "map_estimate",
    "map_mle_ratio",
    "mle",
    "plugin_predictive",
    "posterior",
    "posterior_predictive",
    "shrinkage",
    "sufficient_stats",
]


class Normal:
    """A Normal distribution, or a batch of them, from its mean and variance, answering as a frozen
    ``scipy.stats.norm(loc=mean, scale=sqrt(var))`` does (module docstring), with the variance kept exactly.

    Parameters
    ----------
    mean, var : array_like
        Broadcast against each other; ``var > 0``.
    """

    __slots__ = ("_mean", "_var")

    def __init__(self, mean: ArrayLike, var: ArrayLike) -> None:
        self._mean = np.asarray(mean, dtype=np.float64)
        self._var = np.asarray(var, dtype=np.float64)

    def __repr__(self) -> str:
        return f"Normal(mean={self._mean!r}, var={self._var!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Normal) and np.array_equal(self._mean, other._mean)
                and np.array_equal(self._var, other._var))

    __hash__ = None  # type: ignore[assignment]  # arrays inside: not hashable, as a frozen scipy one is not

    def __reduce__(self):
        return Normal, (self._mean, self._var)

    @property
    def loc(self) -> NDArray[np.float64]:
        """The mean, as scipy names it."""
        return self._mean

    @property
    def scale(self) -> NDArray[np.float64]:
        """The standard deviation, as scipy names it."""
        return np.sqrt(self._var)

    def mean(self) -> NDArray[np.float64]:
        """The mean."""
        return self._mean

    def median(self) -> NDArray[np.float64]:
        """The median (the mean)."""
        return self._mean

    def var(self) -> NDArray[np.float64]:
        """The variance, exactly as computed by the closed forms."""
        return self._var

    def std(self) -> NDArray[np.float64]:
        """The standard deviation, ``sqrt(var)``."""
        return np.sqrt(self._var)

    def frozen(self) -> stats.rv_continuous:
        """scipy's own frozen ``norm`` for this distribution."""
        return stats.norm(loc=self._mean, scale=self.std())

    def pdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Density at ``x`` (broadcast against the batch)."""
        return self.frozen().pdf(as_real_array("x", x))

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Log density at ``x``, computed in log space (no underflow in the tails)."""
        return self.frozen().logpdf(as_real_array("x", x))

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Cumulative distribution function at ``x``."""
        return self.frozen().cdf(as_real_array("x", x))

    def logcdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Log of the CDF at ``x``, accurate far in the lower tail."""
        return self.frozen().logcdf(as_real_array("x", x))

    def sf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Survival function ``1 - cdf``, accurate in the upper tail."""
        return self.frozen().sf(as_real_array("x", x))

    def logsf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Log of the survival function."""
        return self.frozen().logsf(as_real_array("x", x))

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Quantile function (inverse CDF) at probabilities ``q``."""
        return self.frozen().ppf(as_real_array("q", q))

    def isf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Inverse survival function at probabilities ``q``."""
        return self.frozen().isf(as_real_array("q", q))

    def interval(self, confidence: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The central interval holding probability ``confidence``: ``(lower, upper)``."""
        return self.frozen().interval(check_level(confidence))

    def entropy(self) -> NDArray[np.float64]:
        """Differential entropy, ``log(2 pi e var) / 2``."""
        return self.frozen().entropy()

    def support(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(-inf, inf)``, broadcast to the batch."""
        return self.frozen().support()

    def stats(self, moments: str = "mv"):
        """Mean, variance, skew and/or kurtosis, as scipy's ``stats`` (``moments`` from ``"mvsk"``)."""
        out = self.frozen().stats(moments=moments)
        if "v" in moments:  # the exact variance, not scipy's square of the sd
            out = tuple(self._var if k == "v" else o for k, o in zip(moments, out if isinstance(out, tuple)
                                                                         else (out,), strict=True))
            return out[0] if len(out) == 1 else out
        return out

    def moment(self, order: int) -> NDArray[np.float64]:
        """The non-central moment of ``order``."""
        return self.frozen().moment(order)

    def rvs(self, size=None, random_state=None) -> NDArray[np.float64]:
        """Draws, as scipy's ``rvs``: ``size`` must broadcast with the batch; ``random_state`` None, an int, a
        ``RandomState`` or a ``Generator``."""
        return self.frozen().rvs(size=size, random_state=random_state)

    def sample(self, size: int | tuple[int, ...] = (), seed: int | np.random.Generator | None = None):
        """Draws of shape ``size + batch shape`` (unlike :meth:`rvs`, ``size`` is prepended to the batch)."""
        rng = as_generator(seed)
        size = (size,) if isinstance(size, (int, np.integer)) else tuple(size) if isinstance(size, list) else size
        if not (isinstance(size, tuple) and all(isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                                                 and k >= 0 for k in size)):
            raise InputError(f"size must be a whole number >= 0 or a tuple of them, got {size!r:.80}", param="size")
        shape = size + np.broadcast_shapes(np.shape(self._mean), np.shape(self._var))
        return rng.normal(self._mean, self.std(), size=shape)


@dataclass(frozen=True)
class SufficientStats:
    """The sufficient statistics of the model: the count ``n`` and the sum ``total`` of the data."""

    n: NDArray[np.int64]
    total: NDArray[np.float64]


def sufficient_stats(x: ArrayLike, axis: int = -1) -> SufficientStats:
    """Reduce data to ``(n, sum x)`` along ``axis``; leading axes index independent data sets.

    The sum is exact: :func:`exact_sums` adds the values without any rounding and ``total`` is that exact sum
    rounded once to the nearest float64, whatever the order and magnitude of the values. A sum beyond float64's
    range is refused here (``total`` must be a float); :class:`NormalKnownVariance` serves such data when their mean
    is finite.
    """
    arr = as_float_array("x", x, what="the data")
    if arr.ndim == 0:
        arr = arr[None]
    if not (isinstance(axis, (int, np.integer)) and -arr.ndim <= axis < arr.ndim):
        raise InputError(f"axis must be a whole number in [{-arr.ndim}, {arr.ndim - 1}] for data of shape "
                         f"{arr.shape}, got {axis!r}", param="axis")
    arr = np.moveaxis(arr, axis, -1)
    n = np.full(arr.shape[:-1], arr.shape[-1], dtype=np.int64)
    total = _rounded(exact_sums(arr), np.ones(arr.shape[:-1], dtype=np.int64))
    return SufficientStats(n=n, total=_finite(total, "the sum of the data"))


#: exact sums are integers in units of 2**-EXACT_UNIT: every float64 (the smallest subnormal is 2**-1074) times
#: 2**53 (the frexp mantissa made whole) is a whole multiple of it
EXACT_UNIT = 1074 + 53


def exact_sums(x: ArrayLike) -> NDArray[np.object_]:
    """The exact sums along the last axis of finite float64 values ``x``, as Python integers in units of
    ``2**-EXACT_UNIT`` (an object array of the leading shape): no rounding, whatever the order and magnitude.

    Each value is split by ``frexp`` into a 53-bit whole mantissa and an exponent; mantissas of one exponent are
    summed in int64 (in two 26-bit halves, exact for up to 2**36 values), and the at most 2,098 partial sums are
    shifted and added as Python integers. (Shewchuk's partials, as in ``math.fsum``, are exact too but overflow on
    an intermediate such as 1e308 + 1e308 before the -1e308 arrives.)
    """
    arr = np.asarray(x, dtype=np.float64)
    arr = arr[None] if arr.ndim == 0 else arr
    rows = arr.reshape(math.prod(arr.shape[:-1]), arr.shape[-1])
    out = np.empty(rows.shape[0], dtype=object)
    for i, row in enumerate(rows):
        out[i] = _exact_row(row)
    return out.reshape(arr.shape[:-1])


def _exact_row(row: NDArray[np.float64]) -> int:
    if row.size == 0:
        return 0
    mant, expo = np.frexp(row)
    whole = (mant * 2.0**53).astype(np.int64)  # exact: |mant| < 1 has at most 53 significant bits
    shift = expo.astype(np.int64) + 1074  # >= 0 for every float64 but zero, whose mantissa is 0
    shift[whole == 0] = 0
    order = np.argsort(shift, kind="stable")
    shift, whole = shift[order], whole[order]
    starts = np.flatnonzero(np.r_[True, shift[1:] != shift[:-1]])
    high = np.add.reduceat(whole >> 26, starts)
    low = np.add.reduceat(whole & ((1 << 26) - 1), starts)
    total = 0
    for k, h, lo in zip(shift[starts].tolist(), high.tolist(), low.tolist(), strict=True):
        total += ((h << 26) + lo) << k
    return total


def _rounded(exact: NDArray[np.object_], n: ArrayLike) -> NDArray[np.float64]:
    """``exact / n`` (exact sums in units of ``2**-EXACT_UNIT``, counts ``n >= 1``) rounded once to the nearest
    float64 (Python's integer division is correctly rounded); +-inf where that is beyond float64's range."""
    def one(total: int, count: int) -> float:
        try:
            return total / (int(count) << EXACT_UNIT)
        except OverflowError:
            return math.inf if total > 0 else -math.inf

    exact, n = np.broadcast_arrays(np.asarray(exact, dtype=object), np.asarray(n))
    out = np.array([one(t, c) for t, c in zip(exact.ravel().tolist(), n.ravel().tolist(), strict=True)],
                   dtype=np.float64)
    return out.reshape(exact.shape)


def _check_n(n: ArrayLike) -> NDArray[np.float64]:
    n_arr = np.asarray(n)
    if n_arr.dtype.kind not in "iuf" or np.any(n_arr < 0) or np.any(n_arr != np.floor(n_arr)):
        raise InputError(f"n must be a non-negative whole number (the data count), got {n!r:.80}")
    return n_arr.astype(np.float64)


def _hyper(noise_sd: ArrayLike, prior_sd: ArrayLike, prior_mean: ArrayLike):
    s = positive("noise_sd", noise_sd, what="sigma, the known noise sd")
    t = positive("prior_sd", prior_sd, what="tau, the prior sd of mu")
    m0 = as_float_array("prior_mean", prior_mean, what="m0, the prior mean of mu")
    return s, t, m0


def _agree(**arrays: ArrayLike) -> None:
    """The inputs broadcast against each other (a batch of problems), or an error naming their shapes."""
    try:
        np.broadcast_shapes(*(np.shape(v) for v in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise InputError(f"the inputs must broadcast against each other (one problem per entry), got shapes "
                         f"{shapes}") from None


def _finite(value: NDArray[np.float64], what: str) -> NDArray[np.float64]:
    if not np.all(np.isfinite(value)):
        raise InputError(f"{what} is beyond float64's range for these inputs (about 1.8e308); rescale the data")
    return value


def _weights(nf: NDArray[np.float64], s: NDArray[np.float64], t: NDArray[np.float64]):
    """``(ra, rb, c, sd1)`` with ``m_n = (ra (ra sum x) + rb (rb m0)) / c`` and ``v_n = sd1 * (sd1 / c)``, written
    without any sigma^2 or tau^2 that could overflow or underflow on its own: with ``r = sigma / tau <= 1`` it is
    ``(1, r, n + r^2)`` and ``sd1 = sigma``; otherwise, with ``q = tau / sigma < 1``, ``(q, 1, n q^2 + 1)`` and
    ``sd1 = tau``. (Both are the textbook ``(tau^2, sigma^2, n tau^2 + sigma^2)`` divided through.) The weights
    are applied one ratio at a time, ``r (r x)``: ``r^2`` alone may underflow (r = 1e-200) while ``r^2 x`` does
    not (x = 1e299)."""
    with np.errstate(under="ignore", over="ignore", divide="ignore", invalid="ignore"):
        small = s <= t
        ratio = np.where(small, s / t, t / s)  # in (0, 1]
        ra = np.where(small, 1.0, ratio)
        rb = np.where(small, ratio, 1.0)
        c = np.where(small, nf + ratio * ratio, nf * ratio * ratio + 1.0)
        sd1 = np.where(small, s, t)
    return ra, rb, c, sd1


def posterior(
    n: ArrayLike, x_sum: ArrayLike, noise_sd: ArrayLike, prior_sd: ArrayLike, prior_mean: ArrayLike = 0.0
) -> Normal:
    """Posterior of mu given ``n`` observations summing to ``x_sum``.

    Parameters
    ----------
    n : int or array of int
        Number of observations (0 gives the prior).
    x_sum : float or array
        ``sum_i x_i``.
    noise_sd : float or array
        sigma, the known standard deviation of the noise (not its variance).
    prior_sd : float or array
        tau, the prior standard deviation of mu.
    prior_mean : float or array, default 0
        m0, the prior mean of mu.

    Returns
    -------
    Normal
        ``N(m_n, v_n)`` with ``v_n = sigma^2 tau^2 / (n tau^2 + sigma^2)`` and
        ``m_n = (tau^2 sum x + sigma^2 m0) / (n tau^2 + sigma^2)``.
    """
    nf = _check_n(n)
    total = as_float_array("x_sum", x_sum, what="the sum of the data")
    s, t, m0 = _hyper(noise_sd, prior_sd, prior_mean)
    _agree(n=nf, x_sum=total, noise_sd=s, prior_sd=t, prior_mean=m0)
    ra, rb, c, sd1 = _weights(nf, s, t)
    with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
        none = nf == 0  # no data: the prior itself (also where (sigma/tau)^2 underflowed and c is 0)
        mean = np.where(none, m0 + 0.0 * total, (ra * (ra * total) + rb * (rb * m0)) / c)
        var = np.where(none, t * t, sd1 * (sd1 / c))
    return Normal(mean=_finite(mean, "the posterior mean m_n"), var=_finite(var, "the posterior variance v_n"))


def posterior_predictive(
    n: ArrayLike, x_sum: ArrayLike, noise_sd: ArrayLike, prior_sd: ArrayLike, prior_mean: ArrayLike = 0.0
) -> Normal:
    """Full posterior predictive of a new x: ``N(m_n, v_n + sigma^2)`` (the prior predictive when n = 0).

    Parameters are those of :func:`posterior`.
    """
    post = posterior(n, x_sum, noise_sd, prior_sd, prior_mean)
    s = np.asarray(noise_sd, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        var = post.var() + s * s
    return Normal(mean=post.mean(), var=_finite(var, "the predictive variance v_n + sigma^2"))


def mle(n: ArrayLike, x_sum: ArrayLike) -> NDArray[np.float64]:
    """Maximum-likelihood estimate ``sum x / n``; raises for ``n = 0``, where the likelihood is flat."""
    nf = _check_n(n)
    total = as_float_array("x_sum", x_sum, what="the sum of the data")
    _agree(n=nf, x_sum=total)
    if np.any(nf == 0):
        raise InputError("the MLE of mu is undefined for n = 0: with no data the likelihood is flat")
    return total / nf


def map_estimate(
    n: ArrayLike, x_sum: ArrayLike, noise_sd: ArrayLike, prior_sd: ArrayLike, prior_mean: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """MAP estimate of mu: the posterior mode, which equals the posterior mean ``m_n``.

    With ``m0 = 0`` this is the material's ``sum x / (n + sigma^2 / tau^2)``.
    """
    return posterior(n, x_sum, noise_sd, prior_sd, prior_mean).mean()


def plugin_predictive(mu_star: ArrayLike, noise_sd: ArrayLike) -> Normal:
    """Predictive with mu fixed at a point estimate: ``x | mu* ~ N(mu*, sigma^2)``."""
    mu = as_float_array("mu_star", mu_star, what="the point estimate of mu")
    s = positive("noise_sd", noise_sd, what="sigma, the known noise sd")
    _agree(mu_star=mu, noise_sd=s)
    with np.errstate(over="ignore", under="ignore"):
        var = _finite(s * s + 0.0 * mu, "the noise variance sigma^2")
    return Normal(mean=mu + 0.0 * s, var=var)


def shrinkage(n: ArrayLike, noise_sd: ArrayLike, prior_sd: ArrayLike) -> NDArray[np.float64]:
    """The weight of the data in ``m_n``: ``n tau^2 / (n tau^2 + sigma^2)``, in [0, 1), tending to 1."""
    nf = _check_n(n)
    s = positive("noise_sd", noise_sd, what="sigma, the known noise sd")
    t = positive("prior_sd", prior_sd, what="tau, the prior sd of mu")
    _agree(n=nf, noise_sd=s, prior_sd=t)
    ra, _, c, _ = _weights(nf, s, t)
    with np.errstate(under="ignore"):
        return (nf * ra) * ra / c


def predictive_coverage(
    n: ArrayLike, noise_sd: ArrayLike, prior_sd: ArrayLike, level: float = 0.95
) -> dict[str, NDArray[np.float64]]:
    """The probability that each predictive's central ``level`` interval holds a new x, under the model (mu drawn
    from the prior, n data and the new x given mu).

    The full predictive is the new x's exact conditional law, so it covers ``level``. The MAP plug-in's interval
    ``m_n +- z sigma`` holds ``x - m_n ~ N(0, sigma^2 + v_n)`` given the data: ``2 Phi(z sigma / sqrt(sigma^2 + v_n))
    - 1``. The MLE plug-in's ``xbar +- z sigma``: ``x - xbar = (x - mu) - (xbar - mu) ~ N(0, sigma^2 (1 + 1/n))``
    whatever mu, so ``2 Phi(z / sqrt(1 + 1/n)) - 1`` (free of tau). ``z`` is the normal ``(1 + level) / 2``
    quantile. Needs n >= 1.

    Returns
    -------
    dict
        ``full``, ``plugin_mle``, ``plugin_map``: arrays shaped like the broadcast inputs.
    """
    from scipy.special import ndtr, ndtri

    nf = _check_n(n)
    if np.any(nf < 1):
        raise InputError("predictive_coverage needs n >= 1 (the MLE plug-in is undefined without data)")
    lv = check_level(level)
    s = positive("noise_sd", noise_sd, what="sigma, the known noise sd")
    v_n = posterior(nf, 0.0, s, prior_sd).var()
    z = ndtri(0.5 + lv / 2)
    # sigma / sqrt(sigma^2 + v_n) = 1 / sqrt(1 + v_n / sigma^2), v_n / sigma^2 = 1 / (n + sigma^2 / tau^2)
    shape = np.broadcast_shapes(nf.shape, np.shape(s), np.shape(prior_sd))
    return {"full": np.full(shape, lv),
            "plugin_mle": np.broadcast_to(2 * ndtr(z / np.sqrt(1 + 1 / nf)) - 1, shape).copy(),
            "plugin_map": np.broadcast_to(2 * ndtr(z / np.sqrt(1 + v_n / (s * s))) - 1, shape).copy()}


def map_mle_ratio(
    n: ArrayLike, x_sum: ArrayLike, noise_sd: ArrayLike, prior_sd: ArrayLike, prior_mean: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """``mu_MAP / mu_MLE``; with ``m0 = 0`` it is :func:`shrinkage` whatever the data.

    Raises where the MLE is 0 (the ratio is then 0/0 with ``m0 = 0``) or ``n = 0``.
    """
    ml = mle(n, x_sum)
    if np.any(ml == 0):
        raise InputError("map_mle_ratio is undefined where sum x = 0 (the MLE is 0); use shrinkage(n, ...)")
    return map_estimate(n, x_sum, noise_sd, prior_sd, prior_mean) / ml


class NormalKnownVariance:
    """The job-1 model as an object: fit data, stream more, read off every estimate and predictive.

    Parameters
    ----------
    noise_sd : float
        sigma, the known noise standard deviation.
    prior_sd : float
        tau, the prior standard deviation of mu.
    prior_mean : float, default 0
        m0, the prior mean of mu (the material uses 0).

    Attributes
    ----------
    n_ : ndarray of int
        Observations seen so far (per data set, if ``x`` had leading axes).
    sum_ : ndarray
        Their exact sum (:func:`exact_sums`, kept exactly across batches), rounded once to float64; +-inf where it
        is beyond float64's range (the mean, posterior and predictives are still computed while they are finite).
    mean_ : ndarray
        Their exact mean, rounded once (NaN where ``n_ = 0``).

    Examples
    --------
    >>> m = NormalKnownVariance(noise_sd=1.0, prior_sd=2.0).fit([0.5, 1.5])
    >>> float(m.map())
    0.8888888888888888
    """

    def __init__(self, noise_sd: float, prior_sd: float, prior_mean: float = 0.0) -> None:
        self.noise_sd = noise_sd
        self.prior_sd = prior_sd
        self.prior_mean = prior_mean

    def _validated(self) -> tuple[float, float, float]:
        return (
            positive_scalar("noise_sd", self.noise_sd, what="sigma, the known noise sd"),
            positive_scalar("prior_sd", self.prior_sd, what="tau, the prior sd of mu"),
            finite_scalar("prior_mean", self.prior_mean, what="m0, the prior mean of mu"),
        )

    def fit(self, x: ArrayLike) -> NormalKnownVariance:
        """Forget earlier data and condition on ``x`` (shape ``(..., n)``; ``[]`` gives the prior)."""
        self._validated()
        for attr in ("n_", "sum_", "mean_", "_exact"):
            self.__dict__.pop(attr, None)
        return self.update(x)

    def update(self, x: ArrayLike) -> NormalKnownVariance:
        """Condition on one more batch ``x``; the result equals one ``fit`` on all batches together, exactly."""
        self._validated()
        arr = as_float_array("x", x, what="the data")
        arr = arr[None] if arr.ndim == 0 else arr
        n, exact = np.full(arr.shape[:-1], arr.shape[-1], dtype=np.int64), exact_sums(arr)
        if hasattr(self, "n_"):
            try:
                np.broadcast_shapes(n.shape, self.n_.shape)
            except ValueError:
                raise InputError(
                    f"x's leading shape {n.shape} does not match the data sets fitted so far {self.n_.shape}"
                ) from None
            n, exact = self.n_ + n, self._exact + exact
        self.n_, self._exact = n, np.asarray(exact, dtype=object)
        with np.errstate(invalid="ignore"):
            self.sum_ = _rounded(self._exact, np.ones_like(n))
            self.mean_ = np.where(n > 0, _rounded(self._exact, np.maximum(n, 1)), np.nan)
        if not np.all(np.isfinite(self.mean_) | (n == 0)):
            raise InputError("the mean of the data is beyond float64's range (about 1.8e308); rescale the data")
        return self

    def sum_text(self, digits: int = 17) -> NDArray[np.str_]:
        """The exact sum as decimal text rounded to ``digits`` significant digits (for sums beyond float64)."""
        self._stats()
        with decimal.localcontext() as ctx:
            ctx.prec = digits
            return np.vectorize(lambda t: format(decimal.Decimal(t) / decimal.Decimal(1 << EXACT_UNIT), "g"),
                                otypes=[str])(self._exact)

    def _stats(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        if not hasattr(self, "n_"):
            raise NotFittedError("this NormalKnownVariance is not fitted: call fit(x) first (fit([]) gives the prior)")
        return self.n_, self.sum_

    def _posterior(self) -> Normal:
        """``mu | D`` from the exact sum; where that sum is beyond float64, from the exact mean instead:
        ``m_n = (a mean + b m0 / n) / (c / n)`` is the same closed form divided through by n."""
        n, total = self._stats()
        s, t, m0 = self._validated()
        finite = np.isfinite(total)
        post = posterior(n, np.where(finite, total, 0.0), s, t, m0)
        if np.all(finite):
            return post
        nf = n.astype(np.float64)
        ra, rb, c, _ = _weights(nf, np.float64(s), np.float64(t))
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            by_mean = (ra * (ra * self.mean_) + rb * (rb * (m0 / nf))) / (c / nf)
        mean = np.where(finite, post.mean(), by_mean)
        return Normal(mean=_finite(mean, "the posterior mean m_n"), var=post.var())

    def posterior(self) -> Normal:
        """``mu | D``."""
        return self._posterior()

    def predictive(self) -> Normal:
        """The full posterior predictive ``x | D``: ``N(m_n, v_n + sigma^2)``."""
        post = self._posterior()
        s = self._validated()[0]
        with np.errstate(over="ignore", under="ignore"):
            var = post.var() + s * s
        return Normal(mean=post.mean(), var=_finite(var, "the predictive variance v_n + sigma^2"))

    def mle(self) -> NDArray[np.float64]:
        """``mu_MLE``, the exact mean rounded once; raises when no data were seen."""
        n, _ = self._stats()
        if np.any(n == 0):
            raise InputError("the MLE of mu is undefined for n = 0: with no data the likelihood is flat")
        return self.mean_

    def map(self) -> NDArray[np.float64]:
        """``mu_MAP``."""
        return self.posterior().mean()

    def plugin_predictive(self, estimate: Literal["mle", "map"] = "map") -> Normal:
        """``x | mu*`` with ``mu*`` the MLE or the MAP."""
        if estimate not in ("mle", "map"):
            raise InputError(f"estimate must be 'mle' or 'map', got {estimate!r}")
        mu = self.mle() if estimate == "mle" else self.map()
        return plugin_predictive(mu, self._validated()[0])
