"""bmnn inside its users' tools: job 2's estimator as a scikit-learn regressor (scikit-learn's own checks, pipelines,
cross-validation, grid search, named columns), its intercept against the exact posterior by quadrature, ArviZ's
loo and posterior predictive checks on what the library and ``bmnn lasso --save`` return, and job 1's
distributions against ``scipy.stats.norm``."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.linear_model import BayesianRidge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from bmnn._checks import InputError
from bmnn.cli import main
from bmnn.laplace.estimator import LaplaceRegression, NotFittedError
from bmnn.laplace.shrinkage import GaussianPriorRegression, HorseshoeRegression


def small(**kw):
    return LaplaceRegression(**{"draws": 60, "warmup": 30, "chains": 2, "random_state": 0, **kw})


def _few(cls, **kw):
    return cls(**{"draws": 60, "warmup": 30, "chains": 2, "random_state": 0, **kw})


@parametrize_with_checks([small(), small(noise_sd=0.7, scale=0.4), small(fit_intercept=False),
                          _few(HorseshoeRegression), _few(HorseshoeRegression, noise_sd=0.6, scale=0.3),
                          _few(GaussianPriorRegression), _few(GaussianPriorRegression, scale=1.3),
                          _few(GaussianPriorRegression, noise_sd=0.6, scale=0.9, fit_intercept=False)])
def test_scikit_learns_own_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_cross_validated_r2_on_the_raw_target_matches_bayesian_ridge(diabetes):
    X, y = diabetes
    cv = KFold(3, shuffle=True, random_state=0)
    ours = cross_val_score(make_pipeline(StandardScaler(), LaplaceRegression(draws=400, chains=4, random_state=0)),
                           X, y, cv=cv)
    ridge = cross_val_score(make_pipeline(StandardScaler(), BayesianRidge()), X, y, cv=cv)
    assert np.all(np.abs(ours - ridge) < 0.03), (ours, ridge)
    m = LaplaceRegression(draws=400, chains=4, random_state=0).fit(StandardScaler().fit_transform(X), y)
    assert abs(m.intercept_ - y.mean()) < 1e-9  # standardised columns have mean 0: the intercept is mean y
    assert 50 < m.noise_sd_summary_["mean"] < 58  # about 54, as BayesianRidge's 1 / sqrt(alpha_)


def test_clone_and_grid_search_tune_the_prior_scale(diabetes):
    X, y = diabetes
    base = LaplaceRegression(noise_sd=54.0, draws=100, chains=2, random_state=1)
    assert clone(base).get_params() == base.get_params()
    grid = GridSearchCV(make_pipeline(StandardScaler(), base), {"laplaceregression__scale": [0.05, 5.0]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["laplaceregression__scale"] == 5.0  # a prior of scale 0.05 shrinks every weight to 0
    assert grid.best_score_ > 0.4


def test_named_columns_are_remembered_and_checked(diabetes):
    pd = pytest.importorskip("pandas")
    X, y = diabetes
    frame = pd.DataFrame(X, columns=load_diabetes().feature_names)
    m = LaplaceRegression(draws=100, chains=2, random_state=0).fit(frame, y)
    assert list(m.feature_names_in_) == list(frame.columns) and m.coef_names_ == list(frame.columns)
    np.testing.assert_allclose(m.predict(frame), m.predict(X))
    with pytest.raises(InputError, match="feature names"):
        m.predict(frame[frame.columns[::-1]])
    plain = LaplaceRegression(draws=20, chains=2, random_state=0).fit(X, y)
    assert not hasattr(plain, "feature_names_in_") and plain.coef_names_[0] == "x0"
    assert plain.to_inference_data().posterior["w"].coords["feature"].values[0] == "x0"
    assert m.to_inference_data().posterior["w"].coords["feature"].values[2] == "bmi"


def test_a_column_of_targets_is_read_as_scikit_learn_regressors_read_it(diabetes):
    X, y = diabetes
    a = small().fit(X[:100], y[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = small().fit(X[:100], y[:100, None])
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_unfitted_use_is_scikit_learns_not_fitted_error():
    from sklearn.exceptions import NotFittedError as SkNotFitted

    with pytest.raises(SkNotFitted):
        LaplaceRegression().predict(np.ones((2, 3)))
    assert issubclass(NotFittedError, SkNotFitted) and issubclass(NotFittedError, AttributeError)


def test_the_pickle_holds_no_training_data(diabetes, rng):
    X, y = diabetes
    m = LaplaceRegression(noise_sd=54.0, scale=5.0, draws=0).fit(X, y)
    blob = pickle.dumps(m)
    assert len(blob) < 8_000
    assert X[:3].tobytes() not in blob and y[:8].tobytes() not in blob  # the first rows' bytes, as pickle stores them
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict(X, "map"), m.predict(X, "map"))


@pytest.mark.parametrize("random_state", [7, np.random.RandomState(3), "generator"])
def test_random_state_is_whatever_scikit_learn_accepts_and_a_generator(random_state, diabetes):
    X, y = diabetes
    seed = np.random.default_rng(5) if random_state == "generator" else random_state
    again = np.random.default_rng(5) if random_state == "generator" else (
        np.random.RandomState(3) if isinstance(random_state, np.random.RandomState) else random_state)
    a = small(random_state=None).set_params(random_state=seed).fit(X[:80], y[:80])
    b = small(random_state=None).set_params(random_state=again).fit(X[:80], y[:80])
    np.testing.assert_array_equal(a.draws_, b.draws_)


# ---- the intercept against the exact posterior ----------------------------------------------------------------------

def _quadrature(x, y, tau, mu):
    """E[w], E[b0], sd(b0) and E[sigma] of y = b0 + x w + e with a flat prior on b0, Jeffreys' on sigma^2 and the
    scaled Laplace prior w ~ Laplace(mu, sigma tau), by Simpson's rule on a fine (w, sigma) grid with b0 integrated
    out analytically."""
    n = len(y)
    xc, yc = x - x.mean(), y - y.mean()
    w = np.linspace(-6.0, 6.0, 6001)[:, None]
    s = np.linspace(0.02, 10.0, 5001)[None, :]
    rss = yc @ yc - 2 * w * (xc @ yc) + w * w * (xc @ xc)
    # sigma^-(n-1) (likelihood, b0 integrated out), 1/sigma (Jeffreys on sigma^2), 1/sigma (the scaled prior)
    log_d = -(n + 1) * np.log(s) - rss / (2 * s * s) - np.abs(w - mu) / (s * tau)
    d = np.exp(log_d - log_d.max())

    def expect(f):
        return integrate.simpson(integrate.simpson(f * d, x=s[0], axis=1), x=w[:, 0]) / z

    z = 1.0
    z = expect(np.ones_like(d))
    ew, ew2, es, es2 = expect(w + 0 * s), expect(w * w + 0 * s), expect(s + 0 * w), expect(s * s + 0 * w)
    # b0 | w, sigma ~ N(mean y - mean x w, sigma^2 / n): Var b0 = mean(x)^2 Var w + E[sigma^2] / n
    var_b0 = x.mean() ** 2 * (ew2 - ew * ew) + es2 / n
    return ew, y.mean() - x.mean() * ew, np.sqrt(var_b0), es


def test_the_intercept_and_learned_sigma_match_their_exact_posterior_by_quadrature():
    rng = np.random.default_rng(20261207)
    x = rng.normal(1.7, 0.9, size=7)
    y = 2.3 + 0.8 * x + rng.normal(0, 0.6, size=7)
    tau, mu = 0.9, 0.25
    ew, eb, sb, es = _quadrature(x, y, tau, mu)
    m = LaplaceRegression(None, tau, mu, draws=6000, warmup=500, chains=16, random_state=11).fit(x[:, None], y)
    b = m.intercept_draws_
    from bmnn.laplace.diagnostics import summarize

    sb_ = summarize(b)
    assert abs(float(m.coef_mean_[0]) - ew) < 4 * float(m.mcse_[0])
    assert abs(float(sb_["mean"]) - eb) < 4 * float(sb_["mcse"])
    assert abs(float(sb_["sd"]) - sb) < 0.03 * sb
    assert abs(m.noise_sd_summary_["mean"] - es) < 4 * m.noise_sd_summary_["mcse"]
    # the conditional itself: b0 - (mean y - mean x w) given sigma is N(0, sigma^2 / n)
    z = (b - (y.mean() - x.mean() * m.draws_[..., 0])) / (m.noise_sd_draws_ / np.sqrt(7))
    assert stats.kstest(z.ravel()[::7], "norm").pvalue > 1e-3


def test_without_an_intercept_the_material_model_is_unchanged(rng):
    X = rng.normal(size=(30, 3))
    y = X @ [1.0, 0.0, -0.7] + 0.4 * rng.normal(size=30)
    a = LaplaceRegression(0.4, 0.3, fit_intercept=False, draws=200, chains=2, random_state=0).fit(X, y)
    b = LaplaceRegression(0.4, 0.3, fit_intercept=True, draws=200, chains=2, random_state=0).fit(
        X - X.mean(axis=0), y - y.mean())
    np.testing.assert_array_equal(a.predict(X, "map"), X @ a.coef_map_)
    assert a.intercept_ == 0.0 and not hasattr(a, "intercept_draws_")
    c = LaplaceRegression(0.4, 0.3, draws=200, chains=2, random_state=0).fit(X + 5.0, y + 2.0)
    np.testing.assert_allclose(c.draws_, b.draws_, atol=1e-9)  # centring is the model with a flat intercept


# ---- ArviZ ----------------------------------------------------------------------------------------------------------

def test_loo_and_a_posterior_predictive_check_run_on_the_library_output(diabetes):
    from bmnn.laplace.diagnostics import _arviz

    az = _arviz()
    X, y = diabetes
    X = StandardScaler().fit_transform(X)
    m = LaplaceRegression(draws=300, chains=4, random_state=0).fit(X, y)
    idata = m.to_inference_data(X, y, source="diabetes")
    assert {"posterior", "log_likelihood", "posterior_predictive", "observed_data"} <= set(idata.groups())
    assert idata.log_likelihood["y"].shape == (4, 300, len(y))
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo) and -2500 < loo.elpd_loo < -2300  # about -2,390 for 442 points, sigma 54
    # the pointwise log likelihood is the Normal's, draw by draw
    s = 5
    w, b0, sig = m.draws_[0, s], m.intercept_draws_[0, s], m.noise_sd_draws_[0, s]
    np.testing.assert_allclose(idata.log_likelihood["y"].values[0, s], stats.norm(b0 + X @ w, sig).logpdf(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import matplotlib

        matplotlib.use("Agg")
        az.plot_ppc(idata, num_pp_samples=20)
    assert idata.posterior.attrs["source"] == "diabetes" and "fit_intercept" in idata.posterior.attrs


def test_loo_runs_on_what_bmnn_lasso_save_writes(tmp_path, capsys):
    from bmnn.laplace.diagnostics import _arviz

    az = _arviz()
    path = tmp_path / "d.nc"
    code = main(["lasso", "--dataset", "diabetes", "--standardize", "--draws", "200", "--chains", "2", "--save",
                 str(path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["feature_names"][2] == "bmi"
    idata = az.from_netcdf(path)
    assert np.isfinite(az.loo(idata).elpd_loo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import matplotlib

        matplotlib.use("Agg")
        az.plot_ppc(idata, num_pp_samples=10)
    assert list(idata.posterior["w"].coords["feature"].values) == out["feature_names"]
    assert idata.posterior.attrs["source"] == "diabetes"


def test_to_inference_data_checks_the_data_it_is_given(diabetes):
    X, y = diabetes
    m = small().fit(X, y)
    with pytest.raises(InputError, match="both X and y"):
        m.to_inference_data(X)
    with pytest.raises(InputError, match="features"):
        m.to_inference_data(X[:, :3], y)


# ---- job 1 speaks scipy.stats ----------------------------------------------------------------------------------------

def test_job_1_distributions_answer_as_frozen_scipy_norms():
    from bmnn.gaussian import NormalKnownVariance

    m = NormalKnownVariance(noise_sd=1.3, prior_sd=0.7, prior_mean=0.2).fit([[0.4, 2.9, -1.1], [5.3, 4.4, 6.1]])
    for dist in (m.posterior(), m.predictive(), m.plugin_predictive("mle")):
        ref = stats.norm(loc=dist.mean(), scale=np.sqrt(dist.var()))
        x = np.array([[-2.3], [0.17], [3.9]])  # broadcast against the batch of two
        q = np.array([[1e-12], [0.31], [0.975]])
        for name in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf"):
            np.testing.assert_allclose(getattr(dist, name)(x), getattr(ref, name)(x), rtol=1e-13, err_msg=name)
        for name in ("ppf", "isf"):
            np.testing.assert_allclose(getattr(dist, name)(q), getattr(ref, name)(q), rtol=1e-13, err_msg=name)
        for name in ("mean", "median", "std", "entropy"):
            np.testing.assert_allclose(getattr(dist, name)(), getattr(ref, name)(), rtol=1e-15, err_msg=name)
        np.testing.assert_allclose(dist.interval(0.9), ref.interval(0.9), rtol=1e-14)
        np.testing.assert_array_equal(dist.support(), ref.support())
        np.testing.assert_allclose(dist.moment(3), ref.moment(3), rtol=1e-13)
        np.testing.assert_allclose(dist.rvs(size=(5, 2), random_state=np.random.default_rng(3)),
                                   ref.rvs(size=(5, 2), random_state=np.random.default_rng(3)))
    post = m.posterior()
    r = (1.3 / 0.7) ** 2
    np.testing.assert_array_equal(post.var(), 1.3**2 / (3 + r))  # the closed form's variance, exactly
    assert post.stats("mv")[1] is post.var()


def test_job_1_distributions_refuse_what_is_not_a_number():
    from bmnn.gaussian import NormalKnownVariance

    d = NormalKnownVariance(1.3, 0.7).fit([1.0]).posterior()
    for method in ("pdf", "cdf", "sf", "ppf", "isf", "logcdf"):
        with pytest.raises(InputError):
            getattr(d, method)("0.5")


def test_the_readmes_scikit_learn_and_arviz_example_runs_as_written(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("### Use it with scikit-learn and ArviZ")
    block = readme[readme.index("```python\n", start) + 10:readme.index("```\n", readme.index("```python\n", start))]
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(block, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    ours, ridge = (np.array(line.strip("[]").split(), dtype=float) for line in lines[:2])
    assert np.all(np.abs(ours - ridge) <= 0.03)
    assert -2500 < float(lines[2]) < -2300


def test_quick_mode_is_a_setting_that_survives_a_replicate_count():
    from dataclasses import replace

    from bmnn.experiments import laplace as L

    cfg = replace(L.QUICK, mse_reps=30, mse_reps_curve=10)  # as the report builds it for --quick --replicates N
    assert cfg.quick and not L.LaplaceConfig().quick
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    out = L.explore_2d(X, X @ [1.0, -0.5] + rng.normal(size=20), 1.0, cfg)
    assert len(out.taus) == L.EXPLORE_TAUS[True]
