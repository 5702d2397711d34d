"""The MCSE of a function of the posterior mean (the delta method on ArviZ's MCSE), against a closed form and the
spread over repeated runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bmnn.laplace.diagnostics import delta_mcse, summarize


def _ar1_chains(rng, chains, draws, p, phi):
    """Independent stationary AR(1) chains with unit marginal variance: correlated draws, as a sampler's are."""
    x = np.empty((chains, draws, p))
    x[:, 0] = rng.standard_normal((chains, p))
    noise = rng.standard_normal((chains, draws, p)) * math.sqrt(1 - phi**2)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def test_for_a_linear_function_it_is_the_mcse_of_the_projected_draws(rng):
    draws = _ar1_chains(rng, 6, 400, 4, 0.6) + np.array([0.3, -1.7, 2.2, 0.0])
    a = np.array([0.4, -1.3, 2.9, 0.7])
    projected = summarize((draws @ a)[..., None])["mcse"][0]
    assert delta_mcse(draws, a) == pytest.approx(projected, rel=1e-12)
    # AR(1): the variance of a chain's mean is known, (1 + phi) / (1 - phi) / draws per unit of a^T Sigma a
    exact = math.sqrt(a @ a * (1 + 0.6) / (1 - 0.6) / 400 / 6)
    assert 0.7 * exact < delta_mcse(draws, a) < 1.4 * exact


def test_it_matches_the_spread_of_a_nonlinear_function_over_repeated_runs():
    # the squared distance of the posterior mean from a point, as the expected test MSE 1 + ||w - w_hat||^2 uses it
    rng = np.random.default_rng(20261207)
    w = np.array([0.35, -0.2, 0.15, 0.05, -0.3])
    values, estimates = [], []
    for _ in range(300):
        draws = _ar1_chains(rng, 8, 250, len(w), 0.7)
        m = draws.mean(axis=(0, 1))
        values.append(1.0 + float(np.sum((m - w) ** 2)))
        estimates.append(delta_mcse(draws, 2.0 * (m - w)))
    estimates = np.asarray(estimates)
    ratio = math.sqrt(np.mean(estimates**2)) / np.std(values, ddof=1)
    assert 0.88 <= ratio <= 1.12, ratio  # 300 runs: the spread itself is known to about 4%
    # stable from run to run (most of its spread is the gradient moving with m), so the digits shown do not jump
    assert np.std(estimates) / np.mean(estimates) < 0.2, np.std(estimates) / np.mean(estimates)


def test_the_gradients_of_the_priors_summaries_are_their_derivatives(rng):
    from bmnn.experiments.laplace import sparse_summaries

    w = np.r_[3.1, -2.4, 1.7, np.zeros(7)]
    m = w + rng.normal(0, 0.3, size=w.size)
    m[3:] += np.sign(m[3:]) * 0.05  # away from the kinks of |m_j|
    h = 1e-6
    for name, fn in sparse_summaries(w, 3).items():
        value, grad = fn(m)
        numeric = [(fn(m + h * e)[0] - fn(m - h * e)[0]) / (2 * h) for e in np.eye(w.size)]
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8, err_msg=name)
    assert sparse_summaries(w, 3)["mse"](w)[0] == 1.0 and sparse_summaries(w, 3)["kept"](w)[0] == 1.0
