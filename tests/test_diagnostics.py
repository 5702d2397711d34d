"""Diagnostics of draws that ArviZ does not offer, against a closed form and a simulation."""

from __future__ import annotations

import math

import numpy as np

from bmnn.laplace.diagnostics import chain_jackknife_se


def _ar1_chains(rng, chains, draws, p, phi):
    """Independent stationary AR(1) chains with unit marginal variance: the mean of one chain has a known
    variance, and its draws are correlated as a sampler's are."""
    x = np.empty((chains, draws, p))
    x[:, 0] = rng.standard_normal((chains, p))
    noise = rng.standard_normal((chains, draws, p)) * math.sqrt(1 - phi**2)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def test_for_a_linear_function_it_is_the_standard_error_over_chain_means(rng):
    draws = _ar1_chains(rng, 7, 300, 4, 0.6) + np.array([0.3, -1.7, 2.2, 0.0])
    a = np.array([0.4, -1.3, 2.9, 0.7])
    means = draws.mean(axis=1) @ a
    expected = means.std(ddof=1) / math.sqrt(len(means))
    assert math.isclose(chain_jackknife_se(draws, lambda m: float(a @ m)), expected, rel_tol=1e-12)


def test_it_matches_the_spread_of_a_nonlinear_function_over_repeated_runs():
    # the squared distance of the posterior mean from a point, as the expected test MSE 1 + ||w - w_hat||^2 uses it
    rng = np.random.default_rng(20261207)
    w = np.array([0.35, -0.2, 0.15, 0.05, -0.3])

    def fn(m):
        return 1.0 + float(np.sum((m - w) ** 2))

    values, estimates = [], []
    for _ in range(400):
        draws = _ar1_chains(rng, 8, 250, len(w), 0.7)
        values.append(fn(draws.mean(axis=(0, 1))))
        estimates.append(chain_jackknife_se(draws, fn))
    ratio = math.sqrt(np.mean(np.square(estimates))) / np.std(values, ddof=1)
    # 400 runs: the spread itself is known to about 3.5%; the jackknife with 8 chains is slightly conservative
    assert 0.9 <= ratio <= 1.2, ratio


def test_one_chain_gives_no_error():
    assert math.isnan(chain_jackknife_se(np.ones((1, 10, 3)), lambda m: float(m.sum())))
