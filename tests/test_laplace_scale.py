"""Job 2 at scale: the two exact Gaussian draws against the exact conditional and each other (p < n and p > n),
the sampler against the exact orthonormal posterior with either draw, learned sigma and tau against numerical
quadrature of the joint posterior, and what users of a Bayesian regression expect (predictive sd, intervals,
ArviZ InferenceData)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from bmnn._checks import InputError
from bmnn.cli import main
from bmnn.laplace import LaplaceRegression, gibbs, orthonormal_posterior
from bmnn.laplace.diagnostics import summarize
from bmnn.laplace.gaussian_draw import Design, choose, draw


def material(*args, seed=None, **kw):
    """The material's model (no intercept), with the sampler's seed: these tests check it against its exact
    references."""
    return LaplaceRegression(*args, fit_intercept=False, random_state=seed, **kw)


def _exact_conditional(X, r, d, sigma):
    A = X.T @ X / sigma**2 + np.diag(1.0 / d)
    cov = np.linalg.inv(A)
    return cov @ (X.T @ r / sigma**2), cov


@pytest.mark.parametrize(("n", "p"), [(40, 6), (7, 19), (70, 36)])  # 36: the Cholesky branch of "precision"
@pytest.mark.parametrize("algorithm", ["precision", "bcm"])
def test_each_draw_has_the_exact_conditional_moments(n, p, algorithm, rng):
    X, r = rng.normal(size=(n, p)), rng.normal(size=n) * 2.3
    d, sigma = rng.exponential(0.8, size=p) + 0.05, 1.37
    mean, cov = _exact_conditional(X, r, d, sigma)
    k = 40_000 if p < 30 else 6_000  # draws as chains: one iteration, k independent draws
    theta, cond = draw(Design.build(X, r, algorithm), np.tile(d, (k, 1)), np.full(k, sigma), rng)
    np.testing.assert_allclose(cond[0], mean, rtol=1e-9, atol=1e-12)  # the Rao-Blackwell mean is exact
    se = np.sqrt(np.diag(cov) / k)
    assert np.all(np.abs(theta.mean(axis=0) - mean) < 4.5 * se)
    emp = np.cov(theta.T)
    # the sd of a sample covariance entry is about sqrt((c_ii c_jj + c_ij^2) / k)
    sd_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / k)
    assert np.all(np.abs(emp - cov) < 5 * sd_cov)


def test_the_cheaper_algorithm_is_chosen_by_shape():
    assert choose(442, 10) == "precision" and choose(1000, 100) == "precision"
    assert choose(200, 2000) == "bcm" and choose(100, 10_000) == "bcm"
    assert choose(50, 50) == "precision"
    with pytest.raises(InputError, match="algorithm must be 'precision' or 'bcm'"):
        Design.build(np.ones((3, 2)), np.ones(3), "cholesky")


@pytest.mark.parametrize("algorithm", ["precision", "bcm"])
def test_sampler_matches_the_exact_orthonormal_posterior_with_either_draw(algorithm, rng):
    n, p = 30, 4
    Q, _ = np.linalg.qr(rng.normal(size=(n, p)))
    y = Q @ np.array([1.5, -0.3, 0.0, 0.8]) + 0.7 * rng.normal(size=n)
    exact = orthonormal_posterior(Q, y, 0.7, 0.35, location=np.array([0.1, 0.0, -0.2, 0.0]))
    g = gibbs(Q, y, 0.7, 0.35, np.array([0.1, 0.0, -0.2, 0.0]), draws=3000, chains=8, seed=2, algorithm=algorithm)
    d = summarize(g.draws)
    assert g.algorithm == algorithm
    assert np.all(np.abs(d["mean"] - exact.mean()) < 4 * d["mcse"])
    np.testing.assert_allclose(d["sd"], np.sqrt(exact.var()), rtol=0.05)


def test_the_two_draws_agree_on_a_p_greater_than_n_posterior(rng):
    n, p = 9, 24
    X = rng.normal(size=(n, p))
    y = X[:, :3] @ np.array([2.0, -1.0, 0.5]) + 0.4 * rng.normal(size=n)
    a = gibbs(X, y, 0.4, 0.6, draws=3000, chains=8, seed=5, algorithm="precision")
    b = gibbs(X, y, 0.4, 0.6, draws=3000, chains=8, seed=6, algorithm="bcm")
    da, db = summarize(a.draws), summarize(b.draws)
    z = (da["mean"] - db["mean"]) / np.sqrt(da["mcse"] ** 2 + db["mcse"] ** 2)
    assert np.max(np.abs(z)) < 4.5 and np.mean(np.abs(z) < 2.5) > 0.9
    np.testing.assert_allclose(da["sd"], db["sd"], rtol=0.1)


def _grid_posterior(x, y, mu, a, b, noise_sd=None):
    """Posterior means of w, sigma and tau for p = 1 by quadrature on a grid (sigma learned: Jeffreys, the prior
    scaled by sigma; tau learned: Gamma(a, b) on 1 / tau)."""
    w = np.linspace(-6.0, 6.0, 1201)[:, None, None]
    rss = np.sum((y[None, :] - w[:, :, 0] * x[None, :]) ** 2, axis=1)[:, None, None]
    zeta = np.linspace(-6, 6, 241)[None, None, :]  # log of the rate 1 / tau
    rho = np.exp(zeta)
    if noise_sd is None:
        eta = np.linspace(np.log(1e-3), np.log(400.0), 321)[None, :, None]  # log sigma^2 (Jeffreys: flat in eta)
        sig = np.exp(eta / 2)
        logf = (-len(y) / 2 * eta - rss / (2 * sig**2) + np.log(rho) - np.log(sig) - rho * np.abs(w - mu) / sig
                + (a - 1) * np.log(rho) - b * rho + zeta)
    else:
        sig = np.full((1, 1, 1), noise_sd)
        logf = -rss / (2 * noise_sd**2) + np.log(rho) - rho * np.abs(w - mu) + (a - 1) * np.log(rho) - b * rho + zeta
    f = np.exp(logf - logf.max())
    f /= f.sum()
    sig = np.broadcast_to(sig, f.shape)
    return (float((f * w).sum()), float((f * sig).sum()), float((f / rho).sum()),
            float((f * w * w).sum()), float((f * w * sig).sum()))


@pytest.mark.parametrize(("overrelax", "steps"), [(0.0, None), (-0.85, None), (-0.5, 1)])
@pytest.mark.parametrize("learn_sigma", [True, False])
def test_learned_sigma_and_tau_match_quadrature_of_the_joint_posterior(learn_sigma, overrelax, steps, rng):
    """Also with the collapsed coordinate step (p = 1: the one coordinate is stepped in every kept sweep)."""
    n = 4  # few points, so the prior's terms weigh in the conditionals
    x = rng.normal(size=n)
    y = 0.9 * x + 1.3 * rng.normal(size=n)
    mu, a, b = 0.2, 2.0, 1.5
    w_q, s_q, t_q, w2_q, ws_q = _grid_posterior(x, y, mu, a, b, None if learn_sigma else 1.3)
    g = gibbs(x[:, None], y, None if learn_sigma else 1.3, None, mu, draws=10000, chains=8, seed=11,
              scale_prior=(a, b), overrelax=overrelax, coordinate_steps=steps)
    assert g.overrelax == overrelax and (g.coordinates is None) == (steps is None)
    dw, dt, d2 = summarize(g.draws), summarize(g.scale), summarize(g.draws[..., 0] ** 2)
    assert abs(dw["mean"][0] - w_q) < 4 * dw["mcse"][0]
    assert abs(dt["mean"] - t_q) < 4 * dt["mcse"]
    assert abs(d2["mean"] - w2_q) < 4 * d2["mcse"]  # the spread too, not only the centre
    if learn_sigma:  # sigma's mean and its joint moment with w (the over-relaxed step must follow the new sigma)
        ds, dws = summarize(g.noise_sd), summarize(g.draws[..., 0] * g.noise_sd)
        assert abs(ds["mean"] - s_q) < 4 * ds["mcse"]
        assert abs(dws["mean"] - ws_q) < 4 * dws["mcse"]
    else:
        assert g.noise_sd is None


@pytest.mark.parametrize("algorithm", ["precision", "bcm"])
def test_over_relaxation_keeps_the_exact_posterior_and_anti_correlates_the_draws(algorithm, rng):
    n, p = 30, 4
    Q, _ = np.linalg.qr(rng.normal(size=(n, p)))
    loc = np.array([0.1, 0.0, -0.2, 0.0])
    y = Q @ np.array([1.5, -0.3, 0.0, 0.8]) + 0.7 * rng.normal(size=n)
    exact = orthonormal_posterior(Q, y, 0.7, 0.35, location=loc)
    lag1 = {}
    for alpha in (0.0, -0.9):
        g = gibbs(Q, y, 0.7, 0.35, loc, draws=4000, chains=8, seed=3, algorithm=algorithm, overrelax=alpha)
        d = summarize(g.draws)
        assert np.all(np.abs(d["mean"] - exact.mean()) < 4 * d["mcse"])
        np.testing.assert_allclose(d["sd"], np.sqrt(exact.var()), rtol=0.05)
        c = g.draws[:, :, 0] - g.draws[:, :, 0].mean()  # w_0, well away from its location: a near-Gaussian posterior
        lag1[alpha] = float(np.sum(c[:, 1:] * c[:, :-1]) / np.sum(c * c))
    # plain Gibbs: positively correlated through the mixing variables (0.18 here); the move
    # theta' = m + alpha (theta - m) + ... turns it negative (-0.53; -0.9 only if m stood still)
    assert 0.05 < lag1[0.0] < 0.35 and -0.8 < lag1[-0.9] < -0.35


@pytest.mark.parametrize("bad", [-1.0, 0.3, float("nan"), "x"])
def test_over_relaxation_outside_its_range_is_refused(bad):
    with pytest.raises(InputError, match=r"overrelax must be"):
        gibbs(np.eye(3), np.ones(3), 1.0, 1.0, overrelax=bad)


def test_a_flat_prior_on_the_rate_is_refused():
    with pytest.raises(InputError, match="improper posterior"):
        gibbs(np.ones((3, 1)), np.ones(3), 1.0, None, scale_prior=(1.0, 0.0), draws=5)


def test_estimator_with_learned_sigma_and_tau_takes_the_map_at_the_posterior_medians(rng):
    X = rng.normal(size=(60, 5))
    y = X @ np.array([1.2, 0.0, -0.7, 0.0, 0.3]) + 0.8 * rng.normal(size=60)
    m = material(draws=800, chains=4, seed=1).fit(X, y)
    s, t = np.median(m.noise_sd_draws_), np.median(m.scale_draws_)
    assert m.map_at_ == {"noise_sd": s, "scale": t, "noise_sd_from": "posterior median",
                         "scale_from": "posterior median"}
    fixed = material(s, s * t, draws=0).fit(X, y)  # the same MAP problem, with b = sigma tau given
    np.testing.assert_allclose(m.coef_map_, fixed.coef_map_, atol=1e-12)
    assert m.lambda_ == pytest.approx(s / t) and m.tau_star_ == pytest.approx(fixed.tau_star_ / s)
    assert 0.5 < m.noise_sd_summary_["mean"] < 1.2 and m.noise_sd_summary_["q05"] < m.noise_sd_summary_["q95"]
    for summary, draws in ((m.noise_sd_summary_, m.noise_sd_draws_), (m.scale_summary_, m.scale_draws_)):
        # each end of the interval with its MCSE: of the order of the spread of the chains' own quantiles
        for key, prob in (("mcse_q05", 0.05), ("mcse_q95", 0.95)):
            per_chain = np.quantile(draws, prob, axis=1)
            rough = per_chain.std(ddof=1) / np.sqrt(len(per_chain))
            assert 0.2 * rough < summary[key] < 5 * rough, (key, summary[key], rough)


def test_predictive_sd_intervals_and_inference_data(rng):
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.6 * rng.normal(size=50)
    m = material(0.6, 1.0, draws=1500, chains=4, seed=3).fit(X, y, feature_names=["a", "b", "c"])
    Xn = rng.normal(size=(7, 3))
    mean, sd = m.predict(Xn, return_std=True)
    w = m.draws_.reshape(-1, 3)
    f = w @ Xn.T
    np.testing.assert_allclose(mean, Xn @ w.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sd, np.sqrt(f.var(axis=0, ddof=1) + 0.36), rtol=1e-10)
    lo, hi = m.predict_interval(Xn, 0.9, random_state=0)
    z = 1.6448536269514722  # predictive nearly Normal here: its 90% interval is mean -+ 1.645 sd
    np.testing.assert_allclose((hi - lo) / 2, z * sd, rtol=0.06)
    clo, chi = m.coef_interval(0.9)
    assert np.all(clo < m.coef_mean_) and np.all(m.coef_mean_ < chi)
    np.testing.assert_allclose(np.mean((w > clo) & (w < chi), axis=0), 0.9, atol=0.002)
    idata = m.to_inference_data()
    assert list(idata.posterior["w"].coords["feature"].values) == ["a", "b", "c"]
    assert idata.posterior["w"].shape == (4, 1500, 3) and "sigma" not in idata.posterior


def test_cli_learns_sigma_and_tau_and_saves_the_draws(tmp_path, capsys):
    import arviz as az

    out = tmp_path / "d.nc"
    code = main(["lasso", "--dataset", "diabetes", "--standardize", "--draws", "300", "--chains", "4", "--json",
                 "--save", str(out), "--scale-prior", "2", "0.5"])
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert {"noise_sd", "scale", "map_at", "q05", "q95", "algorithm"} <= set(d)
    assert d["map_at"]["noise_sd_from"] == "posterior median" and 45 < d["noise_sd"]["mean"] < 65
    idata = az.from_netcdf(out)
    assert idata.posterior["sigma"].shape == (4, 300) and idata.posterior["w"].shape == (4, 300, 10)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert main(["lasso", "--dataset", "diabetes", "--draws", "50", "--save", str(tmp_path / "x.txt")]) == 2
    assert "--save expects a file name ending in .nc" in capsys.readouterr().err


def test_a_problem_that_cannot_fit_is_refused_before_allocation():
    X = np.zeros((2000, 3))
    X[:, 0] = 1.0
    with pytest.raises(InputError, match="of memory, but"):
        gibbs(X, np.ones(2000), 1.0, 1.0, draws=10**9, chains=64)


@pytest.mark.parametrize("from_rows", [True, False])
def test_learned_sigmas_quadratic_form_equals_the_direct_one(from_rows, rng):
    """r^T (I + X S X^T)^-1 r, which sets sigma^2 | s, y, against the n x n inverse written out."""
    n, p = 9, 5
    X, r = rng.normal(size=(n, p)), rng.normal(size=n) * 1.7
    s = rng.exponential(0.6, size=(3, p)) + 0.02
    design = Design.build(X, r, "precision") if from_rows else Design.from_gram(X.T @ X, X.T @ r, float(r @ r), n)
    _, m = draw(design, s, np.ones(3), rng)
    direct = [r @ np.linalg.solve(np.eye(n) + X @ np.diag(sk) @ X.T, r) for sk in s]
    np.testing.assert_allclose(design.marginal_quad(m, s), direct, rtol=1e-10)


# ---- the statistics-only paths and the batched sampler, against the exact orthonormal posterior --------------------

def _orthonormal(rng, n=30):
    Q, _ = np.linalg.qr(rng.normal(size=(n, 4)))
    loc = np.array([0.1, 0.0, -0.2, 0.0])
    y = Q @ np.array([1.5, -0.3, 0.0, 0.8]) + 0.7 * rng.normal(size=n)
    return Q, y, loc, orthonormal_posterior(Q, y, 0.7, 0.35, location=loc)


def test_sampler_and_map_from_statistics_match_the_orthonormal_posterior(rng):
    from bmnn.laplace.gibbs import gibbs_from_statistics

    Q, y, loc, exact = _orthonormal(rng)
    g = gibbs_from_statistics(Q.T @ Q, Q.T @ y, float(y @ y), 30, 0.7, 0.35, loc, draws=3000, chains=8, seed=2)
    d = summarize(g.draws)
    assert np.all(np.abs(d["mean"] - exact.mean()) < 4 * d["mcse"])
    np.testing.assert_allclose(d["sd"], np.sqrt(exact.var()), rtol=0.05)
    m = material(0.7, 0.35, loc, draws=2000, chains=8, seed=3).fit_statistics(Q.T @ Q, Q.T @ y, y @ y, 30)
    # the MAP of an orthonormal design is the soft threshold of X^T y around mu at lambda = sigma^2 / tau
    b, lam = Q.T @ y, 0.7**2 / 0.35
    soft = loc + np.sign(b - loc) * np.maximum(np.abs(b - loc) - lam, 0.0)
    np.testing.assert_allclose(m.coef_map_, soft, rtol=1e-12, atol=1e-14)
    assert np.all(np.abs(m.coef_mean_ - exact.mean()) < 4 * m.mcse_)
    assert m.tau_star_ == pytest.approx(0.7**2 / np.max(np.abs(b - loc)), rel=1e-12)


def test_learned_sigma_from_statistics_matches_quadrature(rng):
    from bmnn.laplace.gibbs import gibbs_from_statistics

    x = rng.normal(size=4)
    y = 0.9 * x + 1.3 * rng.normal(size=4)
    w_q, s_q, t_q, _, _ = _grid_posterior(x, y, 0.2, 2.0, 1.5)
    g = gibbs_from_statistics(np.array([[x @ x]]), np.array([x @ y]), float(y @ y), 4, None, None, 0.2,
                              draws=10000, chains=8, seed=11, scale_prior=(2.0, 1.5))
    dw, ds, dt = summarize(g.draws), summarize(g.noise_sd), summarize(g.scale)
    assert abs(dw["mean"][0] - w_q) < 4 * dw["mcse"][0]
    assert abs(ds["mean"] - s_q) < 4 * ds["mcse"]
    assert abs(dt["mean"] - t_q) < 4 * dt["mcse"]


def test_batched_sampler_matches_the_orthonormal_posterior_on_every_problem(rng):
    from bmnn.laplace.gibbs import gibbs_batched

    probs = [_orthonormal(rng) for _ in range(3)]
    s, t = 0.7, 0.35
    gram = np.stack([Q.T @ Q / s**2 for Q, *_ in probs])
    c = np.stack([Q.T @ (y - Q @ loc) / s**2 for Q, y, loc, _ in probs])
    draws, rb = gibbs_batched(gram, c, t, chains=8, draws=3000, warmup=200, rng=np.random.default_rng(4))
    assert draws.shape == (3, 8, 3000, 4) and rb.shape == (3, 8, 4)
    for b, (_, _, loc, exact) in enumerate(probs):
        d = summarize(draws[b] + loc)
        assert np.all(np.abs(d["mean"] - exact.mean()) < 4 * d["mcse"])
        np.testing.assert_allclose(d["sd"], np.sqrt(exact.var()), rtol=0.05)
        # the Rao-Blackwellised mean is at least as close as the plain one allows
        assert np.all(np.abs(rb[b].mean(axis=0) + loc - exact.mean()) < 4 * d["mcse"])
    none, rb2 = gibbs_batched(gram, c, t, chains=8, draws=3000, warmup=200, rng=np.random.default_rng(4),
                              keep_draws=False)
    assert none is None and np.array_equal(rb2, rb)  # keeping the draws changes nothing else


def test_intervals_hold_their_share_of_the_draws(rng):
    from bmnn.laplace.diagnostics import interval

    d = rng.normal(size=(4, 5000, 3)) * np.array([1.0, 2.0, 0.5])
    lo, hi = interval(d)  # the default is 90%
    inside = np.mean((d >= lo) & (d <= hi), axis=(0, 1))
    np.testing.assert_allclose(inside, 0.9, atol=2e-4)
    lo5, hi5 = interval(d, 0.5)
    np.testing.assert_allclose(np.mean((d >= lo5) & (d <= hi5), axis=(0, 1)), 0.5, atol=2e-4)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(InputError, match="level must be in"):
            interval(d, bad)
    X = rng.normal(size=(30, 2))
    m = material(0.8, 0.4, draws=500, chains=4, seed=1).fit(X, X @ np.array([1.0, 0.0]) + rng.normal(size=30))
    lo_m, hi_m = m.coef_interval()
    np.testing.assert_array_equal(lo_m, interval(m.draws_, 0.9)[0])
    lo_h, hi_h = m.coef_interval(0.5)
    assert np.all(lo_h > lo_m) and np.all(hi_h < hi_m)


# ---- the estimator: settings passed on, predictions and log posterior written out (docs/mutation.md) --------------

def test_the_estimator_passes_every_setting_to_the_sampler(rng):
    from bmnn.laplace.gibbs import gibbs_from_statistics

    X = rng.normal(size=(12, 20))  # p > n: the n x n draw is possible
    y = X[:, :2] @ np.array([1.2, -0.7]) + 0.5 * rng.normal(size=12)
    loc = np.linspace(-0.1, 0.1, 20)
    kw = dict(draws=40, warmup=40, chains=3, seed=9, scale_prior=(2.0, 3.0), noise_prior=(2.5, 1.5),
              overrelax=-0.3, coordinate_steps=3)
    m = material(None, None, loc, algorithm="bcm", **kw).fit(X, y)
    g = gibbs(X, y, None, None, loc, algorithm="bcm", **kw)
    assert m.algorithm_ == "bcm" and m.draws_.shape == (3, 40, 20) and len(g.coordinates) == 3
    np.testing.assert_array_equal(m.draws_, g.draws)
    np.testing.assert_array_equal(m.noise_sd_draws_, g.noise_sd)
    np.testing.assert_array_equal(m.scale_draws_, g.scale)
    np.testing.assert_array_equal(m.coef_rb_mean_, g.rb_mean.mean(axis=0))
    Xs, ys = X[:, :5], y  # n >= p for the statistics path
    ms = material(0.6, None, loc[:5], **kw).fit_statistics(Xs.T @ Xs, Xs.T @ ys, ys @ ys, 12)
    gs = gibbs_from_statistics(Xs.T @ Xs, Xs.T @ ys, ys @ ys, 12, 0.6, None, loc[:5], **kw)
    assert len(gs.coordinates) == 3
    np.testing.assert_array_equal(ms.draws_, gs.draws)
    np.testing.assert_array_equal(ms.scale_draws_, gs.scale)
    assert ms.coef_names_ == [f"x{j}" for j in range(5)]


def test_predictive_sd_and_log_posterior_written_out_with_learned_sigma(rng):
    X = rng.normal(size=(25, 3))
    y = X @ np.array([0.8, 0.0, -1.1]) + 0.7 * rng.normal(size=25)
    loc = np.array([0.2, -0.1, 0.0])
    m = material(None, None, loc, draws=300, chains=4, seed=2).fit(X, y)
    Xn = rng.normal(size=(2100, 3))  # more than one block of 1024 rows
    mean, sd = m.predict(Xn, return_std=True)
    w = m.draws_.reshape(-1, 3)
    f = w @ Xn.T
    np.testing.assert_allclose(mean, Xn @ m.coef_mean_, rtol=1e-12)
    np.testing.assert_allclose(sd, np.sqrt(f.var(axis=0, ddof=1) + np.mean(m.noise_sd_draws_**2)), rtol=1e-10)
    # the log posterior at the MAP's sigma and tau, the prior's scale sigma tau (learned sigma), centred at loc
    s, t = m.map_at_["noise_sd"], m.map_at_["scale"]
    wq = np.array([[0.5, 0.1, -0.9], [0.0, 0.0, 0.0]])
    b = s * t
    rss = np.sum((y[None] - wq @ X.T) ** 2, axis=1)
    by_hand = (-25 / 2 * np.log(2 * np.pi * s * s) - rss / (2 * s * s) - 3 * np.log(2 * b)
               - np.sum(np.abs(wq - loc), axis=1) / b)
    np.testing.assert_allclose(m.log_posterior(wq, X, y), by_hand, rtol=1e-12)


def test_one_draw_is_sampled_and_a_refit_without_draws_forgets_them(rng):
    X = rng.normal(size=(15, 2))
    y = X @ np.array([1.0, -0.5]) + rng.normal(size=15)
    m = material(0.9, 0.4, draws=1, chains=2, seed=0).fit(X, y)
    assert m.draws_.shape == (2, 1, 2) and hasattr(m, "coef_mean_")
    m.draws = 0  # a plain attribute edit, as scikit-learn's set_params makes
    m.fit(X, y)
    assert not hasattr(m, "draws_") and not hasattr(m, "coef_mean_") and hasattr(m, "coef_map_")
    with pytest.raises(InputError, match="draws must be >= 1 when noise_sd or scale is learned"):
        material(0.9, None, draws=0).fit(X, y)
    with pytest.raises(InputError, match="draws must be >= 1 when noise_sd or scale is learned"):
        material(None, 0.4, draws=0).fit(X, y)


def test_statistics_with_y_equal_to_x_mu_give_an_unbounded_tau_star_and_bad_grams_are_refused(rng):
    X = rng.integers(-3, 4, size=(10, 3)).astype(np.float64)  # small integers and dyadic mu: every sum is exact
    mu = np.array([0.5, -0.25, 0.125])
    y = X @ mu
    m = material(0.5, 0.2, mu, draws=50, chains=2, seed=0).fit_statistics(X.T @ X, X.T @ y, y @ y, 10)
    assert m.tau_star_ == np.inf
    np.testing.assert_allclose(m.coef_map_, mu, atol=1e-14)
    with pytest.raises(InputError, match=r"gram must be \(p, p\)"):
        material(0.5, 0.2).fit_statistics(np.ones(3), X.T @ y, y @ y, 10)
    with pytest.raises(InputError, match=r"gram must be \(p, p\)"):
        material(0.5, 0.2).fit_statistics(np.eye(2), X.T @ y, y @ y, 10)


# ---- survivors of mutation testing (docs/mutation.md) --------------------------------------------------------------

def test_costs_are_the_documented_operation_counts():
    from bmnn.laplace.gaussian_draw import costs

    # precision: Cholesky of p x p (p^3/3) and the products forming it (p^3/3), plus 4 p^2 for the solves;
    # bcm: X D X^T (n^2 p), its Cholesky (n^3/3), plus 4 n p for the products with X
    assert costs(30, 12) == {"precision": 1728.0, "bcm": 21240.0}
    assert costs(7, 45) == {"precision": 2 * 45**3 / 3 + 4 * 45 * 45, "bcm": 49 * 45 + 343 / 3 + 4 * 7 * 45}


def test_batched_sampler_starts_from_the_priors_mixing_law(rng):
    """With no warm-up, the first draw is theta | u with u = 1 / v, v ~ Exponential(mean 2 tau^2) (the prior's
    mixing law): its mean and variance by quadrature over v."""
    from scipy import integrate, stats

    from bmnn.laplace.gibbs import gibbs_batched

    g, cv, tau = 2.0, 1.5, 0.6
    chains = 40_000
    draws, _ = gibbs_batched(np.array([[[g]]]), np.array([[cv]]), tau, chains=chains, draws=1, warmup=0,
                             rng=np.random.default_rng(5))
    first = draws[0, :, 0, 0]
    pv = stats.expon(scale=2 * tau**2).pdf
    m1 = integrate.quad(lambda v: pv(v) * cv * v / (g * v + 1), 0, np.inf)[0]
    m2 = integrate.quad(lambda v: pv(v) * (v / (g * v + 1) + (cv * v / (g * v + 1)) ** 2), 0, np.inf)[0]
    sd = np.sqrt(m2 - m1**2)
    assert abs(first.mean() - m1) < 4 * sd / np.sqrt(chains)
    assert abs(first.std() / sd - 1) < 4 * np.sqrt(0.5 / chains) * 2  # sd of a sd estimate, heavy tails allowed


def test_batched_sampler_chains_are_independent_draws_and_scaled_grams_work(rng):
    """After warm-up, across many chains, each kept draw is an independent draw from the posterior: the spread across
    chains at one iteration is the posterior sd (shared noise would shrink it). The design X = 0.3 Q has Gram
    eigenvalues 0.09: its posterior is the orthonormal one of v = 0.3 w (scale 0.3 tau, location 0.3 mu)."""
    from bmnn.laplace.gibbs import gibbs_batched

    Q, y, loc, _ = _orthonormal(rng)
    s, t, k = 0.7, 0.35, 0.3
    X = k * Q
    exact = orthonormal_posterior(Q, y, s, k * t, location=k * loc)
    mean_w, sd_w = exact.mean() / k, np.sqrt(exact.var()) / k
    chains = 3000
    draws, rb = gibbs_batched((X.T @ X / s**2)[None], (X.T @ (y - X @ loc) / s**2)[None], t, chains=chains,
                              draws=2, warmup=60, rng=np.random.default_rng(8))
    for it in range(2):
        w = draws[0, :, it] + loc
        assert np.all(np.abs(w.mean(axis=0) - mean_w) < 4.5 * sd_w / np.sqrt(chains))
        np.testing.assert_allclose(w.std(axis=0), sd_w, rtol=0.08)
    assert np.all(np.abs(rb[0].mean(axis=0) + loc - mean_w) < 4.5 * sd_w / np.sqrt(chains))


def test_batched_sampler_accepts_a_rank_deficient_gram(rng):
    from bmnn.laplace.gibbs import gibbs_batched

    X = rng.normal(size=(3, 6))  # p > N: eigh gives eigenvalues of -1e-16 or so, clipped to 0 for the square root
    y = X @ np.array([1.0, 0, 0, -0.5, 0, 0]) + 0.2 * rng.normal(size=3)
    assert np.linalg.eigvalsh(X.T @ X).min() < 0
    draws, rb = gibbs_batched((X.T @ X)[None], (X.T @ y)[None], 0.5, chains=4, draws=50, warmup=10,
                              rng=np.random.default_rng(0))
    assert np.all(np.isfinite(draws)) and np.all(np.isfinite(rb))


@pytest.mark.parametrize("keep", [True, False])
def test_batched_sampler_refuses_exactly_what_its_documented_memory_exceeds(keep, monkeypatch):
    """8 bytes x B x chains x (kept draws x p + 3 p^2 + 8 p): accepted with exactly that much, refused with a byte
    less."""
    import bmnn._checks
    from bmnn.laplace.gibbs import gibbs_batched

    B, chains, draws, p = 2, 3, 5, 4
    need = 8 * B * chains * ((draws if keep else 0) * p + 3 * p * p + 8 * p)
    gram, c = np.stack([np.eye(p)] * B), np.ones((B, p))
    monkeypatch.setattr(bmnn._checks, "available_memory", lambda: float(need))
    gibbs_batched(gram, c, 0.5, chains=chains, draws=draws, warmup=1, rng=np.random.default_rng(0), keep_draws=keep)
    monkeypatch.setattr(bmnn._checks, "available_memory", lambda: float(need - 1))
    with pytest.raises(InputError, match="of memory, but"):
        gibbs_batched(gram, c, 0.5, chains=chains, draws=draws, warmup=1, rng=np.random.default_rng(0),
                      keep_draws=keep)


def test_statistics_sampler_defaults_seed_and_over_relaxation(rng):
    from bmnn.laplace.gibbs import gibbs_from_statistics

    X = rng.normal(size=(20, 2))
    y = X @ np.array([0.9, -0.4]) + 0.5 * rng.normal(size=20)
    st = (X.T @ X, X.T @ y, float(y @ y), 20)
    default = gibbs_from_statistics(*st, 0.5, 0.4, seed=3)
    explicit = gibbs_from_statistics(*st, 0.5, 0.4, 0.0, draws=2000, warmup=500, chains=16, seed=3)
    np.testing.assert_array_equal(default.draws, explicit.draws)
    assert not np.array_equal(gibbs_from_statistics(*st, 0.5, 0.4, draws=50, chains=2, seed=4).draws,
                              gibbs_from_statistics(*st, 0.5, 0.4, draws=50, chains=2, seed=5).draws)
    # a wide prior (tau = 5) leaves the posterior nearly Gaussian, where Adler's over-relaxed step has lag-1
    # autocorrelation alpha itself (0 for plain Gibbs): each alpha must reach the sampler
    for alpha in (0.0, -0.5, -0.9):
        d = gibbs_from_statistics(*st, 0.5, 5.0, draws=3000, chains=4, seed=1, overrelax=alpha).draws[..., 0]
        d = d - d.mean(axis=1, keepdims=True)
        assert float(np.mean(d[:, 1:] * d[:, :-1]) / np.mean(d * d)) == pytest.approx(alpha, abs=0.05)


@pytest.mark.parametrize("bad", ["gram", "xty", "yty", "shape"])
def test_statistics_sampler_refuses_each_non_finite_statistic(bad):
    from bmnn.laplace.gibbs import gibbs_from_statistics

    G, q, yty = np.eye(2), np.ones(2), 3.0
    if bad == "gram":
        G = np.array([[1.0, np.nan], [np.nan, 1.0]])
    elif bad == "xty":
        q = np.array([1.0, np.inf])
    elif bad == "yty":
        yty = float("nan")
    else:
        G = np.eye(3)
    with pytest.raises(InputError):
        gibbs_from_statistics(G, q, yty, 10, 0.5, 0.5, draws=5, chains=2)


_SAMPLER_MESSAGES = [
    ({"noise_sd": -1.0}, "noise_sd (sigma, the known noise sd) must be a finite number > 0, got -1.0"),
    ({"scale": 0.0}, "scale (tau, the Laplace prior's scale) must be a finite number > 0, got 0.0"),
    ({"scale_prior": (1, 0)}, "scale_prior (the Gamma prior on 1 / tau) must have shape > 0 and rate > 0 (a flat "
                              "prior on 1 / tau gives an improper posterior), both finite, got (1, 0)"),
    ({"noise_prior": (0, 1)}, "noise_prior (the inverse-gamma prior on sigma^2) must have shape > 0 and rate >= 0, "
                              "both finite, got (0, 1)"),
    ({"coordinate_steps": -1}, "coordinate_steps must be in [0, inf), got -1"),
    ({"draws": 0}, "draws must be an integer >= 1, got 0"),
]


@pytest.mark.parametrize(("change", "message"), _SAMPLER_MESSAGES + [
    ({"n": 0}, "n must be an integer >= 1, got 0"),
    ({"gram": np.eye(3)}, "gram must be a finite (2, 2) matrix matching xty, got shape (3, 3)"),
])
def test_statistics_sampler_names_the_bad_parameter_and_what_it_is(change, message):
    from bmnn.laplace.gibbs import gibbs_from_statistics

    args = {"gram": np.eye(2), "xty": np.ones(2), "yty": 3.0, "n": 10, "noise_sd": 0.5, "scale": 0.5} | change
    with pytest.raises(InputError) as err:
        gibbs_from_statistics(args.pop("gram"), args.pop("xty"), args.pop("yty"), args.pop("n"), args.pop("noise_sd"),
                              args.pop("scale"), draws=args.pop("draws", 5), chains=2, **args)
    assert str(err.value) == message


@pytest.mark.parametrize(("change", "message"), _SAMPLER_MESSAGES)
def test_sampler_names_the_bad_parameter_and_what_it_is(change, message):
    args = {"noise_sd": 0.5, "scale": 0.5} | change
    with pytest.raises(InputError) as err:
        gibbs(np.ones((3, 2)), np.arange(3.0), args.pop("noise_sd"), args.pop("scale"), draws=args.pop("draws", 5),
              chains=2, **args)
    assert str(err.value) == message


@pytest.mark.parametrize(("noise_sd", "scale", "what"), [(1e-160, 0.5, "sigma^2"), (0.5, 1e160, "tau^2"),
                                                        (0.5, 1e-160, "tau^2")])
def test_sampler_refuses_a_given_scale_whose_square_leaves_float64(noise_sd, scale, what):
    with pytest.raises(InputError, match=re.escape(f"{what} or 1/{what} is beyond float64's range")):
        gibbs(np.ones((3, 2)), np.arange(3.0), noise_sd, scale, draws=5, chains=2)


@pytest.mark.parametrize("scale", [0.5, None])
def test_sampler_with_learned_sigma_refuses_data_too_large_at_sigma_one(scale):
    """With sigma learned the data are checked at sigma = 1: sums of products of 2e300 are refused."""
    with pytest.raises(InputError, match="can reach 2e[+]300"):
        gibbs(np.full((2, 1), 1e150), np.ones(2), None, scale, draws=5, chains=2)


def test_statistics_sampler_works_in_float64_whatever_the_statistics_dtype(rng):
    """float32 statistics (a user's accumulated X^T X, say) give the same draws as the same numbers in float64."""
    from bmnn.laplace.gibbs import gibbs_from_statistics

    X = rng.normal(size=(60, 5))
    y = X @ rng.normal(size=5) + rng.normal(size=60)
    G, q = (X.T @ X).astype(np.float32), (X.T @ y).astype(np.float32)
    kw = {"draws": 40, "warmup": 5, "chains": 3, "seed": 11}
    single = gibbs_from_statistics(G, q, float(y @ y), 60, 0.9, 0.4, **kw)
    double = gibbs_from_statistics(G.astype(np.float64), q.astype(np.float64), float(y @ y), 60, 0.9, 0.4, **kw)
    np.testing.assert_array_equal(single.draws, double.draws)


def test_a_workspace_scales_the_gram_matrix_once_per_sigma(rng):
    """The workspace's cache: the same sigma gives back the same array (no recomputation), another sigma a new one."""
    from bmnn.laplace.gaussian_draw import Workspace

    G = rng.normal(size=(4, 4))
    work = Workspace()
    first = work.scaled_gram(G, np.array([0.7, 1.3]))
    assert work.scaled_gram(G, np.array([0.7, 1.3])) is first
    other = work.scaled_gram(G, np.array([0.7, 1.4]))
    assert other is not first
    np.testing.assert_array_equal(other[1], G / 1.4**2)
    assert work.scaled_gram(G, np.array([0.7, 1.4])) is other


def test_statistics_sampler_learns_a_small_sigma_and_an_informative_noise_prior_like_the_rows(rng):
    """Learned sigma from the statistics alone against the rows: a residual sum of squares well below 1, and an
    inverse-gamma prior on sigma^2 strong enough to pull sigma far from the data's value."""
    from bmnn.laplace.gibbs import gibbs_from_statistics

    X = rng.normal(size=(30, 3))
    y = X @ np.array([0.04, 0.0, -0.02]) + 0.01 * rng.normal(size=30)  # y^T y near 0.06, r^T r near 0.003
    st = (X.T @ X, X.T @ y, float(y @ y), 30)
    for prior in (None, (400.0, 400.0 * 0.25)):  # the second: sigma^2 near 0.25, against the data's 1e-4
        kw = dict(draws=3000, chains=8, noise_prior=prior)
        a = gibbs_from_statistics(*st, None, 0.3, seed=1, **kw)
        b = gibbs(X, y, None, 0.3, seed=2, **kw)
        sa, sb = summarize(a.noise_sd), summarize(b.noise_sd)
        assert abs(sa["mean"] - sb["mean"]) < 4 * np.hypot(sa["mcse"], sb["mcse"])
        if prior is None:
            assert 0.007 < sa["mean"] < 0.015
        else:
            assert 0.4 < sa["mean"] < 0.55
        m = material(None, 0.3, seed=1, **kw).fit_statistics(*st, feature_names=["a", "b", "c"])
        assert abs(m.noise_sd_summary_["mean"] - sb["mean"]) < 4 * np.hypot(m.noise_sd_summary_["mcse"], sb["mcse"])
        assert m.coef_names_ == ["a", "b", "c"] and np.array_equal(m.location_, np.zeros(3))
    loc = np.array([0.01, -0.02, 0.0])
    assert np.array_equal(material(0.01, 0.3, loc, draws=0).fit_statistics(*st).location_, loc)


def test_statistics_sampler_with_a_scaled_and_a_rank_deficient_gram(rng):
    from bmnn.laplace.gibbs import gibbs_from_statistics

    Q, y, loc, _ = _orthonormal(rng)
    s, t, k = 0.7, 0.35, 0.3
    X = k * Q  # Gram eigenvalues 0.09: the posterior is the orthonormal one of v = 0.3 w
    exact = orthonormal_posterior(Q, y, s, k * t, location=k * loc)
    g = gibbs_from_statistics(X.T @ X, X.T @ y, float(y @ y), 30, s, t, loc, draws=3000, chains=8, seed=2)
    d = summarize(g.draws)
    assert np.all(np.abs(d["mean"] - exact.mean() / k) < 4 * d["mcse"])
    np.testing.assert_allclose(d["sd"], np.sqrt(exact.var()) / k, rtol=0.05)
    Xr = rng.normal(size=(6, 9))  # p > n: the Gram is singular (eigenvalues of -1e-15 are clipped)
    yr = 1.5 * Xr[:, 0] + 0.3 * rng.normal(size=6)
    a = gibbs_from_statistics(Xr.T @ Xr, Xr.T @ yr, float(yr @ yr), 6, 0.4, 0.7, draws=3000, chains=8, seed=1)
    b = gibbs(Xr, yr, 0.4, 0.7, draws=3000, chains=8, seed=2)
    da, db = summarize(a.draws), summarize(b.draws)
    assert np.all(np.isfinite(a.draws))
    assert np.all(np.abs(da["mean"] - db["mean"]) < 4 * np.hypot(da["mcse"], db["mcse"]))


def test_estimator_defaults_given_scale_location_and_algorithm(rng):
    X = rng.normal(size=(12, 2))
    y = X @ np.array([0.7, -0.2]) + 0.4 * rng.normal(size=12)
    m = material(0.4, 0.3, seed=6).fit(X, y)
    ref = gibbs(X, y, 0.4, 0.3, 0.0, draws=2000, warmup=500, chains=16, seed=6)  # the documented defaults
    np.testing.assert_array_equal(m.draws_, ref.draws)
    np.testing.assert_array_equal(gibbs(X, y, 0.4, 0.3, seed=6).draws, ref.draws)
    # sigma and tau given, a location: the exact orthonormal posterior, the soft threshold around mu, tau*
    Q, yq, loc, exact = _orthonormal(rng)
    mq = material(0.7, 0.35, loc, draws=3000, chains=8, seed=2).fit(Q, yq)
    assert not hasattr(mq, "scale_draws_") and not hasattr(mq, "noise_sd_draws_")
    assert np.all(np.abs(mq.coef_mean_ - exact.mean()) < 4 * mq.mcse_)
    np.testing.assert_allclose(mq.coef_sd_, np.sqrt(exact.var()), rtol=0.05)
    b, lam = Q.T @ yq, 0.7**2 / 0.35
    np.testing.assert_allclose(mq.coef_map_, loc + np.sign(b - loc) * np.maximum(np.abs(b - loc) - lam, 0.0),
                               rtol=1e-12, atol=1e-14)
    assert mq.tau_star_ == pytest.approx(0.7**2 / np.max(np.abs(b - loc)), rel=1e-12)
    assert mq.map_at_ == {"noise_sd": 0.7, "scale": 0.35, "noise_sd_from": "given", "scale_from": "given"}
    # the draw asked for is the draw used, even where the other is cheaper
    assert material(0.7, 0.35, draws=5, chains=2, algorithm="bcm").fit(Q, yq).algorithm_ == "bcm"
    Xw = rng.normal(size=(5, 12))
    assert material(0.7, 0.35, draws=5, chains=2, algorithm="precision").fit(
        Xw, Xw[:, 0]).algorithm_ == "precision"


def test_estimator_with_one_of_sigma_and_tau_learned(rng):
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.1, 0.0, -0.6]) + 0.5 * rng.normal(size=40)
    ms = material(0.5, None, draws=400, chains=4, seed=1).fit(X, y)
    assert ms.map_at_["noise_sd_from"] == "given" and ms.map_at_["scale_from"] == "posterior median"
    mt = material(None, 0.5, draws=400, chains=4, seed=1).fit(X, y)
    assert mt.map_at_["noise_sd_from"] == "posterior median" and mt.map_at_["scale_from"] == "given"
    # log posterior with sigma given: the prior's scale is tau itself
    t = ms.map_at_["scale"]
    wq = np.array([[0.9, 0.2, -0.5]])
    by_hand = (-40 / 2 * np.log(2 * np.pi * 0.25) - np.sum((y - X @ wq[0]) ** 2) / (2 * 0.25) - 3 * np.log(2 * t)
               - np.sum(np.abs(wq[0])) / t)
    np.testing.assert_allclose(ms.log_posterior(wq, X, y), [by_hand], rtol=1e-12)
    # ArviZ gets the learned draws themselves
    idata = mt.to_inference_data()
    np.testing.assert_array_equal(idata.posterior["sigma"].values, mt.noise_sd_draws_)
    assert "tau" not in idata.posterior
    np.testing.assert_array_equal(ms.to_inference_data().posterior["tau"].values, ms.scale_draws_)


