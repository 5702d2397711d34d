"""Job 2 far from unit scale and on inconsistent input: learned sigma is exactly equivariant under a rescaling of y
(the sampler works in units of r's size), summaries survive values beyond 1e154, a posterior that leaves float64's
range is refused in one line, and sufficient statistics that no data set could have produced are refused."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from bmnn._checks import InputError
from bmnn.cli import main
from bmnn.gaussian import posterior_predictive
from bmnn.laplace import LaplaceRegression, gibbs
from bmnn.laplace.diagnostics import summarize
from bmnn.laplace.gibbs import gibbs_from_statistics, inverse_gaussian
from bmnn.laplace.map import map_from_statistics


def material(*args, seed=None, **kw):
    """The material's model (no intercept), with the sampler's seed: these tests check it against its exact
    references."""
    return LaplaceRegression(*args, fit_intercept=False, random_state=seed, **kw)


def _data(rng, n=40, p=5):
    X = rng.standard_normal((n, p))
    w = np.array([1.3, 0.0, -0.7, 0.0, 0.45])[:p]
    return X, X @ w + 0.37 * rng.standard_normal(n)


@pytest.mark.parametrize("k", [600, -600, 2])
def test_learned_sigma_is_exactly_equivariant_under_a_power_of_two_rescaling_of_y(k, rng):
    X, y = _data(rng)
    mu = np.array([0.25, 0.0, -0.5, 0.125, 0.0])
    kw = dict(draws=60, warmup=20, chains=3, seed=5)
    base = gibbs(X, y, None, None, mu, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or underflow warning on the way
        big = gibbs(X, np.ldexp(y, k), None, None, np.ldexp(mu, k), **kw)
    np.testing.assert_array_equal(big.draws, np.ldexp(base.draws, k))
    np.testing.assert_array_equal(big.noise_sd, np.ldexp(base.noise_sd, k))
    np.testing.assert_array_equal(big.scale, base.scale)  # tau is unit-free under the scaled prior
    np.testing.assert_array_equal(big.rb_mean, np.ldexp(base.rb_mean, k))


@pytest.mark.parametrize("c", [3.1e200, 2.7e-200])
def test_learned_sigma_at_any_scale_of_y_gives_the_rescaled_posterior(c, rng):
    """A factor that is not a power of two: other chains, the same posterior (means within MCSE, the MAP and tau*
    to rounding)."""
    X, y = _data(rng)
    kw = dict(draws=1500, warmup=200, chains=4, seed=2)
    unit = material(None, None, **kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = material(None, None, **kw).fit(X, y * c)
    for attr in ("coef_mean_", "coef_sd_", "mcse_"):
        assert np.all(np.isfinite(getattr(scaled, attr))), attr
    z = (scaled.coef_mean_ / c - unit.coef_mean_) / np.hypot(scaled.mcse_ / c, unit.mcse_)
    assert np.max(np.abs(z)) < 4.5, z
    np.testing.assert_allclose(scaled.coef_sd_ / c, unit.coef_sd_, rtol=0.15)
    s_unit, s_big = unit.noise_sd_summary_, scaled.noise_sd_summary_
    assert abs(s_big["mean"] / c - s_unit["mean"]) < 4.5 * np.hypot(s_big["mcse"] / c, s_unit["mcse"])
    assert abs(scaled.scale_summary_["mean"] - unit.scale_summary_["mean"]) < 4.5 * np.hypot(
        scaled.scale_summary_["mcse"], unit.scale_summary_["mcse"])
    # the MAP at the posterior medians: the same problem up to the factor, whatever the medians drawn
    s, t = scaled.map_at_["noise_sd"], scaled.map_at_["scale"]
    ref = material(s / c, s / c * t, draws=0).fit(X, y)  # sigma given: b = sigma tau, the same MAP
    np.testing.assert_allclose(scaled.coef_map_ / c, ref.coef_map_, rtol=1e-9, atol=1e-12 * np.abs(ref.coef_map_).max())
    assert scaled.tau_star_ == pytest.approx(ref.tau_star_ / (s / c), rel=1e-12)
    assert scaled.lambda_ == pytest.approx(ref.lambda_ * c, rel=1e-12)


def test_learned_sigma_from_statistics_at_a_huge_scale_is_the_rescaled_run(rng):
    X, y = _data(rng)
    kw = dict(draws=40, warmup=10, chains=2, seed=1)
    k = 500
    base = gibbs_from_statistics(X.T @ X, X.T @ y, y @ y, 40, None, 0.6, **kw)
    yb = np.ldexp(y, k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = gibbs_from_statistics(X.T @ X, X.T @ yb, float(np.ldexp(y @ y, 2 * k)), 40, None, 0.6, **kw)
    np.testing.assert_array_equal(big.draws, np.ldexp(base.draws, k))
    np.testing.assert_array_equal(big.noise_sd, np.ldexp(base.noise_sd, k))


def test_y_equal_to_x_mu_with_sigma_learned_under_jeffreys_is_refused_and_runs_with_a_proper_prior(rng):
    X, _ = _data(rng)
    mu = np.array([0.5, -1.0, 0.0, 0.25, 2.0])
    with pytest.raises(InputError, match="posterior of sigma is improper") as err:
        gibbs(X, X @ mu, None, 0.5, mu, draws=5, chains=2)
    assert err.value.param == "noise_sd"
    g = gibbs(X, X @ mu, None, 0.5, mu, noise_prior=(3.0, 0.02), draws=200, warmup=50, chains=2, seed=0)
    # with r = 0 the data say nothing against sigma -> 0; the prior keeps it off 0: sigma^2 stays below the
    # prior's scale and well above 0
    assert np.all(np.isfinite(g.draws)) and 0 < np.min(g.noise_sd) and np.median(g.noise_sd) < np.sqrt(0.02)


def test_a_noise_prior_rate_out_of_range_on_the_datas_scale_is_refused(rng):
    X, y = _data(rng)
    with pytest.raises(InputError, match="noise_prior's rate") as err:
        gibbs(X, y * 1e-300, None, 0.5, noise_prior=(2.0, 1e10), draws=5, chains=2)
    assert err.value.param == "noise_prior"


def test_tiny_columns_with_sigma_and_tau_learned_give_finite_huge_coefficients(rng):
    X, y = _data(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = material(None, None, draws=300, warmup=100, chains=2, seed=0).fit(X * 1e-150, y)
    assert np.all(np.isfinite(m.coef_mean_)) and np.all(np.isfinite(m.coef_sd_))
    # X w is on the scale of y: the coefficients are the unit-scale ones times 1e150, to within the posterior's sd
    fit = X @ (m.coef_mean_ * 1e-150)
    assert np.corrcoef(fit, y)[0, 1] > 0.9


def test_a_posterior_that_leaves_float64_is_refused_in_one_line(rng):
    X, y = _data(rng)  # sigma = 1 given, y of size 1e200: w and tau of size 1e200, 1 / tau^2 = 0
    with pytest.raises(InputError, match="leaves float64's range"):
        gibbs(X, y * 1e200, 1.0, None, draws=100, warmup=20, chains=2, seed=0)


def test_the_inverse_gaussian_draw_is_exactly_scale_equivariant_where_squares_overflow():
    """IG(m, lam) scaled by c is IG(c m, c lam); with c = 4^k the draw is the same number times c, bit for bit,
    also where q (q + 2 a) alone would overflow (shape ~ 1e-241, q ~ 1e241)."""
    a, lam = np.array([0.3, 2.0, 0.0, 7.5]), 1.7
    base = inverse_gaussian(a, lam, np.random.default_rng(4))
    c = 4.0**-400
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = inverse_gaussian(a / c, lam * c, np.random.default_rng(4))
    np.testing.assert_array_equal(small, base * c)


def test_summaries_of_draws_beyond_1e154_are_finite_and_scale_exactly(rng):
    d = rng.standard_normal((4, 200, 3)) * np.array([0.3, 1.0, 2.0]) + np.array([1.0, -2.0, 0.5])
    ref = summarize(d)
    for k in (700, -700):
        got = summarize(np.ldexp(d, k))
        for key in ("mean", "sd", "mcse"):
            np.testing.assert_array_equal(got[key], np.ldexp(ref[key], k), err_msg=key)
        for key in ("ess_bulk", "ess_tail", "rhat"):
            np.testing.assert_allclose(got[key], ref[key], rtol=1e-12, err_msg=key)
    mixed = summarize(np.stack([np.ldexp(d[..., 0], 700), np.ldexp(d[..., 1], -700)], axis=-1))
    np.testing.assert_array_equal(mixed["sd"], [np.ldexp(ref["sd"][0], 700), np.ldexp(ref["sd"][1], -700)])


@pytest.mark.parametrize(("gram", "xty", "yty", "message"), [
    (np.array([[2.0, 1.0], [0.0, 2.0]]), [1.0, 1.0], 5.0, "symmetric with a non-negative diagonal"),
    (np.array([[-1.0, 0.0], [0.0, 2.0]]), [1.0, 1.0], 5.0, "symmetric with a non-negative diagonal"),
    (np.array([[1.0, 2.0], [2.0, 1.0]]), [1.0, 1.0], 5.0, "positive semi-definite; its smallest eigenvalue is -1"),
    (np.array([[2.0, 0.0], [0.0, 3.0]]), [1.0, 1.0], -0.5, "yty must be y^T y >= 0, got -0.5"),
    (np.array([[2.0, 0.0], [0.0, 3.0]]), [4.0, 1.0], 5.0, "explain 8.33333 of it"),
])
def test_statistics_no_data_could_give_are_refused(gram, xty, yty, message):
    with pytest.raises(InputError, match=message.replace("^", r"\^")):
        gibbs_from_statistics(gram, xty, yty, 10, 0.5, 0.5, draws=5, chains=2)
    with pytest.raises(InputError, match=message.replace("^", r"\^")):
        material(None, 0.5, draws=5, chains=2).fit_statistics(gram, xty, yty, 10)
    if "yty" not in message and "explain" not in message:  # the MAP needs no y^T y
        with pytest.raises(InputError, match=message.replace("^", r"\^")):
            map_from_statistics(gram, xty, 0.5, 0.5)


def test_statistics_of_real_data_pass_however_they_were_summed(rng):
    X, y = _data(rng, n=500, p=5)
    chunks = np.array_split(np.arange(500), 7)  # summed chunk by chunk, as table_moments does: rounding differs
    G = sum(X[i].T @ X[i] for i in chunks)
    q = sum(X[i].T @ y[i] for i in chunks)
    yty = float(sum(y[i] @ y[i] for i in chunks))
    g = gibbs_from_statistics(G, q, yty, 500, None, None, draws=20, chains=2, seed=0)
    assert np.all(np.isfinite(g.draws))
    exact = X[:, :2] @ [1.0, -2.0]  # y in the columns' span exactly: explained = y^T y up to rounding
    gibbs_from_statistics(X.T @ X, X.T @ exact, float(exact @ exact), 500, 0.5, 0.5, draws=5, chains=2)


def test_bad_levels_names_and_complex_data_are_refused_in_one_line(rng):
    X, y = _data(rng)
    m = material(0.4, 0.5, draws=20, warmup=5, chains=2, seed=0).fit(X, y)
    for bad in ("wide", "0.9", None, [0.5, 0.9], True, 1.0):
        with pytest.raises(InputError, match="level must be in"):
            m.coef_interval(bad)
        with pytest.raises(InputError, match="level must be in"):
            m.predict_interval(X, level=bad)
        with pytest.raises(InputError, match="level must be in"):
            posterior_predictive(3, 4.5, 1.3, 2.1).interval(bad)
    with pytest.raises(InputError, match="feature_names must have one name per column of X"):
        material(0.4, 0.5, draws=5, chains=2).fit(X, y, feature_names=["a", "b"])
    with pytest.raises(InputError, match="feature_names must be a list"):
        material(0.4, 0.5, draws=5, chains=2).fit(X, y, feature_names="abcde")
    with pytest.raises(InputError, match="Complex data not supported"):
        material(0.4, 0.5, draws=5, chains=2).fit(X + 0j, y)
    with pytest.raises(InputError, match="gram must be real numbers"):
        gibbs_from_statistics(X.T @ X + 0j, X.T @ y, y @ y, 40, 0.4, 0.5, draws=5, chains=2)


def test_cli_refuses_y_equal_to_x_mu_with_sigma_learned_and_serves_y_near_1e200(tmp_path, capsys):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((30, 2))
    zero = tmp_path / "zero.csv"
    zero.write_text("a,b,y\n" + "".join(f"{a!r},{b!r},0\n" for a, b in X.tolist()))
    assert main(["lasso", "--csv", str(zero), "--target", "y", "--draws", "20", "--chains", "2"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "posterior of sigma is improper" in err
    big = tmp_path / "big.csv"
    y = (X @ [1.0, -0.5] + 0.3 * rng.standard_normal(30)) * 1e200
    rows = zip(X.tolist(), y.tolist(), strict=True)
    big.write_text("a,b,y\n" + "".join(f"{a!r},{b!r},{v!r}\n" for (a, b), v in rows))
    assert main(["lasso", "--csv", str(big), "--target", "y", "--draws", "200", "--chains", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert err == "" and None not in d["posterior_sd"] and None not in d["mcse"]
    assert 0.5e200 < d["posterior_mean"][0] < 1.5e200 and 1e199 < d["noise_sd"]["mean"] < 1e201


def test_with_y_equal_to_x_mu_sigma_squared_has_its_exact_inverse_gamma_posterior(rng):
    """r = 0: the marginal likelihood of sigma is proportional to sigma^-n (substitute theta = sigma u), so
    sigma^2 | y ~ InvGamma(a0 + n / 2, b0) exactly, whatever X and tau."""
    X, _ = _data(rng, n=12)
    mu = np.array([0.5, -1.0, 0.0, 0.25, 2.0])
    a0, b0 = 3.0, 0.37
    g = gibbs(X, X @ mu, None, 0.8, mu, noise_prior=(a0, b0), draws=2000, warmup=100, chains=4, seed=3)
    s2 = g.noise_sd**2
    d = summarize(s2)
    shape = a0 + 12 / 2
    assert abs(d["mean"] - b0 / (shape - 1)) < 4 * d["mcse"]
    np.testing.assert_allclose(g.draws.mean(axis=(0, 1)), mu, atol=5 * np.max(summarize(g.draws)["mcse"]))


@pytest.mark.parametrize("k", [400, -400])
def test_an_inverse_gamma_noise_prior_rescales_with_the_data_exactly(k, rng):
    X, y = _data(rng)
    kw = dict(draws=40, warmup=10, chains=2, seed=7)
    base = gibbs(X, y, None, 0.6, noise_prior=(2.5, 0.3), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = gibbs(X, np.ldexp(y, k), None, 0.6, noise_prior=(2.5, float(np.ldexp(0.3, 2 * k))), **kw)
    np.testing.assert_array_equal(big.noise_sd, np.ldexp(base.noise_sd, k))
    np.testing.assert_array_equal(big.draws, np.ldexp(base.draws, k))


@pytest.mark.parametrize(("y_scale", "rate"), [(1e-300, 0.5), (1e-300, 1e10), (1e200, 1e-300)])
def test_a_noise_prior_rate_that_leaves_float64_on_the_datas_scale_is_refused_without_a_warning(y_scale, rate, rng):
    X, y = _data(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError) as err:
            gibbs(X, y * y_scale, None, 0.5, noise_prior=(2.0, rate), draws=5, chains=2)
    assert str(err.value).startswith(f"noise_prior's rate {rate:g} is beyond float64's range on the scale of the data")
    assert err.value.param == "noise_prior"


def test_y_minus_x_mu_that_overflows_is_refused_in_one_line(rng):
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError) as err:
            gibbs(X, np.array([1.5e308, 0.0, 1.0]), None, 0.5, [-1.5e308, 0.0], draws=5, chains=2)
    assert str(err.value) == "the data are too large for float64: y - X location overflows; rescale X and y"


def test_the_refusals_of_y_equal_to_x_mu_and_of_statistics_name_everything():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(InputError) as err:
        gibbs(X, X @ [0.5, 0.25], None, 0.5, [0.5, 0.25], draws=5, chains=2)
    assert str(err.value) == ("y - X location is all zeros: with noise_sd learned under Jeffreys' prior 1 / sigma^2 "
                              "the posterior of sigma is improper (it piles up at 0); give noise_sd, or a noise_prior "
                              "with rate > 0")
    cases = [
        (np.array([[2.0, 1.0], [0.0, 2.0]]), [1.0, 1.0], 5.0, "gram",
         "gram must be X^T X: symmetric with a non-negative diagonal, got a matrix that is not"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), [1.0, 1.0], 5.0, "gram",
         "gram must be X^T X, positive semi-definite; its smallest eigenvalue is -1 (largest 3)"),
        (np.array([[2.0, 0.0], [0.0, 3.0]]), [1.0, 1.0], -0.5, "yty", "yty must be y^T y >= 0, got -0.5"),
        (np.array([[2.0, 0.0], [0.0, 3.0]]), [4.0, 1.0], 5.0, "yty",
         "the statistics do not fit together: y^T y = 5, but X^T y and X^T X say the columns of X alone explain "
         "8.33333 of it"),
        (np.zeros((0, 0)), np.zeros(0), 1.0, "gram", "gram and xty must describe at least one column of X, got none"),
    ]
    for gram, xty, yty, param, message in cases:
        with pytest.raises(InputError) as err:
            gibbs_from_statistics(gram, xty, yty, 10, 0.5, 0.5, draws=5, chains=2)
        assert (str(err.value), err.value.param) == (message, param)


@pytest.mark.parametrize("scale", [1e6, 1e-6])
def test_statistics_are_judged_symmetric_relative_to_their_own_size(scale):
    G = np.array([[2.0, 1.0], [1.0, 3.0]]) * scale
    xty, yty = np.array([1.0, 1.0]) * scale, 10.0 * scale
    near = G.copy()
    near[0, 1] *= 1 + 1e-12  # rounding of sums over many rows: accepted at any scale
    gibbs_from_statistics(near, xty, yty, 10, 0.5, 0.5, draws=2, chains=2)
    far = G.copy()
    far[0, 1] *= 1 + 1e-6  # not a Gram matrix at any scale
    with pytest.raises(InputError, match="symmetric"):
        gibbs_from_statistics(far, xty, yty, 10, 0.5, 0.5, draws=2, chains=2)


def test_the_range_check_refuses_every_way_of_leaving_float64_and_passes_a_finite_state():
    from bmnn.laplace.gibbs import _check_range

    theta, one = np.array([[0.5, -2.0], [1.0, 3.0]]), np.ones(2)
    assert _check_range(theta, one, one, 0) is None
    assert _check_range(theta, np.array([1e-300, 2.0]), np.array([1e300, 1.0]), 0) is None  # tiny, huge: finite
    for sigma, tau in ((np.array([1.0, np.inf]), one), (np.array([0.0, 1.0]), one), (one, np.array([np.inf, 1.0])),
                       (one, np.array([1.0, 0.0])), (np.array([np.nan, 1.0]), one), (one, np.array([1.0, np.nan]))):
        with pytest.raises(InputError, match="leaves float64's range"):
            _check_range(theta, sigma, tau, 0)
    bad = np.array([[0.5, np.inf], [np.nan, -48.0]])
    with pytest.raises(InputError) as err:
        _check_range(bad, one, np.array([2.0, 7.0]), 4)  # theta in units of 2^-4: |w - location| up to 48 / 16
    assert str(err.value) == ("the posterior leaves float64's range (largest finite |w - location| drawn 3, tau up "
                              "to 7): rescale X and y (standardised columns, y of size about 1), or give noise_sd "
                              "and scale")
    with pytest.raises(InputError) as err:
        _check_range(np.full((2, 2), np.nan), one, np.array([np.inf, np.nan]), 0)
    assert str(err.value).startswith("the posterior leaves float64's range (no finite w drawn): rescale")


def test_summaries_of_one_draw_or_none_keep_their_shapes_and_say_nothing(caplog, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = summarize(np.array([[[0.5, -1.0, 2.0]]]))  # one chain, one draw: sd, ESS, R-hat undefined
        none = summarize(np.zeros((2, 0, 3)))
    for d in (one, none):
        for key in ("mean", "sd", "mcse", "ess_bulk", "ess_tail", "rhat"):
            assert d[key].shape == (3,), key
    np.testing.assert_array_equal(one["mean"], [0.5, -1.0, 2.0])
    assert np.all(np.isnan(one["sd"])) and np.all(np.isnan(none["mean"]))
    assert not [r for r in caplog.records if "arviz" in r.name.lower()]
    assert capfd.readouterr().err == ""  # ArviZ's own handler writes shape warnings to stderr unless filtered


@pytest.mark.parametrize("scale", [1e6, 1e-6])
def test_statistics_are_judged_positive_semi_definite_and_consistent_relative_to_their_own_size(scale):
    evecs = np.array([[0.6, -0.8], [0.8, 0.6]])
    kw = dict(draws=2, chains=2)

    def gram(small):
        return evecs @ np.diag([2.0 * scale, small]) @ evecs.T

    xty = evecs @ np.array([1.0, 0.0]) * scale
    gibbs_from_statistics(gram(-1e-12 * scale), xty, scale, 10, 0.5, 0.5, **kw)  # rounding below 0: accepted
    with pytest.raises(InputError, match="positive semi-definite"):
        gibbs_from_statistics(gram(-1e-4 * scale), xty, scale, 10, 0.5, 0.5, **kw)
    # explained = (X^T y)^T G^+ X^T y = scale / 2: y^T y must be at least that, up to rounding
    gibbs_from_statistics(gram(0.0), xty, 0.5 * scale * (1 + 1e-9), 10, 0.5, 0.5, **kw)
    with pytest.raises(InputError, match="do not fit together"):
        gibbs_from_statistics(gram(0.0), xty, 0.49 * scale, 10, 0.5, 0.5, **kw)


def test_all_zero_targets_and_near_null_directions_are_accepted_from_statistics():
    kw = dict(draws=2, chains=2)
    g = gibbs_from_statistics(np.array([[2.0, 0.5], [0.5, 1.0]]), np.zeros(2), 0.0, 10, 0.5, 0.5, **kw)
    assert np.all(np.isfinite(g.draws))  # y = 0: y^T y = 0 explains nothing and needs nothing
    # a direction with eigenvalue below 1e-8 of the largest is rounding noise of the sums: not judged
    gibbs_from_statistics(np.diag([1e6, 1e-6]), np.array([0.0, 1e-3]), 0.5, 10, 0.5, 0.5, **kw)
