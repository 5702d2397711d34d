"""Job 1's closed forms against independent computations: sequential updating, scipy, exact arithmetic."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from bmnn import gaussian as g
from bmnn._checks import InputError, NotFittedError

sds = st.floats(0.05, 20.0)
# values are 0 or far from the subnormal range, where sum x * shrinkage would underflow to 0 (a float limit, not ours)
data = st.lists(st.floats(-50, 50).filter(lambda v: v == 0 or abs(v) > 1e-200), min_size=1, max_size=40)


def sequential_posterior(x, noise_sd, prior_sd, prior_mean):
    """Bayes' rule one observation at a time, in precision form: an independent route to mu | D."""
    mean, var = prior_mean, prior_sd**2
    for xi in x:
        prec = 1 / var + 1 / noise_sd**2
        mean = (mean / var + xi / noise_sd**2) / prec
        var = 1 / prec
    return mean, var


@settings(max_examples=200, deadline=None)
@given(data, sds, sds, st.floats(-10, 10))
def test_posterior_equals_sequential_updating(x, s, t, m0):
    st_ = g.sufficient_stats(x)
    post = g.posterior(st_.n, st_.total, s, t, m0)
    mean, var = sequential_posterior(x, s, t, m0)
    assert post.var() == pytest.approx(var, rel=1e-9)
    assert post.mean() == pytest.approx(mean, rel=1e-8, abs=1e-8 * (1 + max(abs(v) for v in x)))


@settings(max_examples=200, deadline=None)
@given(data, sds, sds)
def test_map_is_predictive_mean_and_material_formula(x, s, t):
    st_ = g.sufficient_stats(x)
    mp = g.map_estimate(st_.n, st_.total, s, t)
    pred = g.posterior_predictive(st_.n, st_.total, s, t)
    # the material's formulas, written out here independently of the library: MAP = sum x / (n + sigma^2/tau^2)
    # (the maximiser of the log posterior), and the predictive's mean is the same number
    material = np.sum(x) / (len(x) + s**2 / t**2)
    assert mp == pytest.approx(material, rel=1e-12, abs=1e-12)
    assert pred.mean() == pytest.approx(material, rel=1e-12, abs=1e-12)
    assert pred.var() == pytest.approx(1 / (len(x) / s**2 + 1 / t**2) + s**2, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**7), sds, sds)
