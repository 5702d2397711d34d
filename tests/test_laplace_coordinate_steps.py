"""The collapsed coordinate steps of the Laplace-regression sampler: each draw against the exact one-dimensional
conditional by quadrature of the log posterior written from scratch, the sampler with the steps against the exact
orthonormal posterior (with sigma and tau learned: tests/test_laplace_scale.py), the choice of
coordinates, the default count's cost model, and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate

from bmnn._checks import InputError
from bmnn.cli import main
from bmnn.laplace import gibbs, orthonormal_posterior
from bmnn.laplace.diagnostics import summarize
from bmnn.laplace.gaussian_draw import costs
from bmnn.laplace.gibbs import (
    BLOCK_FLOPS_PER_S,
    STEP_BUDGET,
    STEP_S,
    STEP_S_PER_CHAIN,
    _choose_coordinates,
    auto_coordinate_steps,
    batch_means_ess,
    coordinate_steps,
)


def _conditional_moments(X, r, theta, j, sigma, b):
    """Mean, sd and P(theta_j > 0) of theta_j | theta_-j from the log posterior itself,
    -||r - X theta||^2 / (2 sigma^2) - |theta_j| / b, by quadrature (split at 0 and at the mode region)."""

    def logf(t):
        th = theta.copy()
        th[j] = t
        res = r - X @ th
        return -res @ res / (2 * sigma**2) - abs(t) / b

    grid = np.linspace(-20, 20, 40001)
    lg = np.array([logf(t) for t in grid[::50]])
    top = float(lg.max())
    f = lambda t, k=0: t**k * np.exp(logf(t) - top)  # noqa: E731
    lo, hi = grid[::50][lg > top - 60][[0, -1]]
    kw = dict(limit=400, epsabs=0, epsrel=1e-11)
    z = sum(integrate.quad(f, a, c, **kw)[0] for a, c in ((lo - 1, 0.0), (0.0, hi + 1)) if a < c)
    m1 = sum(integrate.quad(f, a, c, args=(1,), **kw)[0] for a, c in ((lo - 1, 0.0), (0.0, hi + 1)) if a < c) / z
    m2 = sum(integrate.quad(f, a, c, args=(2,), **kw)[0] for a, c in ((lo - 1, 0.0), (0.0, hi + 1)) if a < c) / z
    pos = integrate.quad(f, 0.0, max(hi + 1, 1.0), **kw)[0] / z
    return m1, np.sqrt(m2 - m1 * m1), pos


def _one_coordinate(rng, sigma, b, shift, k):
    """A 9 x 4 problem and k chains all at the same theta, to step coordinate 1: ``(X, r, theta0, theta, args)``
    with ``args`` the rest of :func:`coordinate_steps`'s arguments after ``cols``."""
    X = rng.normal(size=(9, 4)) * 1.3
    r = X @ np.array([0.8, shift, -0.6, 0.3]) + sigma * rng.normal(size=9)
    theta0 = np.array([0.5, -0.2, 0.1, 0.7])
    args = ((X.T @ X)[:, [1]], np.sum(X * X, axis=0), X.T @ r, np.full(k, sigma**2), np.full(k, b), rng)
    return X, r, theta0, np.tile(theta0, (k, 1)), args


@pytest.mark.parametrize(("sigma", "b", "shift"), [(0.7, 0.35, 0.0), (1.3, 0.05, 0.4), (0.45, 3.7, -1.1),
                                                  (2.3, 0.004, 0.02)])
def test_each_coordinate_step_draws_the_exact_conditional(sigma, b, shift, rng):
    """Many chains at the same theta_-j: the draws of theta_j have the conditional's mean, sd and sign
    probability, and the coordinate stepped second sees the first's new value (the kept Gram product)."""
    k = 100_000
    X, r, theta0, theta, args = _one_coordinate(rng, sigma, b, shift, k)
    coordinate_steps(theta, np.array([1]), *args)
    m, sd, pos = _conditional_moments(X, r, theta0, 1, sigma, b)
    got = theta[:, 1]
    assert abs(got.mean() - m) < 4.5 * sd / np.sqrt(k)
    assert abs(got.std() / sd - 1) < 0.02
    assert abs(np.mean(got > 0) - pos) < 4.5 * np.sqrt(pos * (1 - pos) / k) + 1e-12
    np.testing.assert_array_equal(theta[:, [0, 2, 3]], np.tile(theta0[[0, 2, 3]], (k, 1)))  # the rest untouched
    # two coordinates in turn: the second's conditional is given the first's new value, chain by chain
    theta = np.tile(theta0, (3, 1))
    cols = np.array([0, 2])
    s2, lap = np.array([0.3, 1.1, 2.0]) ** 2, np.array([0.2, 0.5, 1.7])
    sub = np.random.default_rng(4)
    coordinate_steps(theta, cols, (X.T @ X)[:, cols], np.sum(X * X, axis=0), X.T @ r, s2, lap, sub)
    ref = np.tile(theta0, (3, 1))
    sub = np.random.default_rng(4)
    for j in cols:  # one at a time, from a fresh Gram product: the same draws
        coordinate_steps(ref, np.array([j]), (X.T @ X)[:, [j]], np.sum(X * X, axis=0), X.T @ r, s2, lap, sub)
    np.testing.assert_allclose(theta, ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("sigma", "b", "shift", "alpha"), [(0.7, 0.35, 0.0, -0.7), (1.3, 0.05, 0.4, -0.5),
                                                           (0.45, 3.7, -1.1, -0.9), (2.3, 0.004, 0.02, -0.3)])
