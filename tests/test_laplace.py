"""Job 2 against independent oracles: scipy densities, scikit-learn's Lasso, quadrature, the exact orthonormal
posterior, and scipy's inverse-Gaussian and Levy laws."""

import inspect
import warnings

import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.linear_model import Lasso

from bmnn._checks import InputError, NotFittedError
from bmnn.laplace import (
    LaplaceRegression,
    gibbs,
    inverse_gaussian,
    kkt_violation,
    lambda_from_tau,
    log_posterior,
    map_estimate,
    orthonormal_posterior,
    tau_from_lambda,
    tau_star,
)


def material(*args, seed=None, **kw):
    """The material's model (no intercept), with the sampler's seed: these tests check it against its exact
    references."""
    return LaplaceRegression(*args, fit_intercept=False, random_state=seed, **kw)


def problem(rng, n=30, p=5, noise_sd=1.0):
    X = rng.normal(size=(n, p))
    w = rng.laplace(size=p)
    return X, X @ w + noise_sd * rng.normal(size=n)


def orthonormal_problem(rng, n=40, p=5, noise_sd=0.5):
    X, _ = np.linalg.qr(rng.normal(size=(n, p)))
    w = np.array([2.0, 0.0, -1.0, 0.3, 0.05])[:p]
    return X, X @ w + noise_sd * rng.normal(size=n)


def test_log_posterior_matches_scipy_densities(rng):
    X, y = problem(rng)
    mu = rng.normal(size=5)
    w = rng.normal(size=(3, 4, 5))
    got = log_posterior(w, X, y, 1.3, 0.7, mu)
    want = (stats.norm.logpdf(y, w @ X.T, 1.3).sum(-1) + stats.laplace.logpdf(w, mu, 0.7).sum(-1))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got.shape == (3, 4)


def test_lambda_tau_mapping():
    assert lambda_from_tau(2.0, 0.5) == 8.0
    assert tau_from_lambda(2.0, 8.0) == 0.5
    with pytest.raises(InputError, match=r"scale \(tau\) must be a finite number > 0, got -1.0"):
        lambda_from_tau(1.0, -1.0)