def test_predictive_variance_exceeds_noise_variance(n, s, t):
    pred = g.posterior_predictive(n, 0.0, s, t)
    assert pred.var() > s**2
    assert pred.var() == pytest.approx(s**2 + 1 / (n / s**2 + 1 / t**2), rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(data, sds, sds)
def test_sign_relations_of_1_3(x, s, t):
    st_ = g.sufficient_stats(x)
    ml, mp = g.mle(st_.n, st_.total), g.map_estimate(st_.n, st_.total, s, t)
    if st_.total > 0:
        assert 0 < mp < ml
    elif st_.total < 0:
        assert ml < mp < 0
    else:
        assert ml == mp == 0


@settings(max_examples=100, deadline=None)
@given(sds, sds)
def test_ratio_increases_to_one(s, t):
    n = np.array([1, 10, 100, 10**4, 10**6, 10**9])
    r = g.shrinkage(n, s, t)
    assert np.all(np.diff(r) > 0) and np.all(r < 1)
    assert 1 - r[-1] == pytest.approx((s**2 / t**2) / (n[-1] + s**2 / t**2), rel=1e-6)


def test_ratio_on_data_equals_shrinkage_when_prior_mean_is_zero(rng):
    x = rng.normal(2.0, 1.0, size=7)
    st_ = g.sufficient_stats(x)
    assert g.map_mle_ratio(st_.n, st_.total, 1.3, 0.7) == pytest.approx(g.shrinkage(7, 1.3, 0.7), rel=1e-14)
    with pytest.raises(InputError, match="undefined where sum x = 0"):
        g.map_mle_ratio(3, 0.0, 1.0, 1.0)


def test_mle_undefined_without_data():
    with pytest.raises(InputError, match="MLE of mu is undefined for n = 0"):
        g.mle(0, 0.0)


def test_no_data_gives_prior_and_prior_predictive():
    m = g.NormalKnownVariance(noise_sd=2.0, prior_sd=3.0, prior_mean=1.0).fit([])
    assert (float(m.posterior().mean()), float(m.posterior().var())) == (1.0, 9.0)
    assert (float(m.predictive().mean()), float(m.predictive().var())) == (1.0, 13.0)


def test_plugins_have_noise_variance(rng):
    x = rng.normal(size=12)
    m = g.NormalKnownVariance(0.37, 1.9).fit(x)  # generic values: sigma^2 = 0.1369, no coincidence with 2 sigma
    map_by_hand = np.sum(x) / (12 + 0.37**2 / 1.9**2)  # the material's mu_MAP, computed here
    for kind, centre in (("mle", np.mean(x)), ("map", map_by_hand)):
        d = m.plugin_predictive(kind)
        assert float(d.var()) == pytest.approx(0.37**2, rel=1e-15)
        assert float(d.mean()) == pytest.approx(centre, rel=1e-13)
    with pytest.raises(InputError, match="estimate must be 'mle' or 'map', got 'mean'"):
        m.plugin_predictive("mean")


def test_streaming_equals_fitting_all_at_once(rng):
    x = rng.normal(1e6, 3.0, size=1000)
    whole = g.NormalKnownVariance(3.0, 10.0, 5.0).fit(x)
    streamed = g.NormalKnownVariance(3.0, 10.0, 5.0).fit(x[:1])
    for chunk in np.array_split(x[1:], 17):
        streamed.update(chunk)
    assert int(streamed.n_) == 1000
    assert float(streamed.posterior().mean()) == pytest.approx(float(whole.posterior().mean()), rel=1e-15)
    assert float(streamed.posterior().var()) == float(whole.posterior().var())


def test_vectorised_over_data_sets_and_hyperparameters(rng):
    x = rng.normal(size=(4, 3, 6))
    prior_sd = np.array([0.5, 1.0, 2.0])
    post = g.NormalKnownVariance(1.0, 1.0).fit(x).posterior()  # scalar hyper-parameters
    st_ = g.sufficient_stats(x)
    batched = g.posterior(st_.n, st_.total, 1.0, prior_sd)
    assert post.mean().shape == (4, 3) and batched.var().shape == (4, 3)
    for i in range(4):
        for j in range(3):
            mean, var = sequential_posterior(x[i, j], 1.0, prior_sd[j], 0.0)
            assert batched.mean()[i, j] == pytest.approx(mean, rel=1e-12, abs=1e-14)
            assert batched.var()[i, j] == pytest.approx(var, rel=1e-12)


def test_normal_methods_agree_with_scipy(rng):
    d = g.Normal(mean=np.array([0.0, 3.0]), var=np.array([4.0, 0.25]))
    np.testing.assert_allclose(d.std(), [2.0, 0.5])
    np.testing.assert_allclose(d.logpdf(1.0), stats.norm.logpdf(1.0, [0.0, 3.0], [2.0, 0.5]))
    np.testing.assert_allclose(d.pdf(1.0), stats.norm.pdf(1.0, [0.0, 3.0], [2.0, 0.5]))
    lo, hi = d.interval(0.9)
    np.testing.assert_allclose(d.cdf(hi) - d.cdf(lo), 0.9)
    a, b = d.sample((50_000,), seed=1), d.sample((50_000,), seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (50_000, 2)
    np.testing.assert_allclose(a.mean(axis=0), [0.0, 3.0], atol=4 * 2.0 / np.sqrt(50_000))
    with pytest.raises(InputError, match=r"level must be in \(0, 1\), got 95"):
        d.interval(95)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise_sd": 0.0, "prior_sd": 1.0},
         r"noise_sd \(sigma, the known noise sd\) must be a finite number > 0, got 0.0"),
        ({"noise_sd": 1.0, "prior_sd": -2.0},
         r"prior_sd \(tau, the prior sd of mu\) must be a finite number > 0, got -2.0"),
        ({"noise_sd": float("nan"), "prior_sd": 1.0}, "noise_sd .* must be a finite number > 0, got nan"),
        ({"noise_sd": 1.0, "prior_sd": 1.0, "prior_mean": float("inf")}, "prior_mean .* must be finite, got inf"),
    ],
)
def test_bad_hyperparameters_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        g.NormalKnownVariance(**kwargs).fit([1.0])