def test_predictive_intervals_over_several_blocks_with_learned_sigma(rng):
    from scipy import stats

    X = rng.normal(size=(30, 2))
    y = X @ np.array([1.0, -0.5]) + 0.6 * rng.normal(size=30)
    m = material(None, 0.8, draws=1000, chains=4, seed=2).fit(X, y)
    Xn = rng.normal(size=(2600, 2))  # three blocks of 1,024 rows, the last one partial
    lo, hi = m.predict_interval(Xn, level=0.8, random_state=7)
    mean, sd = m.predict(Xn, return_std=True)
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
    z = stats.norm.ppf(0.9)  # the predictive is close to Normal here: its 80% interval is mean -+ 1.28 sd
    np.testing.assert_allclose((hi - lo) / 2, z * sd, rtol=0.08)
    np.testing.assert_allclose((hi + lo) / 2, mean, atol=0.1 * np.median(sd))
    lo9, hi9 = m.predict_interval(Xn[:50])  # the default: 90%, seed 0
    np.testing.assert_array_equal(lo9, m.predict_interval(Xn[:50], 0.9, random_state=0)[0])
    np.testing.assert_allclose((hi9 - lo9) / 2, stats.norm.ppf(0.95) * sd[:50], rtol=0.08)
    lo2, hi2 = m.predict_interval(Xn, level=0.8, random_state=7)
    np.testing.assert_array_equal(lo, lo2)
    assert not np.array_equal(lo, m.predict_interval(Xn, level=0.8, random_state=8)[0])


