"""The horseshoe and the Gaussian prior on the Gibbs kernel: each conditional update alone against its exact
conditional; the Gaussian prior's sampler against its closed form; the closed form against ridge regression; the
horseshoe against a committed NUTS reference (src/bmnn/results/horseshoe_reference.json, written by
benchmarks/bench_horseshoe.py --reference); the estimators' contracts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bmnn._checks import InputError
from bmnn.laplace import GaussianPriorRegression, HorseshoeRegression, LaplaceRegression
from bmnn.laplace.diagnostics import summarize
from bmnn.laplace.gibbs import Data, Noise, run
from bmnn.laplace.kernel import Start
from bmnn.laplace.priors.gaussian import GaussianPrior, GaussianState, closed_form
from bmnn.laplace.priors.horseshoe import HorseshoePrior, HorseshoeState
from bmnn.laplace.settings import SamplerSettings

CHAINS = 40_000
REFERENCE = Path(__file__).resolve().parents[1] / "src" / "bmnn" / "results" / "horseshoe_reference.json"


def _ks(draws, law) -> float:
    return stats.kstest(np.ravel(draws), law.cdf).pvalue


@pytest.mark.parametrize("k", [1.0, 0.43])
def test_horseshoe_update_draws_each_local_scale_from_its_exact_conditional(rng, k):
    theta = np.tile([0.7, -0.02, 2.9], (CHAINS, 1))
    ks = np.full(CHAINS, k)
    tau, nu = 0.37, np.array([0.5, 3.0, 1.7])
    state = HorseshoeState(np.full(CHAINS, tau), np.ones((CHAINS, 3)), np.tile(nu, (CHAINS, 1)))
    for prior in (HorseshoePrior(tau), HorseshoePrior(None)):  # tau is not drawn here in either case
        out = prior.update(state, theta, ks, rng)
        z2 = (theta[0] / k) ** 2
        for j in range(3):  # lambda_j^2 | z_j, nu_j, tau ~ InvGamma(1, 1/nu_j + z_j^2 / (2 tau^2))
            assert _ks(out.lam2[:, j], stats.invgamma(1.0, scale=1 / nu[j] + z2[j] / (2 * tau**2))) > 1e-4
        # nu_j | lambda_j ~ InvGamma(1, 1 + 1/lambda_j^2): given each drawn lambda_j^2, its CDF at nu is uniform
        u = stats.invgamma(1.0, scale=1 + 1 / out.lam2).cdf(out.nu)
        assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-4
        np.testing.assert_array_equal(out.scale, tau)
        np.testing.assert_allclose(prior.variances(out), out.lam2 * tau**2)


def test_gaussian_prior_update_draws_the_scale_exactly(rng):
    theta = np.tile([0.7, -1.1, 0.2, 1.6], (CHAINS, 1))
    prior = GaussianPrior(None, (1.7, 0.6))
    out = prior.update(prior.init(CHAINS, 4, Start(1.0, 1.0, 1.0), rng), theta, np.full(CHAINS, 0.8), rng)
    law = stats.invgamma(1.7 + 2, scale=0.6 + 0.5 * np.sum((theta[0] / 0.8) ** 2))
    assert _ks(out.scale**2, law) > 1e-4
    np.testing.assert_array_equal(GaussianPrior(0.9).update(GaussianState(np.full(3, 0.9), 4), theta[:3],
                                                            np.ones(3), rng).scale, 0.9)


def _problem(rng, n=40, p=6):
    X = rng.normal(size=(n, p)) * np.linspace(0.6, 1.7, p)
    w = np.zeros(p)
    w[:2] = [1.9, -0.8]
    return X, X @ w + 0.55 * rng.normal(size=n)


@pytest.mark.parametrize("noise_sd", [0.55, None])
def test_the_kernel_with_the_gaussian_prior_matches_its_closed_form(rng, noise_sd):
    X, y = _problem(rng)
    mu, s = np.full(6, 0.15), 0.83
    noise = Noise(noise_sd, (1.3, 0.4) if noise_sd is None else None)
    g = run(Data.from_arrays(X, y, mu, noise), GaussianPrior(s), noise, SamplerSettings(draws=2000, warmup=100,
                                                                                          chains=8), 3)
    r = y - X @ mu
    exact = closed_form(X.T @ X, X.T @ r, float(r @ r), 40, mu, noise_sd, s, noise.prior)
    d = summarize(g.draws)
    z = (d["mean"] - exact.mean) / d["mcse"]
    assert np.max(np.abs(z)) < 4.5
    np.testing.assert_allclose(d["sd"], exact.sd(), rtol=0.05)
    if noise_sd is None:  # sigma^2 | y ~ InvGamma(a0 + n/2, b0 + q/2)
        a, b = exact.noise
        assert abs(np.mean(g.noise_sd**2) - b / (a - 1)) < 5 * np.std(g.noise_sd**2) / np.sqrt(summarize(
            g.noise_sd[..., None] ** 2)["ess_bulk"][0])


def test_the_closed_form_is_ridge_regression_and_its_draws_have_its_moments(rng):
    from sklearn.linear_model import Ridge

    X, y = _problem(rng, n=35, p=5)
    for sd, s in ((0.61, 1.37), (None, 0.74)):
        m = GaussianPriorRegression(noise_sd=sd, scale=s, location=0.3, draws=4000, chains=4, random_state=1)
        m.fit(X, y)
        ridge = Ridge(alpha=m.alpha_).fit(X, y - X @ np.full(5, 0.3))  # the MAP: ridge around the location
        np.testing.assert_allclose(m.coef_map_, ridge.coef_ + 0.3, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(m.coef_mean_, m.coef_map_, rtol=1e-12)
        assert np.isclose(m.intercept_map_, ridge.intercept_, rtol=1e-9, atol=1e-12)  # ridge centres X and y too
        d = summarize(m.draws_)  # independent draws: their mean within 4.5 se of the exact mean
        assert np.max(np.abs((d["mean"] - m.coef_mean_) / (m.coef_sd_ / np.sqrt(m.draws_.shape[0] * 4000)))) < 4.5
        np.testing.assert_allclose(d["sd"], m.coef_sd_, rtol=0.04)
        np.testing.assert_array_equal(m.mcse_, 0.0)
        if sd is None:  # a Student t: var = E[sigma^2] (X^T X + I / s^2)^-1, E[sigma^2] of the inverse gamma
            a, b = m.closed_form_.noise
            np.testing.assert_allclose(m.coef_sd_**2, stats.invgamma(a, scale=b).mean() * np.diag(m.closed_form_.cov),
                                       rtol=1e-10)
    # sigma given: the exact covariance against a direct inverse of the precision
    Xc, yc = X - X.mean(0), y - y.mean()
    A = Xc.T @ Xc / 0.61**2 + np.eye(5) / 1.37**2
    m = GaussianPriorRegression(noise_sd=0.61, scale=1.37, draws=0).fit(X, y)
    np.testing.assert_allclose(m.coef_sd_, np.sqrt(np.diag(np.linalg.inv(A))), rtol=1e-10)
    np.testing.assert_allclose(m.coef_mean_, np.linalg.solve(A, Xc.T @ yc / 0.61**2), rtol=1e-10)


def test_the_horseshoe_has_no_map_and_says_so(rng):
    X, y = _problem(rng)
    m = HorseshoeRegression(draws=200, chains=4, warmup=100, random_state=0).fit(X, y)
    assert not hasattr(m, "coef_map_")
    with pytest.raises(InputError, match="no MAP"):
        m.predict(X, estimator="map")
    with pytest.raises(InputError, match="draws must be >= 1"):
        HorseshoeRegression(draws=0).fit(X, y)
    assert m.predict(X).shape == (40,)
    mean, sd = m.predict(X, return_std=True)
    assert np.all(sd > 0)


def test_the_horseshoe_keeps_large_signals_where_the_laplace_prior_shrinks_them(rng):
    """Three large weights among many nulls (p > n): the Laplace prior's learned tau is small, so it pulls the large
    weights towards 0 by about sigma^2 / (sigma tau); the horseshoe leaves them nearly unshrunk and shrinks the
    nulls harder."""
    n, p = 80, 200
    X = rng.normal(size=(n, p))
    w = np.zeros(p)
    w[:3] = [6.0, -5.0, 4.0]
    y = X @ w + rng.normal(size=n)
    kw = {"draws": 600, "chains": 8, "random_state": 2, "fit_intercept": False}
    hs, lp = HorseshoeRegression(**kw).fit(X, y), LaplaceRegression(**kw).fit(X, y)

    def shrunk(m):  # how far the large weights' means fall short of the truth, on average
        return float(np.mean(np.abs(w[:3]) - np.abs(m.coef_mean_[:3])))

    assert shrunk(lp) > 0.2 and shrunk(hs) < shrunk(lp) / 3, (shrunk(hs), shrunk(lp))
    assert np.mean(np.abs(hs.coef_mean_[3:])) < np.mean(np.abs(lp.coef_mean_[3:]))
    assert np.sum((hs.coef_mean_ - w) ** 2) < np.sum((lp.coef_mean_ - w) ** 2)


def test_the_horseshoe_chain_does_not_stick_at_zero(rng):
    """The null coefficients' bulk ESS per draw stays above a floor of 0.05 (a chain stuck at a tiny lambda_j would
    give an ESS near 0 and an R-hat far above 1)."""
    n, p = 50, 40
    X = rng.normal(size=(n, p))
    y = X[:, :2] @ [3.0, -2.0] + 0.8 * rng.normal(size=n)
    m = HorseshoeRegression(draws=1500, warmup=500, chains=8, random_state=5, fit_intercept=False).fit(X, y)
    per_draw = m.ess_bulk_[2:] / (8 * 1500)
    assert np.min(per_draw) > 0.05, np.min(per_draw)
    assert np.max(m.rhat_) < 1.02


def _reference_cases():
    if not REFERENCE.exists():
        return []
    return json.loads(REFERENCE.read_text())["cases"]


@pytest.mark.parametrize("case", _reference_cases(), ids=lambda c: c["name"])
def test_the_horseshoe_agrees_with_the_committed_nuts_reference(case):
    X, y = np.array(case["X"]), np.array(case["y"])
    prior = None if case["noise_prior"] is None else tuple(case["noise_prior"])
    m = HorseshoeRegression(noise_sd=case["noise_sd"], noise_prior=prior, fit_intercept=False, draws=3000,
                            warmup=1000, chains=8, random_state=11).fit(X, y)
    assert case["min_ess"] > 400  # a reference NUTS itself mixed for
    z = (m.coef_mean_ - np.array(case["mean"])) / np.hypot(m.mcse_, np.array(case["mcse"]))
    assert np.max(np.abs(z)) < 4.0, z
    if case["noise_sd"] is None:
        s = m.noise_sd_summary_
        zs = (s["mean"] - case["sigma_mean"]) / np.hypot(s["mcse"], case["sigma_mcse"])
        assert abs(zs) < 4.0
    t = m.scale_summary_
    zt = (t["mean"] - case["tau_mean"]) / np.hypot(t["mcse"], case["tau_mcse"])
    assert abs(zt) < 4.0


def test_the_reference_file_covers_both_shapes_and_both_noise_cases():
    cases = _reference_cases()
    assert {(c["noise_sd"] is None, len(c["X"][0]) > len(c["X"])) for c in cases} == {
        (False, False), (False, True), (True, False), (True, True)}


@pytest.mark.parametrize("shape", [(30, 8), (12, 25)])
def test_the_spectrum_gives_the_marginal_quadratic_form_and_log_determinant(rng, shape):
    from bmnn.laplace import gaussian_draw

    n, p = shape
    X, r = rng.normal(size=(n, p)), rng.normal(size=n)
    d = rng.uniform(0.01, 3.0, size=(3, p))
    for design in (gaussian_draw.Design.build(X, r), gaussian_draw.Design.from_gram(X.T @ X, X.T @ r, r @ r, n)):
        kappa, u, rest = design.spectrum(d)
        for c in range(3):
            for t in (0.0037, 0.8, 41.0):
                M = np.eye(n) + t * (X * d[c]) @ X.T
                np.testing.assert_allclose(rest[c] + np.sum(u[c] / (1 + t * kappa[c])), r @ np.linalg.solve(M, r),
                                           rtol=1e-9)
                np.testing.assert_allclose(np.sum(np.log1p(t * kappa[c])), np.linalg.slogdet(M)[1], rtol=1e-9,
                                           atol=1e-9)


@pytest.mark.parametrize("noise_sd", [0.7, None])
def test_the_marginal_tau_step_leaves_its_exact_conditional_invariant(rng, noise_sd):
    """Start every chain at a draw of p(tau | lambda, y) (by inverse CDF on a fine grid of the dense formula), take
    the slice step, and the draws still follow it."""
    from bmnn.laplace import gaussian_draw

    n, p, chains = 15, 6, 20_000
    X = rng.normal(size=(n, p))
    r = X[:, 0] * 1.4 + 0.7 * rng.normal(size=n)
    lam2 = rng.uniform(0.2, 4.0, size=p)
    terms = (0.5, 0.3, n) if noise_sd is None else None
    grid = np.linspace(-7, 3, 4001)  # log tau

    def dense(x):
        M = np.eye(n) + np.exp(2 * x) * (X * lam2) @ X.T
        quad = r @ np.linalg.solve(M, r)
        fit = -quad / (2 * noise_sd**2) if noise_sd else -(0.5 + n / 2) * np.log(0.3 + quad / 2)
        return -0.5 * np.linalg.slogdet(M)[1] + fit - np.log1p(np.exp(2 * x)) + x

    logp = np.array([dense(x) for x in grid])
    cdf = np.cumsum(np.exp(logp - logp.max()))
    cdf /= cdf[-1]
    start = np.interp(rng.random(chains), cdf, grid)
    design = gaussian_draw.Design.build(X, r)
    state = HorseshoeState(np.exp(start), np.tile(lam2, (chains, 1)), np.ones((chains, p)))
    sigma = np.full(chains, noise_sd if noise_sd else 1.0)
    out = HorseshoePrior(None).marginal_update(state, design, terms, sigma, rng)
    assert stats.kstest(np.log(out.scale), lambda x: np.interp(x, grid, cdf)).pvalue > 1e-4
    assert np.mean(out.scale != state.scale) > 0.99  # it moves


@pytest.mark.parametrize("cls", [HorseshoeRegression, GaussianPriorRegression])
def test_the_new_priors_work_in_a_pipeline_and_leave_as_inference_data(rng, cls):
    import arviz as az
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _problem(rng, n=45, p=5)
    model = make_pipeline(StandardScaler(), cls(draws=200, chains=4, warmup=100, random_state=0))
    assert np.all(cross_val_score(model, X, y, cv=3) > 0.5)
    fit = cls(draws=200, chains=4, warmup=100, random_state=0).fit(X, y)
    idata = fit.to_inference_data(X, y)
    scale = "tau" if cls is HorseshoeRegression else "s"
    assert {"w", "intercept", "sigma", scale} <= set(idata.posterior.data_vars)
    assert idata.posterior.attrs["model"] == f"bmnn {cls.__name__}"
    assert np.isfinite(float(az.loo(idata).elpd_loo))
    lo, hi = fit.predict_interval(X[:4], 0.9)
    assert np.all(lo < hi)


def test_bmnn_regress_reaches_every_prior(capsys, tmp_path):
    from bmnn.cli import main

    base = ["regress", "--dataset", "diabetes", "--standardize", "--draws", "60", "--warmup", "40", "--chains", "2",
            "--json"]
    outs = {}
    for prior in ("laplace", "horseshoe", "gaussian"):
        assert main([*base, "--prior", prior]) == 0
        outs[prior] = json.loads(capsys.readouterr().out)
        assert outs[prior]["prior"] == prior and len(outs[prior]["posterior_mean"]) == 10
    assert "map" not in outs["horseshoe"] and "lambda" in outs["laplace"] and "alpha" in outs["gaussian"]
    assert main([*base, "--prior", "gaussian", "--scale", "2", "--noise-sd", "54", "--save",
                 str(tmp_path / "g.nc")]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["algorithm"] == "closed form" and exact["mcse"] == [0.0] * 10
    for bad, said in ((["--prior", "horseshoe", "--scale-prior", "1", "1"], "--scale-prior"),
                      (["--prior", "gaussian", "--coordinate-steps", "3"], "--coordinate-steps"),
                      (["--prior", "ridge"], "--prior")):
        assert main([*base, *bad]) == 2
        assert said in capsys.readouterr().err
    assert main(["lasso", "--dataset", "diabetes", "--draws", "40", "--chains", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prior"] == "laplace"


@pytest.mark.parametrize("width", [0.3, 4.0])
def test_slice_sampling_leaves_a_skewed_density_invariant(rng, width):
    """From exact draws of a Gamma(2.5) in log scale, three slice steps (stepping out by ``width``, shrinking both
    ends) keep the law: a kernel that shrank one end only, or drew the level wrongly, drifts."""
    from bmnn.laplace.priors.horseshoe import slice_sample

    law = stats.gamma(2.5)
    x = np.log(law.rvs(size=60_000, random_state=rng))

    def log_density(u):  # log x has density x^2.5 e^-x in u = log x
        return 2.5 * u - np.exp(u)

    for _ in range(3):
        x = slice_sample(x, log_density, rng, width=width)
    assert stats.kstest(np.exp(x), law.cdf).pvalue > 1e-4


def test_an_intercept_takes_one_degree_of_freedom_from_learned_sigma(rng):
    """Centred data with the intercept integrated out: sigma^2 | y ~ InvGamma(a0 + (n - 1)/2, ...), against the
    Gaussian prior's closed form, at a small n where n and n - 1 differ by a tenth."""
    n, p, s = 12, 3, 0.9
    X = rng.normal(size=(n, p))
    y = 0.4 + X @ [1.0, -0.5, 0.2] + 0.6 * rng.normal(size=n)
    Xc, yc = X - X.mean(0), y - y.mean()
    noise = Noise(None, (2.0, 0.5))
    g = run(Data.from_arrays(Xc, yc, 0.0, noise, intercept=True), GaussianPrior(s), noise,
            SamplerSettings(draws=4000, warmup=100, chains=8), 5)
    exact = closed_form(Xc.T @ Xc, Xc.T @ yc, float(yc @ yc), n - 1, np.zeros(p), None, s, (2.0, 0.5))
    a, b = exact.noise
    s2 = g.noise_sd**2
    se = np.std(s2) / np.sqrt(summarize(s2[..., None])["ess_bulk"][0])
    assert abs(np.mean(s2) - b / (a - 1)) < 4.5 * se
    assert abs(np.mean(s2) - b / (a - 0.5 - 1)) > 4.5 * se  # n degrees of freedom would be told apart
    for intercept, dof in ((True, n - 1), (False, n)):  # the estimator's closed form counts the same way
        m = GaussianPriorRegression(scale=s, noise_prior=(2.0, 0.5), fit_intercept=intercept, draws=0).fit(X, y)
        assert m.closed_form_.noise[0] == 2.0 + dof / 2