def test_bad_data_and_unfitted_use():
    with pytest.raises(InputError, match="x .the data. must be finite, got nan"):
        g.NormalKnownVariance(1.0, 1.0).fit([1.0, float("nan")])
    with pytest.raises(NotFittedError, match=r"call fit\(x\) first"):
        g.NormalKnownVariance(1.0, 1.0).posterior()
    with pytest.raises(InputError, match="n must be a non-negative whole number"):
        g.posterior(-1, 0.0, 1.0, 1.0)


@pytest.mark.slow
def test_exact_sum_of_ten_million_values_near_1e9():
    """10^7 values near 1e9 with unit spread: the posterior mean to 1e-12 of exact rational arithmetic."""
    rng = np.random.default_rng(7)
    x = 1e9 + rng.normal(0.0, 1.0, size=10**7)
    # every value lies in [2^29, 2^30), where floats are whole multiples of 2^-23: sum them exactly as integers
    assert np.all((x >= 2**29) & (x < 2**30))
    scaled = (x * 2**23).astype(np.int64)
    assert np.array_equal(scaled.astype(np.float64), x * 2**23)
    base = 10**9 * 2**23  # subtract it first so the int64 sum cannot overflow
    exact_sum = Fraction(int((scaled - base).sum(dtype=np.int64)) + len(x) * base, 2**23)
    s, t = Fraction(1), Fraction(2)
    n = len(x)
    exact_mean = (t**2 * exact_sum) / (n * t**2 + s**2)
    got = g.NormalKnownVariance(1.0, 2.0).fit(x).map()
    assert abs(Fraction(float(got)) - exact_mean) / exact_mean <= Fraction(1, 10**12)


def test_predictive_coverage_matches_the_interval_probabilities_written_out(rng):
    from scipy import stats

    from bmnn.gaussian import posterior_predictive, predictive_coverage

    n = np.array([1, 3, 17, 400])
    s, t, level = 1.37, 0.61, 0.9
    cov = predictive_coverage(n, s, t, level)
    z = stats.norm.ppf(0.95)
    pred = posterior_predictive(n, 0.0, s, t)  # its variance is free of the data: sigma^2 + v_n
    inside = stats.norm.cdf(z * s, 0, pred.std()) - stats.norm.cdf(-z * s, 0, pred.std())
    np.testing.assert_allclose(cov["plugin_map"], inside, rtol=1e-12)
    sd_mle = s * np.sqrt(1 + 1 / n)  # x - xbar
    np.testing.assert_allclose(cov["plugin_mle"], stats.norm.cdf(z * s / sd_mle) - stats.norm.cdf(-z * s / sd_mle),
                               rtol=1e-12)
    np.testing.assert_allclose(cov["full"], level)
    # a simulation under the model, for the MLE plug-in (free of the prior): 4 standard errors
    mu = rng.normal(0, t, 200_000)
    x = rng.normal(mu[:, None], s, size=(200_000, 3))
    new = rng.normal(mu, s)
    hit = np.mean(np.abs(new - x.mean(axis=1)) <= z * s)
    assert abs(hit - cov["plugin_mle"][1]) < 4 * np.sqrt(level * (1 - level) / 200_000)
    with pytest.raises(InputError, match="n >= 1"):
        predictive_coverage(0, s, t)


# ---- tests written against surviving mutants (docs/mutation.md) ---------------------------------------------------

def test_streamed_sums_are_exact_where_a_plain_float_sum_loses_the_small_terms():
    # 1e16 + 1 rounds to 1e16 in float64; the compensated sum keeps every unit: the exact total is 3
    m = g.NormalKnownVariance(1.3, 0.7).fit([1e16])
    for chunk in ([1.0], [1.0], [-1e16], [1.0]):
        m.update(chunk)
    assert int(m.n_) == 5 and float(m.mle()) == 3.0 / 5
    post = m.posterior()
    r = (1.3 / 0.7) ** 2
    assert post.mean().dtype == np.float64 and float(post.mean()) == pytest.approx(3.0 / (5 + r), rel=1e-15)