def test_intervals_of_float32_draws_are_computed_in_float64(rng):
    from bmnn.laplace.diagnostics import interval

    d = (rng.normal(size=(3, 997, 2)) * 1.7 + 0.3).astype(np.float32)
    lo, hi = interval(d, 0.83)
    lo64, hi64 = interval(d.astype(np.float64), 0.83)
    assert lo.dtype == np.float64
    np.testing.assert_array_equal(lo, lo64)
    np.testing.assert_array_equal(hi, hi64)


def test_sampler_starts_from_the_priors_mixing_law(rng):
    """With no warm-up, the first draw is theta | s with s ~ Exponential(mean 2 tau^2) (the prior's mixing law):
    its mean and variance by quadrature over s, for one coefficient."""
    from scipy import integrate, stats

    x = rng.normal(size=7)
    y = 0.8 * x + 0.6 * rng.normal(size=7)
    sigma, tau, chains = 0.6, 0.45, 40_000
    g, c = x @ x / sigma**2, x @ y / sigma**2
    ps = stats.expon(scale=2 * tau**2).pdf
    m1 = integrate.quad(lambda s: ps(s) * c * s / (g * s + 1), 0, np.inf)[0]
    m2 = integrate.quad(lambda s: ps(s) * (s / (g * s + 1) + (c * s / (g * s + 1)) ** 2), 0, np.inf)[0]
    sd = np.sqrt(m2 - m1**2)
    for algorithm in ("precision", "bcm"):
        first = gibbs(x[:, None], y, sigma, tau, draws=1, warmup=0, chains=chains, seed=3,
                      algorithm=algorithm).draws[:, 0, 0]
        assert abs(first.mean() - m1) < 4 * sd / np.sqrt(chains)
        assert abs(first.std() / sd - 1) < 0.03