@pytest.mark.parametrize("seed", range(6))
def test_map_equals_sklearn_lasso_with_alpha_lambda_over_n(seed):
    rng = np.random.default_rng(seed)
    n, p = 25, 8 if seed % 2 else 40  # odd seeds: p > n
    X, y = problem(rng, n, p)
    s, t = 1.0, 0.2
    ours = map_estimate(X, y, s, t)
    lam = s**2 / t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = Lasso(alpha=lam / n, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(X, y).coef_
    np.testing.assert_allclose(ours.coef, sk, atol=1e-6)
    assert ours.lam == lam
    assert ours.max_violation <= 1e-8


def test_map_with_location_is_shifted_lasso_and_certified(rng):
    X, y = problem(rng, 40, 6)
    mu = rng.normal(size=6)
    res = map_estimate(X, y, 0.8, 0.05, mu)
    assert res.max_violation <= 1e-8
    # the objective is no lower at random perturbations (convexity makes this a real check)
    def obj(w):
        return 0.5 * np.sum((y - X @ w) ** 2) + res.lam * np.sum(np.abs(w - mu))

    best = obj(res.coef)
    for _ in range(200):
        assert obj(res.coef + 1e-4 * rng.normal(size=6)) >= best - 1e-12


def test_certificate_detects_a_wrong_answer(rng):
    X, y = problem(rng)
    res = map_estimate(X, y, 1.0, 0.3)
    wrong = res.coef + 0.01
    assert kkt_violation(X, y, wrong, res.lam, np.zeros(5)).max() > 1e-3


def test_tau_star_both_sides(rng):
    X, y = problem(rng, 30, 6)
    mu = np.full(6, -0.3)
    ts = tau_star(X, y, 1.5, mu)
    assert np.array_equal(map_estimate(X, y, 1.5, ts, mu).coef, mu)
    assert np.array_equal(map_estimate(X, y, 1.5, ts / 1e3, mu).coef, mu)
    above = map_estimate(X, y, 1.5, ts * 1.0001, mu).coef
    assert np.sum(above != mu) == 1  # exactly the coordinate with the largest |X^T(y - X mu)| leaves first


def test_orthonormal_posterior_against_quadrature(rng):
    X, y = orthonormal_problem(rng)
    s, t, mu = 0.5, 0.3, np.array([0.0, 0.1, -0.5, 0.0, 0.0])
    post = orthonormal_posterior(X, y, s, t, mu)
    b = X.T @ y
    for j in range(5):
        def dens(w, j=j):
            return np.exp(-((w - b[j]) ** 2) / (2 * s**2) - abs(w - mu[j]) / t)

        pts = [mu[j]]
        z = integrate.quad(dens, -20, 20, points=pts, epsabs=0, epsrel=1e-12, limit=200)[0]
        m = integrate.quad(lambda w, d=dens: w * d(w), -20, 20, points=pts, epsabs=1e-13, limit=200)[0] / z
        m2 = integrate.quad(lambda w, d=dens: w * w * d(w), -20, 20, points=pts, epsabs=1e-13, limit=200)[0] / z
        c = integrate.quad(dens, -20, b[j], points=[mu[j]] if mu[j] < b[j] else None, limit=200)[0] / z
        assert post.mean()[j] == pytest.approx(m, rel=1e-8, abs=1e-10)
        assert post.var()[j] == pytest.approx(m2 - m * m, rel=1e-7)
        assert post.cdf(np.full(5, b[j]))[j] == pytest.approx(c, rel=1e-8, abs=1e-12)
        assert post.pdf(np.full(5, b[j]))[j] == pytest.approx(dens(b[j]) / z, rel=1e-8)


def test_orthonormal_posterior_refuses_other_designs(rng):
    X, y = problem(rng)
    with pytest.raises(InputError, match="needs X\\^T X = I"):
        orthonormal_posterior(X, y, 1.0, 1.0)


@pytest.mark.parametrize("scalar_location", [True, False])
def test_gibbs_mean_within_4_mcse_of_exact(rng, scalar_location):
    X, y = orthonormal_problem(rng)
    mu = 0.1 if scalar_location else np.array([0.0, 0.1, -0.5, 0.0, 2.0])
    exact = orthonormal_posterior(X, y, 0.5, 0.3, mu)
    res = gibbs(X, y, 0.5, 0.3, mu, draws=3000, chains=16, seed=11)
    d = res.diagnostics()
    z = (d["mean"] - exact.mean()) / d["mcse"]
    assert np.all(np.abs(z) < 4), z
    np.testing.assert_allclose(d["sd"] ** 2, exact.var(), rtol=0.05)
    assert np.all(d["rhat"] < 1.01) and np.all(d["ess_bulk"] > 5000)
    assert res.draws.shape == (16, 3000, 5)
    # the Rao-Blackwellised mean agrees too, with far less noise
    np.testing.assert_allclose(res.rb_mean.mean(axis=0), exact.mean(), atol=4 * d["mcse"].max())


def test_gibbs_is_reproducible():
    rng = np.random.default_rng(3)
    X, y = problem(rng)
    a = gibbs(X, y, 1.0, 1.0, draws=50, chains=3, seed=5).draws
    b = gibbs(X, y, 1.0, 1.0, draws=50, chains=3, seed=5).draws
    c = gibbs(X, y, 1.0, 1.0, draws=50, chains=3, seed=6).draws
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_inverse_gaussian_matches_scipy():
    rng = np.random.default_rng(0)
    for mean, shape in ((2.0, 3.0), (0.01, 5.0), (50.0, 0.2)):
        x = inverse_gaussian(np.full(100_000, 1 / mean), shape, rng)
        ref = stats.invgauss(mu=mean / shape, scale=shape)
        assert stats.kstest(x, ref.cdf).pvalue > 1e-3
        assert x.mean() == pytest.approx(mean, rel=6 * np.sqrt(mean / shape / 100_000))


def test_inverse_gaussian_stays_correct_at_huge_means():
    """Where the mean 1/(tau |w_j - mu_j|) explodes, the draw tends to the Levy law shape / Z^2, without a warning
    (the rejected branch's 1 / (a^2 x) is inf there and never taken)."""
    rng = np.random.default_rng(1)
    for inv_mean in (1e-16, 1e-160, 1e-300, 0.0):  # 1e-160: a^2 x is subnormal, 1 / (a^2 x) overflows
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x = inverse_gaussian(np.full(200_000, inv_mean), 2.0, rng)
        assert np.all(np.isfinite(x)) and np.all(x > 0)
        assert stats.kstest(x, stats.levy(scale=2.0).cdf).pvalue > 1e-3


def test_inverse_gaussian_works_in_float64_whatever_the_input_dtype():
    """float32 inverse means and shapes give the draws of the same numbers in float64 (a^2 is not rounded to
    float32)."""
    inv = np.random.default_rng(2).uniform(0.01, 30.0, size=5000).astype(np.float32)
    shape = np.float32(3.7)
    single = inverse_gaussian(inv, shape, np.random.default_rng(3))
    double = inverse_gaussian(inv.astype(np.float64), np.float64(shape), np.random.default_rng(3))
    assert single.dtype == np.float64
    np.testing.assert_array_equal(single, double)


def test_inverse_gaussian_of_scalars_is_the_draw_of_one_element_arrays():
    for inv_mean in (0.5, 0.0):
        one = inverse_gaussian(inv_mean, 2.0, np.random.default_rng(4))
        arr = inverse_gaussian(np.array([inv_mean]), np.array([2.0]), np.random.default_rng(4))
        assert np.shape(one) == () and float(one) == arr[0]


def test_gibbs_survives_a_chain_sitting_on_the_location(rng):
    """Tiny tau pins w_j within a hair of mu_j: the sampler must keep valid draws, matching the exact posterior."""
    X, y = orthonormal_problem(rng)
    exact = orthonormal_posterior(X, y, 0.5, 1e-6, 0.0)
    d = gibbs(X, y, 0.5, 1e-6, draws=500, chains=8, seed=2).diagnostics()
    assert np.all(np.isfinite(d["mean"]))
    np.testing.assert_allclose(d["mean"], exact.mean(), atol=1e-4)
    np.testing.assert_allclose(d["sd"], np.sqrt(exact.var()), rtol=0.2)


def test_p_greater_than_n_posterior_is_proper(rng):
    X, y = problem(rng, n=5, p=12)
    m = material(1.0, 0.5, draws=1500, chains=8, seed=0).fit(X, y)
    assert np.all(np.isfinite(m.coef_mean_)) and np.all(m.rhat_ < 1.05)
    assert m.kkt_violation_.max() <= 1e-8
    assert m.predict(X, "map").shape == (5,)


def test_estimator_contract(rng):
    X, y = problem(rng)
    with pytest.raises(NotFittedError, match=r"call fit\(X, y\) first"):
        material(1.0, 1.0).predict(X)
    m = material(1.0, 1.0, draws=0).fit(X, y)
    assert m.coef_map_.shape == (5,) and not hasattr(m, "coef_mean_")
    with pytest.raises(NotFittedError, match="fit with draws > 0"):
        m.predict(X, "mean")
    with pytest.raises(InputError, match="estimator must be 'mean' or 'map', got 'median'"):
        m.predict(X, "median")
    with pytest.raises(InputError, match=r"X has 4 features, but LaplaceRegression is expecting 5 features"):
        m.predict(X[:, :4], "map")
    np.testing.assert_allclose(m.log_posterior(m.coef_map_, X, y), log_posterior(m.coef_map_, X, y, 1.0, 1.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise_sd": 0.0, "scale": 1.0}, r"noise_sd must be in \(0, inf\), got 0.0"),
        ({"noise_sd": 1.0, "scale": -2.0}, r"scale must be in \(0, inf\), got -2.0"),
        ({"noise_sd": 1.0, "scale": 1.0, "location": [1.0, 2.0]}, "location must be a scalar or a vector of length"),
    ],
)
def test_bad_parameters(rng, kwargs, message):
    X, y = problem(rng)
    with pytest.raises(InputError, match=message):
        material(**kwargs, draws=0).fit(X, y)


def test_bad_arrays(rng):
    X, y = problem(rng)
    with pytest.raises(InputError, match=r"inconsistent numbers of samples: \[30, 29\]"):
        material(1.0, 1.0, draws=0).fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(InputError, match="Input X contains NaN"):
        material(1.0, 1.0, draws=0).fit(Xn, y)


@pytest.mark.parametrize("alpha", [-8.0, -1.0, 0.0, 2.5, 3.999, 4.0, 4.001, 12.0, 300.0, 5e5])
def test_truncated_normal_moments_against_mpmath(alpha):
    import mpmath as mp

    from bmnn.laplace.posterior import _upper_tail_moments

    mp.mp.dps = 60
    a = mp.mpf(alpha)
    q = mp.erfc(a / mp.sqrt(2)) / 2
    r = mp.exp(-a * a / 2) / mp.sqrt(2 * mp.pi) / q
    g_ref, v_ref = r - a, 1 - r * (r - a)
    g, v = _upper_tail_moments(np.array([alpha]))
    assert float(g[0]) == pytest.approx(float(g_ref), rel=1e-12)
    assert float(v[0]) == pytest.approx(float(v_ref), rel=1e-10)


@pytest.mark.parametrize("from_statistics", [False, True])
def test_polish_brings_a_loose_solve_to_the_exact_stationary_point(from_statistics, rng):
    # a loose search (tolerance 1e-3 / 1e-4) finds the support and the signs; the polish must then solve the
    # stationarity equations on the support exactly: X_S^T (r - X_S theta_S) = lambda sign(theta_S)
    from bmnn.laplace.map import map_from_statistics

    X = rng.normal(size=(40, 7))
    y = X @ np.array([1.7, -0.9, 0.0, 0.4, 0.0, 0.0, -2.2]) + 0.6 * rng.normal(size=40)
    mu = np.array([0.1, 0.0, -0.05, 0.0, 0.2, 0.0, 0.0])
    s, t = 0.83, 0.023
    res = (map_from_statistics(X.T @ X, X.T @ y, s, t, mu, tol=1e-4) if from_statistics
           else map_estimate(X, y, s, t, mu, tol=1e-3))
    theta = res.coef - mu
    S = np.flatnonzero(theta)
    assert 2 <= S.size < 7
    lam = s * s / t
    r = y - X @ mu
    exact = np.linalg.solve(X[:, S].T @ X[:, S], X[:, S].T @ r - lam * np.sign(theta[S]))
    np.testing.assert_allclose(theta[S], exact, rtol=1e-11, atol=1e-13)
    assert res.max_violation <= 1e-11  # rounding level, far below the 1e-8 the search alone is held to


def test_certificate_written_out_from_rows_and_from_the_gram_matrix(rng):
    from bmnn.laplace.map import _kkt_gram

    X = rng.normal(size=(9, 4))
    y = rng.normal(size=9) * 3.0
    mu = np.array([0.2, -0.1, 0.0, 0.4])
    w = np.array([0.9, -0.1, -0.6, 0.4])  # coordinates 1 and 3 sit at the location
    lam = 1.7
    g = X.T @ (y - X @ w)
    by_hand = np.empty(4)
    for j in range(4):
        if w[j] != mu[j]:
            by_hand[j] = abs(g[j] - lam * np.sign(w[j] - mu[j])) / lam
        else:
            by_hand[j] = max(abs(g[j]) - lam, 0.0) / lam
    assert np.any(by_hand[[1, 3]] > 0) or np.all(np.abs(g[[1, 3]]) <= lam)
    np.testing.assert_allclose(kkt_violation(X, y, w, lam, mu), by_hand, rtol=1e-13)
    np.testing.assert_allclose(_kkt_gram(X.T @ X, X.T @ (y - X @ mu), w - mu, lam), by_hand, rtol=1e-12, atol=1e-15)


def test_map_from_statistics_with_a_zero_column_and_bad_statistics(rng):
    from bmnn.laplace.map import map_from_statistics

    X = rng.normal(size=(30, 4))
    X[:, 0] = 0.0  # a column of zeros: its coordinate stays at the location, the others must still be solved
    y = X @ np.array([0.0, 1.5, -0.8, 0.6]) + 0.3 * rng.normal(size=30)
    mu = np.array([0.25, 0.0, 0.0, 0.0])
    rows = map_estimate(X, y, 0.7, 0.2, mu)
    stats = map_from_statistics(X.T @ X, X.T @ y, 0.7, 0.2, mu)
    assert stats.lam == pytest.approx(0.7**2 / 0.2, rel=1e-15)
    np.testing.assert_allclose(stats.coef, rows.coef, rtol=1e-9, atol=1e-12)
    assert stats.coef[0] == 0.25 and np.count_nonzero(stats.coef[1:]) == 3
    bad = X.T @ X
    bad[1, 2] = np.nan
    with pytest.raises(InputError, match="gram must be a finite"):
        map_from_statistics(bad, X.T @ y, 0.7, 0.2, mu)
    with pytest.raises(InputError, match="gram must be a finite"):
        map_from_statistics(X.T @ X, np.array([1.0, np.inf, 0.0, 0.0]), 0.7, 0.2, mu)


# ---- survivors of mutation testing (docs/mutation.md): each against an independent oracle ------------------------

def test_standardize_matches_scikit_learns_scaler_and_keeps_large_columns_finite(rng):
    from sklearn.preprocessing import StandardScaler

    from bmnn.laplace.posterior import standardize

    X = rng.normal(size=(40, 4)) * np.array([0.3, 2.5, 1e-3, 7.0]) + np.array([5.0, -1.0, 1e6, 0.0])
    X[:, 3] *= 1e200  # a column that would overflow its sum of squares: scaled by its largest value first
    y = 3.0 + 1.7 * rng.normal(size=40)
    Z, yc = standardize(X, y)
    ref = StandardScaler().fit_transform(X[:, :3])
    np.testing.assert_allclose(Z[:, :3], ref, rtol=1e-9, atol=1e-9)
    big = X[:, 3] / 1e200
    np.testing.assert_allclose(Z[:, 3], (big - big.mean()) / big.std(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(yc, y - y.mean(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(standardize(X[:, :3], 1e-3 * y)[1], 1e-3 * (y - y.mean()), rtol=1e-13, atol=1e-16)
    assert np.array_equal(standardize(X[:, :3], np.zeros(40))[1], np.zeros(40))  # an all-zero y stays zero


@pytest.mark.parametrize("where", [0, 2])
def test_standardize_names_the_first_constant_column(where, rng):
    from bmnn.laplace.posterior import standardize

    X = rng.normal(size=(20, 3))
    X[:, where] = 4.25
    X[:, 1] = -7.5 if where == 0 else X[:, 1]
    first = 0 if where == 0 else 2
    with pytest.raises(InputError, match=f"column 'c{first}' is constant"):
        standardize(X, np.arange(20.0), names=["c0", "c1", "c2"])
    with pytest.raises(InputError, match=f"column {first} is constant"):
        standardize(X, np.arange(20.0))


def test_standardize_refuses_zero_and_rounding_level_columns_and_keeps_tiny_varying_ones(rng):
    from bmnn.laplace.posterior import standardize

    y = np.arange(12.0)
    X = rng.normal(size=(12, 3))
    X[:, 1] = 0.0
    with pytest.raises(InputError, match="column 1 is constant"):
        standardize(X, y)
    X[:, 1] = 1e6 + 1e-10 * (np.arange(12) % 2)  # a spread of 1e-16 of its size: constant up to rounding
    with pytest.raises(InputError, match="column 1 is constant"):
        standardize(X, y)
    X[:, 1] = 1e-9 * rng.normal(size=12)  # tiny values that do vary, beside a column of size 1e6
    X[:, 2] = 1e6 * rng.normal(size=12)
    Z, _ = standardize(X, y)
    np.testing.assert_allclose(Z[:, 1], (X[:, 1] - X[:, 1].mean()) / X[:, 1].std(), rtol=1e-10)


def test_tau_from_lambda_at_a_generic_sigma_and_tau_star_exactly_at_one():
    assert tau_from_lambda(3.0, 2.0) == 4.5  # sigma^2 / lambda, not 2 sigma / lambda
    assert tau_from_lambda(0.3, 0.5) == pytest.approx(0.18, rel=1e-15)
    X, y = np.array([[1.0], [0.0]]), np.array([1.0, 0.0])  # X^T (y - X mu) = 1 exactly: tau* = sigma^2 / 1
    assert tau_star(X, y, 0.7) == pytest.approx(0.49, rel=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # infinite by the rule, not by a division by zero
        assert tau_star(X, np.zeros(2), 0.7) == np.inf


def test_orthonormal_posterior_default_location_tolerance_and_float32_input(rng):
    X, y = orthonormal_problem(rng)
    post = orthonormal_posterior(X, y, 0.5, 0.8)
    ref = orthonormal_posterior(X, y, 0.5, 0.8, np.zeros(5))
    np.testing.assert_array_equal(post.mean(), ref.mean())
    w = np.array([1.9, 0.01, -1.05, 0.28, 0.04])
    np.testing.assert_allclose(post.pdf(w.astype(np.float32)), post.pdf(w.astype(np.float32).astype(np.float64)),
                               rtol=1e-15)
    np.testing.assert_allclose(post.cdf(w.astype(np.float32)), post.cdf(w.astype(np.float32).astype(np.float64)),
                               rtol=1e-15)
    assert post.pdf(w.astype(np.float32)).dtype == np.float64
    for eps in (3e-9, 3e-7):  # X^T X = I only to eps: refused at the default tolerance 1e-10
        with pytest.raises(InputError):
            orthonormal_posterior(X * (1 + eps), y, 0.5, 0.8)
    orthonormal_posterior(X * (1 + 1e-12), y, 0.5, 0.8)


def test_map_warns_with_the_figure_at_the_callers_line_when_too_few_iterations_are_allowed():
    rng = np.random.default_rng(6)  # a correlated design where one sweep finds the wrong support
    n, p = 30, 8
    X = rng.normal(size=(n, 1)) + 0.2 * rng.normal(size=(n, p))
    y = X @ np.r_[2.0, -1.8, 0.5, np.zeros(p - 3)] + 0.3 * rng.normal(size=n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        res = map_estimate(X, y, 0.4, 0.02, max_iter=1, tol=1e-12)
    assert res.max_violation > 1e-8
    assert [w.category for w in caught] == [RuntimeWarning]
    # attributed to the caller's line (under mutation testing a wrapper of the tool's sits between the two)
    assert caught[0].filename == __file__ and caught[0].lineno == line or "trampoline" in caught[0].filename
    assert f"{res.max_violation:.3g}" in str(caught[0].message) and "1e-08" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert map_estimate(X, y, 0.4, 0.02).max_violation <= 1e-11  # the default max_iter is enough


def test_map_from_statistics_with_small_columns_and_correlation_against_scikit_learn(rng):
    from bmnn.laplace.map import map_from_statistics

    n, p = 50, 6
    X = rng.normal(size=(n, 1)) + 0.4 * rng.normal(size=(n, p))
    X *= np.array([0.05, 0.2, 1.0, 0.6, 0.02, 1.3])  # columns of squared norm well below 1
    y = X @ np.array([20.0, -4.0, 0.0, 0.5, 0.0, 0.8]) + 0.1 * rng.normal(size=n)
    s, t = 0.3, 0.9
    lam = s * s / t
    ref = Lasso(alpha=lam / n, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(X, y).coef_
    res = map_from_statistics(X.T @ X, X.T @ y, s, t)
    np.testing.assert_allclose(res.coef, ref, atol=1e-8)
    assert np.count_nonzero(res.coef) >= 3 and res.coef[0] != 0
    assert res.max_violation <= 1e-11
    # integer statistics are taken as float64
    Xi = np.array([[1, 0], [0, 2], [1, 1]]); yi = np.array([3, 1, 2])  # noqa: E702
    a = map_from_statistics(Xi.T @ Xi, Xi.T @ yi, 0.5, 0.7).coef
    b = map_from_statistics((Xi.T @ Xi).astype(float), (Xi.T @ yi).astype(float), 0.5, 0.7).coef
    np.testing.assert_array_equal(a, b)


def test_map_from_statistics_converges_where_one_sweep_finds_the_wrong_support():
    from bmnn.laplace.map import map_from_statistics

    rng = np.random.default_rng(6)  # the correlated design above, where one pass is not enough
    n, p = 30, 8
    X = rng.normal(size=(n, 1)) + 0.2 * rng.normal(size=(n, p))
    y = X @ np.r_[2.0, -1.8, 0.5, np.zeros(p - 3)] + 0.3 * rng.normal(size=n)
    ref = Lasso(alpha=0.4**2 / 0.02 / n, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(X, y).coef_
    res = map_from_statistics(X.T @ X, X.T @ y, 0.4, 0.02)
    np.testing.assert_allclose(res.coef, ref, atol=1e-8)
    assert res.max_violation <= 1e-11


def test_polish_refuses_a_support_whose_signs_flip():
    from bmnn.laplace.map import _polish

    X = np.array([[1.0, 0.9], [0.0, 0.5], [0.2, 0.1]])
    r = np.array([1.0, -1.0, 0.3])
    theta = np.array([0.4, 0.3])  # both positive; the exact solve on this support gives a negative second weight
    lam = 0.05
    exact = np.linalg.solve(X.T @ X, X.T @ r - lam * np.sign(theta))
    assert exact[1] < 0 < exact[0]
    assert _polish(X, r, theta, lam) is None
    agree = np.sign(exact)  # with the signs it finds, the polish returns exactly the stationary point
    np.testing.assert_allclose(_polish(X, r, agree * np.abs(theta), lam)[0], np.linalg.solve(
        X.T @ X, X.T @ r - lam * agree)[0], rtol=1e-14)


@pytest.mark.parametrize("which", ["noise_sd", "scale"])
def test_scales_whose_squares_leave_float64_are_refused_and_those_just_inside_kept(which):
    from bmnn.laplace.posterior import validate_problem

    X, y = 1e-5 * np.array([[1.0, 0.5], [0.2, -1.0], [0.3, 0.3]]), 1e-5 * np.array([0.4, -0.2, 0.1])

    def check(v):
        kw = {"noise_sd": 1.0, "scale": 1.0, which: v}
        return validate_problem(X, y, kw["noise_sd"], kw["scale"], 0.0)

    for v in (1e-154, 1e154):  # v^2 = 1e-308 (1 / v^2 = 1e308) and 1e308: both representable
        assert check(v)[2 if which == "noise_sd" else 3] == v
    for v in (1e-155, 1e-170, 1e160):  # 1 / v^2 overflows; v^2 underflows to 0; v^2 overflows
        with pytest.raises(InputError, match=f"{which} = .*beyond float64's range"):
            check(v)


def test_designs_locations_and_data_too_large_are_refused_by_name(rng):
    from bmnn.laplace.posterior import validate_design, validate_location, validate_problem

    X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    cases = [((X[:, 0], y), "X must be 2-dimensional"), ((X, y[:, None]), "y must be 1-dimensional"),
             ((X, y[:5]), "X has 6 rows but y has 5 entries"), ((X[:0], y[:0]), "at least one row and one column"),
             ((X[:, :0], y), "at least one row and one column")]
    for args, message in cases:
        with pytest.raises(InputError, match=message):
            validate_design(*args)
    Xv, yv = validate_design(X.astype(np.float32), list(y))
    assert Xv.dtype == np.float64 and yv.dtype == np.float64 and np.array_equal(yv, y)
    np.testing.assert_array_equal(validate_location(-0.25, 3), [-0.25] * 3)
    np.testing.assert_array_equal(validate_location([0.1, 0.2, 0.3], 3), [0.1, 0.2, 0.3])
    for bad in ([0.1, 0.2], [[0.1, 0.2, 0.3]]):
        with pytest.raises(InputError, match="location must be a scalar or a vector of length p = 3"):
            validate_location(bad, 3)
    # sums such as X^T X / sigma^2 must stay below 1e300: N max|X| max(max|X|, max|y| + max|X| sum|mu|) / sigma^2
    Xb = np.full((4, 1), 1e149)
    validate_problem(Xb, np.zeros(4), 1.0, 1.0, 0.0)  # 4e298
    with pytest.raises(InputError, match="too large for float64"):
        validate_problem(Xb, np.zeros(4), 0.1, 1.0, 0.0)  # 4e300
    with pytest.raises(InputError, match="too large for float64"):
        validate_problem(np.ones((4, 1)), np.full(4, 1e300), 1.0, 1.0, 0.0)  # y alone
    with pytest.raises(InputError, match="too large for float64"):
        validate_problem(np.full((4, 1), 1e100), np.zeros(4), 1.0, 1.0, 1e201)  # through X mu


def test_prior_pairs_refuse_a_zero_shape_and_take_a_zero_noise_rate(rng):
    X = rng.normal(size=(10, 2))
    y = X @ np.array([0.5, -0.3]) + 0.4 * rng.normal(size=10)
    for bad in ((0.0, 1.0), (-1.0, 1.0), (float("inf"), 1.0)):
        with pytest.raises(InputError, match="noise_prior .* must have shape > 0 and rate >= 0"):
            gibbs(X, y, None, 0.5, draws=5, chains=2, noise_prior=bad)
        with pytest.raises(InputError, match="scale_prior .* must have shape > 0 and rate > 0"):
            gibbs(X, y, 0.4, None, draws=5, chains=2, scale_prior=bad)
    for ok in ((2.0, 0.0), (2.0, 0.5)):  # a zero rate is a proper inverse-gamma limit here: the data make it proper
        assert np.all(np.isfinite(gibbs(X, y, None, 0.5, draws=5, chains=2, noise_prior=ok, seed=0).noise_sd))


def test_inverse_gaussian_broadcasts_its_two_parameters(rng):
    x = inverse_gaussian(np.array([0.5]), np.array([1.0, 2.0, 3.0]), rng)
    assert x.shape == (3,) and np.all(x > 0)
    y = inverse_gaussian(np.full((2, 1), 0.5), np.array([1.0, 4.0]), rng)
    assert y.shape == (2, 2)
    z = inverse_gaussian(np.array([0.5]), np.full(20_000, 2.0), rng)  # one mean, many shapes: independent draws
    assert stats.kstest(z, stats.invgauss(mu=2.0 / 2.0, scale=2.0).cdf).pvalue > 1e-3