def test_an_over_relaxed_coordinate_step_keeps_the_conditional_and_correlates_ranks_by_alpha(sigma, b, shift, alpha,
                                                                                               rng):
    """From exact draws of the conditional, the over-relaxed step gives the conditional again (mean, sd, sign
    probability by quadrature), and old and new values have the rank correlation of normal scores correlated by
    alpha: Spearman's rho = (6 / pi) arcsin(alpha / 2)."""
    from scipy.stats import spearmanr

    k = 100_000
    X, r, theta0, theta, args = _one_coordinate(rng, sigma, b, shift, k)
    cols = np.array([1])
    coordinate_steps(theta, cols, *args)  # alpha = 0: exact draws of the conditional
    old = theta[:, 1].copy()
    coordinate_steps(theta, cols, *args, alpha=alpha)
    m, sd, pos = _conditional_moments(X, r, theta0, 1, sigma, b)
    got = theta[:, 1]
    assert abs(got.mean() - m) < 4.5 * sd / np.sqrt(k)
    assert abs(got.std() / sd - 1) < 0.02
    assert abs(np.mean(got > 0) - pos) < 4.5 * np.sqrt(pos * (1 - pos) / k) + 1e-12
    rho = spearmanr(old, got).statistic
    assert abs(rho - 6 / np.pi * np.arcsin(alpha / 2)) < 0.012


@pytest.mark.parametrize("alpha", [-0.5, -0.95])
def test_a_coordinate_far_outside_its_conditional_comes_back_in_one_step(alpha, rng):
    """From 1e6 conditional sds away (a bad start), one over-relaxed step lands within 40 sds of the conditional's
    centre: the old value's normal score is clipped at +-37.5, not carried to the far side; nothing warns."""
    n, p, k = 9, 3, 2000
    X = rng.normal(size=(n, p))
    r = X @ np.array([1.2, 2.5, -0.4]) + 0.3 * rng.normal(size=n)
    theta0 = np.array([1.2, 2.5, -0.4])
    m, sd, _ = _conditional_moments(X, r, theta0, 1, 0.3, 0.8)
    args = ((X.T @ X)[:, [1]], np.sum(X * X, axis=0), X.T @ r, np.full(k, 0.09), np.full(k, 0.8), rng)
    for start in (m - 1e6 * sd, m + 1e6 * sd):
        theta = np.tile(theta0, (k, 1))
        theta[:, 1] = start
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            coordinate_steps(theta, np.array([1]), *args, alpha=alpha)
        assert np.all(np.abs(theta[:, 1] - m) < 40 * sd)


@pytest.mark.parametrize("algorithm", ["precision", "bcm"])
def test_the_sampler_with_coordinate_steps_keeps_the_exact_orthonormal_posterior(algorithm, rng):
    n, p = 30, 4
    Q, _ = np.linalg.qr(rng.normal(size=(n, p)))
    loc = np.array([0.1, 0.0, -0.2, 0.0])
    y = Q @ np.array([1.5, -0.3, 0.0, 0.8]) + 0.7 * rng.normal(size=n)
    exact = orthonormal_posterior(Q, y, 0.7, 0.35, location=loc)
    g = gibbs(Q, y, 0.7, 0.35, loc, draws=3000, warmup=60, chains=8, seed=2, algorithm=algorithm,
              coordinate_steps=2)
    assert g.coordinates is not None and len(g.coordinates) == 2
    d = summarize(g.draws)
    assert np.all(np.abs(d["mean"] - exact.mean()) < 4 * d["mcse"])
    np.testing.assert_allclose(d["sd"], np.sqrt(exact.var()), rtol=0.05)