@pytest.mark.parametrize("algorithm", ["precision", "bcm"])
def test_sampler_chains_are_independent_draws_of_the_posterior(algorithm, rng):
    """Across many chains, each kept iteration is a set of independent posterior draws: the spread across chains at
    one iteration is the exact posterior sd, and the Rao-Blackwellised mean over two iterations is unbiased."""
    Q, y, loc, exact = _orthonormal(rng)
    chains = 3000
    g = gibbs(Q, y, 0.7, 0.35, loc, draws=2, warmup=60, chains=chains, seed=4, algorithm=algorithm)
    sd = np.sqrt(exact.var())
    for it in range(2):
        w = g.draws[:, it]
        assert np.all(np.abs(w.mean(axis=0) - exact.mean()) < 4.5 * sd / np.sqrt(chains))
        np.testing.assert_allclose(w.std(axis=0), sd, rtol=0.08)
    assert np.all(np.abs(g.rb_mean.mean(axis=0) - exact.mean()) < 4.5 * sd / np.sqrt(chains))


@pytest.mark.parametrize(("n", "p", "algorithm", "warmup", "steps"),
                         [(40, 5, "precision", 1, None), (6, 30, "bcm", 1, None), (6, 30, "bcm", 70, 4),
                          (40, 5, "precision", 300, 2)])