def test_the_intercepts_draws_have_the_exact_posterior_spread(rng):
    """b0 | w, sigma, y ~ N(mean y - mean(X)^T w, sigma^2 / n): with the Gaussian prior's closed form, Var(b0 | y) =
    sigma^2 / n + mean(X)^T Cov(w | y) mean(X) exactly."""
    n, sd = 25, 0.8
    X = rng.normal(size=(n, 3)) + [1.5, -2.0, 0.7]
    y = 2.0 + X @ [0.6, 0.3, -0.4] + sd * rng.normal(size=n)
    m = GaussianPriorRegression(noise_sd=sd, scale=1.1, draws=20000, chains=4, random_state=3).fit(X, y)
    xm = X.mean(0)
    exact = sd**2 / n + xm @ m.closed_form_.cov @ xm
    np.testing.assert_allclose(np.var(m.intercept_draws_), exact, rtol=0.03)
    assert abs(np.var(m.intercept_draws_) - (exact - sd**2 / n + sd**2)) > 0.1 * exact  # sigma^2, not / n


@pytest.mark.parametrize("overrelax", [-0.5, 0.0])
def test_the_horseshoe_posterior_of_one_weight_matches_quadrature(overrelax):
    """One weight, sigma given, tau learned: w | g = lambda tau, y is Normal, and g, the product of two C+(0, 1),
    has the density (4 / pi^2) log(g) / (g^2 - 1); the posterior mean and sd of w by quadrature over log g. The
    sampler's (default over-relaxation included) within 4.5 MCSE and 3%."""
    x, y, sigma = np.array([0.9, -0.4, 1.3]), np.array([0.8, -0.1, 1.1]), 0.7
    u = np.linspace(-14, 14, 40001)  # log g
    g = np.exp(u)
    with np.errstate(divide="ignore", invalid="ignore"):
        prior = np.where(np.abs(g - 1) < 1e-9, 2 / np.pi**2, 4 / np.pi**2 * np.log(g) / (g * g - 1)) * g  # in log g
    xx, xy, yy = x @ x, x @ y, y @ y
    det = 1 + g * g * xx  # |I + g^2 x x^T|, and y^T (.)^-1 y by Sherman-Morrison
    quad = yy - g * g * xy * xy / det
    weight = prior * np.exp(-0.5 * np.log(det) - quad / (2 * sigma**2))
    weight /= np.trapezoid(weight, u)
    v = 1 / (xx / sigma**2 + 1 / (sigma**2 * g * g))
    m = v * xy / sigma**2
    mean = np.trapezoid(weight * m, u)
    sd = np.sqrt(np.trapezoid(weight * (v + m * m), u) - mean**2)
    fit = HorseshoeRegression(noise_sd=sigma, fit_intercept=False, draws=4000, warmup=500, chains=16,
                              overrelax=overrelax, random_state=7).fit(x[:, None], y)
    assert abs(fit.coef_mean_[0] - mean) < 4.5 * fit.mcse_[0]
    assert abs(fit.coef_sd_[0] / sd - 1) < 0.03, (fit.coef_sd_[0], sd)