def test_map_and_ratio_use_the_prior_mean():
    n, total, s, t, m0 = 7, 3.1, 1.3, 0.7, 0.45
    expected = (t * t * total + s * s * m0) / (n * t * t + s * s)  # (tau^2 S + sigma^2 m0) / (n tau^2 + sigma^2)
    assert float(g.map_estimate(n, total, s, t, m0)) == pytest.approx(expected, rel=1e-14)
    assert float(g.map_mle_ratio(n, total, s, t, m0)) == pytest.approx(expected / (total / n), rel=1e-14)


def test_plugin_predictive_at_a_zero_estimate_is_finite():
    d = g.plugin_predictive(np.array([0.0, -1.7]), 1.3)
    np.testing.assert_array_equal(d.var(), [1.3 * 1.3, 1.3 * 1.3])
    np.testing.assert_array_equal(d.mean(), [0.0, -1.7])


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.2])
def test_levels_outside_the_open_unit_interval_are_refused(level):
    with pytest.raises(InputError, match="level must be in"):
        g.Normal(0.0, 1.0).interval(level)
    with pytest.raises(InputError, match="level must be in"):
        g.predictive_coverage(3, 1.3, 0.7, level)


def test_default_levels_are_95_percent():
    lo, hi = g.Normal(0.3, 2.25).interval()
    assert (float(lo), float(hi)) == pytest.approx((0.3 - 1.959963984540054 * 1.5, 0.3 + 1.959963984540054 * 1.5))
    assert float(g.predictive_coverage(4, 1.3, 0.7)["full"]) == 0.95
    assert g.predictive_coverage(4, 1.3, 0.7)["plugin_mle"] == pytest.approx(
        g.predictive_coverage(4, 1.3, 0.7, 0.95)["plugin_mle"], rel=0)


def test_predictive_coverage_broadcasts_every_argument():
    cov = g.predictive_coverage(5, np.array([0.6, 1.3, 2.1]), np.array([[0.4], [1.7]]))
    assert cov["full"].shape == cov["plugin_mle"].shape == cov["plugin_map"].shape == (2, 3)
    v = 1 / (5 / 1.3**2 + 1 / 1.7**2)
    from scipy import stats

    assert cov["plugin_map"][1, 1] == pytest.approx(2 * stats.norm.cdf(1.959963984540054 * 1.3 / np.sqrt(1.69 + v)) - 1,
                                                    rel=1e-12)


def test_normal_samples_have_its_mean_and_spread_and_broadcast(rng):
    d = g.Normal(mean=np.array([0.3, -1.2]), var=np.array([2.5, 0.4]))
    x = d.sample(40_000, seed=3)
    assert x.shape == (40_000, 2)
    np.testing.assert_allclose(x.mean(axis=0), d.mean(), atol=4 * np.sqrt(2.5 / 40_000))
    np.testing.assert_allclose(x.std(axis=0), np.sqrt(d.var()), rtol=0.02)
    assert g.Normal(mean=0.5, var=np.array([1.0, 2.0, 3.0])).sample(7, seed=1).shape == (7, 3)
    assert g.Normal(mean=np.array([0.5, 1.0]), var=2.0).sample((4, 5), seed=1).shape == (4, 5, 2)
    assert g.Normal(mean=0.5, var=2.0).sample(6, seed=1).shape == (6,)


def test_fitting_twice_forgets_the_first_data(rng):
    a, b = rng.normal(size=9), rng.normal(2.0, 1.0, size=4)
    m = g.NormalKnownVariance(1.3, 0.7).fit(a).fit(b)
    fresh = g.NormalKnownVariance(1.3, 0.7).fit(b)
    assert int(m.n_) == 4 and float(m.posterior().mean()) == float(fresh.posterior().mean())


def test_update_with_a_mismatched_or_broadcastable_batch_shape(rng):
    m = g.NormalKnownVariance(1.3, 0.7).fit(rng.normal(size=(3, 5)))
    with pytest.raises(InputError, match=r"leading shape \(2,\) does not match the data sets fitted so far \(3,\)"):
        m.update(rng.normal(size=(2, 4)))
    x = rng.normal(size=(3, 5))
    extra = rng.normal(size=(1, 4))  # one batch for every data set: broadcasts
    m = g.NormalKnownVariance(1.3, 0.7).fit(x).update(extra)
    whole = g.NormalKnownVariance(1.3, 0.7).fit(np.concatenate([x, np.repeat(extra, 3, axis=0)], axis=1))
    np.testing.assert_allclose(m.posterior().mean(), whole.posterior().mean(), rtol=1e-14)