def test_sampler_refuses_exactly_what_its_documented_memory_exceeds(n, p, algorithm, warmup, steps, monkeypatch,
                                                                     rng):
    """8 bytes x chains x draws (p + 2) for the kept draws, and the draw's systems: 8 chains (3 p^2 + 8 p) for the
    p x p draw; 4 chains n^2 + 8 (chains 8 (n + p) + n p + n^2) for the n x n one (float32 factors, vectors per chain,
    X in float32 and a scaled copy, one float64 matrix for a fallback); with coordinate steps, 8 chains w p for the
    last w = min(warmup - warmup // 2, 100) warm-up iterations that rank the coordinates and 8 p k for k columns of
    X^T X."""
    import bmnn._checks

    X, y = rng.normal(size=(n, p)), rng.normal(size=n)
    chains, draws = 3, 4
    if algorithm == "precision":
        systems = 8 * chains * (3 * p * p + 8 * p)
    else:
        systems = 4 * chains * n * n + 8 * (chains * 8 * (n + p) + n * p + n * n)
    window = 0 if steps is None else min(warmup - warmup // 2, 100)
    need = 8 * chains * draws * (p + 2) + systems + 8 * chains * window * p + 8 * p * (steps or 0)
    kw = dict(draws=draws, warmup=warmup, chains=chains, algorithm=algorithm, coordinate_steps=steps or 0)
    monkeypatch.setattr(bmnn._checks, "available_memory", lambda: float(need))
    assert (gibbs(X, y, 0.5, 0.5, **kw).coordinates is None) == (steps is None)
    monkeypatch.setattr(bmnn._checks, "available_memory", lambda: float(need - 1))
    with pytest.raises(InputError, match="of memory, but"):
        gibbs(X, y, 0.5, 0.5, **kw)


@pytest.mark.parametrize(("learn_sigma", "algorithm"), [(False, "precision"), (True, "precision"), (True, "bcm")])
def test_sampler_starts_where_documented_when_sigma_or_tau_is_learned(learn_sigma, algorithm, rng):
    """The documented start: sigma from the spread of y - X mu, tau ten times tau* (in units of sigma when sigma is
    learned), the mixing variables from the prior's mixing law at that tau. With no warm-up the first draw of w
    then has, for one coefficient, a mean and sd known by quadrature over the mixing variable s:
    sigma given: w | s ~ N(c / (g + 1/s), 1 / (g + 1/s)), g = x.x / sigma^2, c = x.y / sigma^2;
    sigma learned (Jeffreys): w | s = m(s) + sigma z with m(s) = s x.y / (s x.x + 1), sigma^2 | s inverse-gamma with
    mean q(s) / (n - 2), q(s) = y.y - s (x.y)^2 / (1 + s x.x), and z ~ N(0, 1 / (x.x + 1/s))."""
    from scipy import integrate, stats

    n = 9
    x = rng.normal(size=n)
    y = 0.5 * x + 0.3 * rng.normal(size=n)  # sigma0 = sqrt(y.y / n) well below 1
    xx, xy, yy, chains = x @ x, x @ y, y @ y, 40_000
    if learn_sigma:
        s0 = np.sqrt(yy / n)
        tau0 = 10 * s0 / abs(xy)  # ten times tau*, tau* = sigma0 / |x.y| in units of sigma

        def moments(s):
            m = s * xy / (s * xx + 1)
            return m, (yy - s * xy**2 / (1 + s * xx)) / (n - 2) / (xx + 1 / s)
    else:  # data scaled so that tau* = sigma^2 / |x.y| has |x.y| below 1
        y, sigma = 0.1 * y, 0.035
        xy, yy = x @ y, y @ y
        assert abs(xy) < 1
        tau0 = 10 * sigma**2 / abs(xy)
        g, c = xx / sigma**2, xy / sigma**2

        def moments(s):
            return c * s / (g * s + 1), s / (g * s + 1)
    ps = stats.expon(scale=2 * tau0**2).pdf
    m1 = integrate.quad(lambda s: ps(s) * moments(s)[0], 0, np.inf)[0]
    m2 = integrate.quad(lambda s: ps(s) * (moments(s)[1] + moments(s)[0] ** 2), 0, np.inf)[0]
    sd = np.sqrt(m2 - m1**2)
    first = gibbs(x[:, None], y, None if learn_sigma else sigma, None, draws=1, warmup=0, chains=chains, seed=5,
                  algorithm=algorithm).draws[:, 0, 0]
    assert abs(first.mean() - m1) < 4 * sd / np.sqrt(chains)
    assert abs(first.std() / sd - 1) < 0.05


def test_summarize_against_an_ar1_series_with_known_autocorrelation(rng):
    """An AR(1) series x_t = rho x_{t-1} + e_t (stationary start) has ESS = N (1 - rho) / (1 + rho) and MCSE of the
    mean sd sqrt((1 + rho) / ((1 - rho) N)); iid draws have ESS N and R-hat 1. The tail ESS is ArviZ's own."""
    import arviz as az

    chains, n, rho = 8, 4000, 0.6
    e = rng.normal(size=(chains, n, 2))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + e[:, t]
    x[..., 1] = 2.5 + 0.3 * e[..., 1]  # iid, mean 2.5, sd 0.3
    d = summarize(x)
    N = chains * n
    sd0 = 1 / np.sqrt(1 - rho**2)
    se = np.array([sd0 * np.sqrt((1 + rho) / ((1 - rho) * N)), 0.3 / np.sqrt(N)])
    assert np.all(np.abs(d["mean"] - [0.0, 2.5]) < 4 * se)
    np.testing.assert_allclose(d["sd"], [sd0, 0.3], rtol=0.03)
    np.testing.assert_allclose(d["ess_bulk"], [N * (1 - rho) / (1 + rho), N], rtol=0.1)
    np.testing.assert_allclose(d["mcse"], se, rtol=0.1)
    np.testing.assert_allclose(d["rhat"], 1.0, atol=0.01)
    ds = az.convert_to_dataset({"x": x})
    np.testing.assert_allclose(d["ess_tail"], az.ess(ds, method="tail")["x"].values, rtol=1e-12)
    assert d["ess_tail"][0] < 0.7 * N and d["ess_tail"][1] > 0.7 * N
    # a chain stuck elsewhere shows in R-hat; one draw in all has no sd
    stuck = x.copy()
    stuck[0] += 3.0
    assert np.all(summarize(stuck)["rhat"] > 1.05)
    one = summarize(x[:1, :1])["sd"]
    assert one.shape == (2,) and np.all(np.isnan(one))
    np.testing.assert_allclose(summarize(x[:, :1])["sd"], np.std(x[:, 0], axis=0, ddof=1), rtol=1e-14)  # 8 x 1
    np.testing.assert_allclose(summarize(x[:1, :2])["sd"], np.std(x[0, :2], axis=0, ddof=1), rtol=1e-14)


def test_learned_sigma_over_relaxation_has_lag_one_autocorrelation_alpha(rng):
    """With sigma learned the over-relaxed move is made on the sigma-free offset; in the nearly Gaussian limit
    (n = 200, a wide prior) the lag-1 autocorrelation of w is still alpha (0 for plain Gibbs)."""
    X = rng.normal(size=(200, 3))
    y = X @ np.array([0.5, 0.0, -0.3]) + 0.7 * rng.normal(size=200)
    for alpha in (0.0, -0.5, -0.9):
        d = gibbs(X, y, None, 50.0, draws=3000, chains=4, seed=1, overrelax=alpha).draws[..., 0]
        d = d - d.mean(axis=1, keepdims=True)
        assert float(np.mean(d[:, 1:] * d[:, :-1]) / np.mean(d * d)) == pytest.approx(alpha, abs=0.05)


def test_learned_tau_with_one_chain_and_with_x_transpose_y_zero(rng):
    """One chain is enough; and where X^T (y - X mu) = 0 (tau* = 0) the documented start is tau = 1: the first draw
    then follows w | s ~ N(0, 1 / (x.x / sigma^2 + 1/s)), s ~ Exponential(mean 2), by quadrature."""
    from scipy import integrate, stats

    X = rng.normal(size=(12, 2))
    y = X @ np.array([0.4, -0.2]) + 0.3 * rng.normal(size=12)
    for sigma in (None, 0.3):
        g = gibbs(X, y, sigma, None, draws=20, warmup=5, chains=1, seed=0)
        assert g.draws.shape == (1, 20, 2) and np.all(np.isfinite(g.draws)) and np.all(np.isfinite(g.scale))
    x = 0.1 * np.array([0.5, -1.0, 0.5, 1.2, -1.2])  # a small x.x, so that the prior's scale shows in the draw
    y0 = np.zeros(5)  # X^T y = 0 exactly
    first = gibbs(x[:, None], y0, 0.4, None, draws=1, warmup=0, chains=40_000, seed=2).draws[:, 0, 0]
    gg = x @ x / 0.16
    ps = stats.expon(scale=2.0).pdf
    sd = np.sqrt(integrate.quad(lambda s: ps(s) * s / (gg * s + 1), 0, np.inf)[0])
    assert np.all(np.isfinite(first)) and abs(first.mean()) < 4 * sd / np.sqrt(40_000)
    assert abs(first.std() / sd - 1) < 0.03


def test_a_chain_whose_cholesky_factorisation_fails_is_solved_by_lu(rng, monkeypatch):
    """Fault injection: where LAPACK's Cholesky reports a matrix not positive definite (info > 0, its factor and
    the matrix it overwrote left as garbage), that chain is solved by LU on the matrix rebuilt and the next chains go
    on by Cholesky; on a positive definite matrix both give the same draw."""
    import bmnn.laplace.gaussian_draw as gd

    n, p, chains = 80, 40, 4  # p >= CHOLESKY_FROM: the per-chain Cholesky path
    assert p >= gd.CHOLESKY_FROM
    X = rng.normal(size=(n, p))
    design = Design.build(X, rng.normal(size=n), "precision")
    d = rng.uniform(0.2, 2.0, size=(chains, p))
    sigma = rng.uniform(0.5, 1.5, size=chains)
    ref = draw(design, d, sigma, np.random.default_rng(3))
    real, calls = gd.dposv, []

    def failing_second_call(a, b, **kw):
        calls.append(1)
        low, x, info = real(a, b, **kw)
        if len(calls) == 2:
            a[...] = np.nan  # what a failed factorisation in place may leave, right-hand sides included
            b[...] = np.nan
            return low, np.full_like(x, np.nan), 1
        return low, x, info

    monkeypatch.setattr(gd, "dposv", failing_second_call)
    got = draw(design, d, sigma, np.random.default_rng(3))
    assert len(calls) == chains
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("p", [12, 40])  # both branches of the precision draw: batched LU and per-chain Cholesky
def test_a_workspace_kept_between_draws_changes_no_draw(p, rng):
    """The buffers and the scaled Gram matrix one sampler keeps between draws: draws with one workspace across
    changing sigmas and chain counts equal draws each made without one (the same random numbers)."""
    from bmnn.laplace.gaussian_draw import Workspace

    X = rng.normal(size=(90, p))
    design = Design.build(X, rng.normal(size=90), "precision")
    work = Workspace()
    for chains, sigma in [(3, 0.7), (3, 0.7), (3, 1.9), (5, 1.9), (5, 0.7)]:
        d = rng.uniform(0.1, 3.0, size=(chains, p))
        s = np.full(chains, sigma)
        s[-1] *= 1.3  # chains with different sigmas
        ref = draw(design, d, s, np.random.default_rng(chains))
        got = draw(design, d, s, np.random.default_rng(chains), work)
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, b)
        mean, _ = _exact_conditional(X, design.r, d[-1], s[-1])
        np.testing.assert_allclose(got[1][-1], mean, rtol=1e-9, atol=1e-12)