def test_the_closed_form_refuses_what_it_cannot_serve_in_one_line(rng):
    X, y = rng.normal(size=(5, 10)), rng.normal(size=5)
    for kw in ({"noise_sd": 1.0}, {}):  # a scale so wide that X^T X's null space (p > n) is not held
        try:
            m = GaussianPriorRegression(scale=1e8, draws=10, chains=2, **kw).fit(X, y)
        except InputError as exc:
            assert "scale" in str(exc) and exc.param == "scale"
        else:
            assert np.all(np.isfinite(m.coef_mean_)) and np.all(np.isfinite(m.draws_))
    with pytest.raises(InputError, match="improper"):  # y = X location under Jeffreys' prior
        GaussianPriorRegression(scale=1.0, fit_intercept=False, draws=10).fit(X, np.zeros(5))
    with pytest.raises(InputError, match=r"^scale_prior \(the inverse-gamma\(shape, rate\) prior on s\^2"):
        GaussianPriorRegression(scale_prior=(0, 1)).fit(X, y)


def test_numbers_on_the_page_follow_one_rule():
    from bmnn.report import _fmt

    cases = {0.9121000170707703: "0.9121", 1.5e-5: "1.5 × 10⁻⁵", -2.5e7: "-2.5 × 10⁷", 999999.7: "1 × 10⁶",
             0.0: "0", 0.00123456789: "0.00123457", True: "yes", 7: "7", float("nan"): "undefined"}
    for value, shown in cases.items():
        assert _fmt(value) == shown, value
    assert _fmt(np.array(2.5)) == "2.5" and _fmt([0.5, 2e-9]) == "[0.5, 2 × 10⁻⁹]"


def test_the_priors_record_shows_its_sampled_values_to_the_digits_their_errors_support():
    from bmnn import _numbers as num
    from bmnn.experiments import laplace as el
    from bmnn.experiments.records import Interval, Sampled

    r = el.q2_P_priors(el.QUICK)
    for row in r.table["rows"]:
        for cell in row[1:]:
            assert isinstance(cell, Interval) and cell.lo.value < cell.mean.value < cell.hi.value, cell
            width = cell.hi.value - cell.lo.value  # every error positive and small against the interval
            assert all(0 < s.se < 0.05 * width for s in (cell.lo, cell.hi, cell.mean)), cell
    assert len(r.values) == 9
    for name, v in r.values.items():
        assert isinstance(v, Sampled) and 0 < v.se < 0.05 * abs(v.value), (name, v)
        shown = (num.supported(100 * v.value, 100 * v.se) + "%" if "share" in name
                 else num.supported(v.value, v.se))
        assert shown in r.answer, (name, shown)