def test_batch_means_ess_of_ar1_series_and_the_coordinates_chosen(rng):
    """AR(1) with coefficient phi has ESS / N = (1 - phi) / (1 + phi); the slowest columns are chosen, a constant
    one first, a zero column of X never."""
    chains, iters = 16, 2000
    phis = np.array([0.0, 0.9, 0.5, 0.97, 0.2, 0.0])
    x = np.zeros((chains, iters, 6))
    e = rng.normal(size=x.shape)
    for t in range(1, iters):
        x[:, t] = phis * x[:, t - 1] + e[:, t]
    x[..., 5] = 3.0  # constant: undefined ESS
    ess = batch_means_ess(x) / (chains * iters)
    np.testing.assert_allclose(ess[:5], (1 - phis[:5]) / (1 + phis[:5]), rtol=0.25)
    assert np.isnan(ess[5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the constant column's 0 / 0 is expected, not reported
        batch_means_ess(x)
        alternating = np.tile([1.0, -1.0], (2, 10))[..., None]  # every batch mean 0: x / 0, an infinite ESS
        assert np.isinf(batch_means_ess(alternating)[0])
    # the documented batches, written out: b = iterations // 10 (30 iterations: ten batches of 3 per chain), at
    # least 1 (fewer than 20 iterations: batches of one, so the ESS is the number of draws)
    y = rng.normal(size=(3, 30, 2)).cumsum(axis=1)
    means = np.array([[y[c, i * 3:(i + 1) * 3].mean(axis=0) for i in range(10)] for c in range(3)])
    np.testing.assert_allclose(batch_means_ess(y), 90 * y.var(axis=(0, 1)) / (3 * means.var(axis=(0, 1))),
                               rtol=1e-12)
    np.testing.assert_allclose(batch_means_ess(y[:, :12]), 36.0, rtol=1e-12)
    gdiag = np.array([1.0, 1.0, 1.0, 0.0, 2.0, 1.0])  # column 3, the slowest, is a zero column
    np.testing.assert_array_equal(_choose_coordinates(x, 2, gdiag), [1, 5])
    np.testing.assert_array_equal(_choose_coordinates(x, 4, gdiag), [1, 2, 4, 5])
    np.testing.assert_array_equal(_choose_coordinates(x, 10, gdiag), [0, 1, 2, 4, 5])


def test_the_default_count_follows_the_documented_cost_model():
    for n, p, chains in [(200, 2000, 16), (100, 10_000, 16), (50, 700, 4), (442, 10, 16), (1000, 100, 16),
                         (8000, 6000, 16)]:
        algorithm = "precision" if costs(n, p)["precision"] <= costs(n, p)["bcm"] else "bcm"
        block = costs(n, p)[algorithm] * chains / BLOCK_FLOPS_PER_S
        assert auto_coordinate_steps(n, p, chains) == min(p, int(STEP_BUDGET * block // (STEP_S + STEP_S_PER_CHAIN
                                                                                        * chains)))
    assert auto_coordinate_steps(442, 10, 16) == 0 and auto_coordinate_steps(1000, 100, 16) == 0
    assert 30 <= auto_coordinate_steps(200, 2000, 16) <= 50
    assert auto_coordinate_steps(8000, 6000, 16) == 6000  # never more than p (here the block draw is costly)


def test_steps_are_taken_only_with_enough_warm_up_and_bad_counts_are_refused(rng):
    X, y = rng.normal(size=(12, 5)), rng.normal(size=12)
    assert gibbs(X, y, 0.8, 0.4, draws=5, warmup=39, chains=2, coordinate_steps=3, seed=1).coordinates is None
    assert gibbs(X, y, 0.8, 0.4, draws=5, warmup=40, chains=2, coordinate_steps=0, seed=1).coordinates is None
    g = gibbs(X, y, 0.8, 0.4, draws=5, warmup=40, chains=2, coordinate_steps=9, seed=1)
    np.testing.assert_array_equal(g.coordinates, np.arange(5))  # at most p
    for bad, said in ((-1, r"in \[0, inf\), got -1"), (1.5, "a whole number, got 1.5"), (True, "a whole number"),
                      ("3", "a whole number")):  # the settings table's messages
        with pytest.raises(InputError, match=f"^coordinate_steps must be {said}"):
            gibbs(X, y, 0.8, 0.4, draws=5, chains=2, coordinate_steps=bad)
    for steps in (None, 2):
        with pytest.raises(InputError, match=r"^chains must be in \[1, inf\), got 0$"):
            gibbs(X, y, 0.8, 0.4, draws=5, chains=0, coordinate_steps=steps)
    assert main(["lasso", "--dataset", "diabetes", "--coordinate-steps", "-2", "--draws", "5"]) == 2