def test_a_solution_lapack_returns_in_a_new_array_is_taken_from_it(rng, monkeypatch):
    """The p x p draw solves in place; where the LAPACK wrapper hands back its solution in a new array (as it does
    when it must copy), that array is used: the same draws either way."""
    import bmnn.laplace.gaussian_draw as gd

    X = rng.normal(size=(70, 36))
    design = Design.build(X, rng.normal(size=70), "precision")
    d, sigma = rng.uniform(0.2, 2.0, size=(3, 36)), np.array([0.8, 1.1, 1.7])
    ref = draw(design, d, sigma, np.random.default_rng(5))
    real = gd.dposv

    def copying(a, b, **kw):
        return real(a, b.copy(), **(kw | {"overwrite_b": 0}))

    monkeypatch.setattr(gd, "dposv", copying)
    got = draw(design, d, sigma, np.random.default_rng(5))
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def _backward_error(X, dd, rhs, omega):
    """max |rhs - M omega| / (||M||_inf max |omega|) per chain and row, M = I + X diag(dd) X^T, in long double."""
    out = []
    for k in range(rhs.shape[0]):
        M = (np.eye(X.shape[0]) + (X * dd[k]) @ X.T).astype(np.longdouble)
        res = rhs[k].astype(np.longdouble) - omega[k].astype(np.longdouble) @ M
        norm = float(np.max(np.sum(np.abs(M), axis=1)))
        out.append(np.max(np.abs(res), axis=1) / (norm * np.max(np.abs(omega[k]), axis=1)))
    return np.array(out, dtype=np.float64)