def test_counts_must_be_whole_and_extreme_scales_keep_their_digits():
    with pytest.raises(InputError):
        g.posterior(2.5, 1.0, 1.3, 0.7)
    # a vague prior (tau = 1e200): the posterior is the likelihood's, N(xbar, sigma^2 / n), to the last digit
    post = g.posterior(4, 3.0, 1.3, 1e200)
    assert float(post.mean()) == pytest.approx(0.75, rel=1e-15)
    assert float(post.var()) == pytest.approx(1.69 / 4, rel=1e-15)
    # no data and (sigma / tau)^2 underflowing to 0: the prior itself, not 0 / 0
    prior = g.posterior(0, 0.0, 1e-170, 1.0, 0.3)
    assert float(prior.mean()) == 0.3 and float(prior.var()) == 1.0
    # a whole-number sigma too large for an integer square: computed in floating point
    assert float(g.posterior_predictive(3, 1.0, 10**10, 1.0).var()) == pytest.approx(1e20, rel=1e-12)


def test_sufficient_statistics_of_a_scalar_and_of_empty_data_sets():
    st_ = g.sufficient_stats(2.5)  # one point
    assert int(st_.n) == 1 and float(st_.total) == 2.5 and st_.n.dtype == np.int64
    empty = g.sufficient_stats(np.zeros((3, 0)))
    assert empty.n.tolist() == [0, 0, 0] and empty.total.shape == (3,) and not empty.total.any()


def test_no_data_gives_the_prior_whatever_sum_is_passed():
    # n = 0 means no observations: the posterior is the prior N(m0, tau^2), the sum of nothing notwithstanding
    post = g.posterior(0, 3.7, 1.3, 0.6, prior_mean=-0.45)
    assert post.mean() == -0.45 and post.var() == pytest.approx(0.36, rel=1e-15)
    both = g.posterior(np.array([0, 4]), np.array([2.5, 2.5]), 1.3, 0.6, prior_mean=-0.45)
    assert both.mean()[0] == -0.45
    assert both.mean()[1] == pytest.approx((0.36 * 2.5 + 1.69 * -0.45) / (4 * 0.36 + 1.69), rel=1e-14)


def test_batches_that_do_not_broadcast_sizes_axes_and_points_that_are_not_numbers_are_refused():
    with pytest.raises(InputError, match=r"must broadcast against each other .* n \(2,\), x_sum \(3,\)"):
        g.posterior([1, 2], [1.0, 2.0, 3.0], 1.3, 2.1)
    with pytest.raises(InputError, match=r"noise_sd \(2,\), prior_sd \(3,\)"):
        g.shrinkage(4, [1.3, 0.7], [2.1, 1.0, 3.0])
    with pytest.raises(InputError, match=r"mu_star \(3,\), noise_sd \(2,\)"):
        g.plugin_predictive([0.1, 0.2, 0.3], [1.3, 0.7])
    with pytest.raises(InputError, match=r"n \(2,\), x_sum \(3,\)"):
        g.mle([1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r"must broadcast"):
        g.predictive_coverage([3, 4], [1.3, 0.7, 0.2], 2.1)
    ok = g.posterior([[1], [2]], [0.5, 1.5, 2.5], 1.3, 2.1)  # (2, 1) against (3,): a 2 x 3 batch
    assert ok.mean().shape == (2, 3)
    with pytest.raises(InputError, match=r"axis must be a whole number in \[-2, 1\] for data of shape \(2, 3\)"):
        g.sufficient_stats(np.ones((2, 3)), axis=2)
    post = g.posterior(3, 4.5, 1.3, 2.1)
    for bad in (-1, (2, -1), 2.5, "3", (True,)):
        with pytest.raises(InputError, match="size must be a whole number >= 0"):
            post.sample(bad, seed=0)
    assert post.sample([2, 3], seed=0).shape == (2, 3) and post.sample(0, seed=0).shape == (0,)
    for method in (post.pdf, post.logpdf, post.cdf):
        with pytest.raises(InputError, match="x must be numbers, got text 'a'"):
            method("a")
    np.testing.assert_array_equal(post.cdf([-np.inf, np.inf]), [0.0, 1.0])  # infinities are legitimate points