@pytest.mark.parametrize(("n", "p", "spread"), [(30, 80, 3.0), (50, 400, 1.0), (20, 60, 5.0), (9, 11, 0.5)])
def test_the_mixed_precision_n_by_n_solve_is_as_accurate_as_a_float64_solve(n, p, spread, rng):
    """Float32 formation and factorisation, float64 refinement: the backward error is that of float64 (a few eps),
    where the float32 factor alone leaves about 1e-7; condition numbers up to 1e5 and above (the prior variances
    spread over ``exp(N(0, spread^2))``), and the ``X^T omega`` it returns is the product of the solution."""
    from bmnn.laplace.gaussian_draw import solve_bcm

    X = rng.normal(size=(n, p)) * 3.7
    design = Design.build(X, rng.normal(size=n), "bcm")
    dd = rng.exponential(0.3, size=(5, p)) * np.exp(rng.normal(0.0, spread, size=(5, p)))
    rhs = rng.normal(size=(5, 2, n)) * 10.0 ** rng.uniform(-30, 30, size=(5, 2, 1))  # rows of any size
    omega, xt = solve_bcm(design, dd, rhs)
    eps = np.finfo(np.float64).eps
    assert np.all(_backward_error(X, dd, rhs, omega) <= 4 * np.sqrt(n) * eps)
    np.testing.assert_allclose(xt, omega @ X, rtol=1e-12, atol=0)
    for k in range(5):  # and the forward error is what the conditioning allows
        M = np.eye(n) + (X * dd[k]) @ X.T
        ref = np.linalg.solve(M, rhs[k].T).T
        tol = 50 * np.linalg.cond(M) * eps * np.max(np.abs(ref), axis=1, keepdims=True)
        assert np.all(np.abs(omega[k] - ref) <= tol)


def test_the_n_by_n_solve_falls_back_to_float64_where_float32_cannot_serve(rng, monkeypatch):
    """Prior variances beyond float32's range (1e80), a float32 factorisation reported failed, a refinement that
    may not iterate (REFINE_MAX = 0): each affected chain is solved in float64, to the same accuracy; a row of zeros
    gives zeros; a float64 factorisation that fails is an error that names the chain."""
    import bmnn.laplace.gaussian_draw as gd

    n, p = 12, 40
    X = rng.normal(size=(n, p))
    design = Design.build(X, rng.normal(size=n), "bcm")
    dd = rng.exponential(1.0, size=(4, p))
    dd[1] *= 1e80
    rhs = rng.normal(size=(4, 2, n))
    rhs[3, 1] = 0.0
    eps = np.finfo(np.float64).eps

    def check(omega, xt):
        assert np.all(_backward_error(X, dd, rhs[:3], omega[:3]) <= 4 * np.sqrt(n) * eps)
        assert np.all(omega[3, 1] == 0.0) and np.all(xt[3, 1] == 0.0)
        np.testing.assert_allclose(xt, omega @ X, rtol=1e-12, atol=1e-300)

    real64, calls64 = gd.dpotrf, []
    monkeypatch.setattr(gd, "dpotrf", lambda a, **kw: (calls64.append(1), real64(a, **kw))[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the overflow of the float32 cast is expected, not reported
        check(*gd.solve_bcm(design, dd, rhs))
    assert len(calls64) == 1  # only the chain beyond float32's range; the chains after it go on in float32
    monkeypatch.setattr(gd, "dpotrf", real64)
    real, calls = gd.spotrf, []

    def failing_first(a, **kw):
        calls.append(1)
        low, info = real(a, **kw)
        return (low, 2) if len(calls) == 1 else (low, info)

    monkeypatch.setattr(gd, "spotrf", failing_first)
    check(*gd.solve_bcm(design, dd, rhs))
    monkeypatch.setattr(gd, "spotrf", real)
    monkeypatch.setattr(gd, "REFINE_MAX", 0)
    check(*gd.solve_bcm(design, dd, rhs))
    monkeypatch.setattr(gd, "dpotrf", lambda a, **kw: (a, 3))
    with pytest.raises(np.linalg.LinAlgError, match="chain 1 is not positive definite .LAPACK info 3"):
        gd.solve_bcm(design, dd, rhs)


@pytest.mark.parametrize("scale", [1e45, 1e-45, 1.0])
def test_the_float32_n_by_n_matrix_is_formed_from_scaled_columns_whatever_the_units_of_x(scale, rng, monkeypatch):
    """Columns of X far outside float32's range (1e45, 1e-45) with prior variances that make M = I + X D X^T of
    order one, variances so small that their columns are left out of the float32 matrix, and a column of zeros:
    float32 still serves (no chain falls back to float64) and the solution is float64-accurate."""
    import bmnn.laplace.gaussian_draw as gd

    n, p = 15, 50
    X = rng.normal(size=(n, p)) * scale
    X[:, 20] = 0.0
    design = Design.build(X, rng.normal(size=n), "bcm")
    dd = rng.exponential(0.5, size=(3, p)) / scale**2
    dd[:, :10] *= 1e-60  # below ROOT_FLOOR once scaled: their terms go to the refinement
    rhs = rng.normal(size=(3, 2, n))
    calls = []
    real = gd.dpotrf
    monkeypatch.setattr(gd, "dpotrf", lambda a, **kw: (calls.append(1), real(a, **kw))[1])
    omega, xt = gd.solve_bcm(design, dd, rhs)
    assert not calls
    for k in range(3):
        M = np.eye(n) + (X / scale * (dd[k] * scale**2)) @ (X / scale).T
        ref = np.linalg.solve(M, rhs[k].T).T
        np.testing.assert_allclose(omega[k], ref, rtol=1e-12, atol=1e-12 * np.max(np.abs(ref)))
    np.testing.assert_allclose(xt, omega @ X, rtol=1e-10, atol=1e-10 * np.max(np.abs(xt)))
