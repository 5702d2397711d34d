"""The Gibbs kernel's conditional updates, each alone against its exact conditional; the driver's shape; job 2's
settings table as the one source of the estimator's, the sampler's and the command line's settings."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy import stats

from bmnn._checks import InputError
from bmnn.cli import build_parser, main
from bmnn.laplace import gaussian_draw
from bmnn.laplace.gibbs import Data, Noise, gibbs, run
from bmnn.laplace.kernel import ChainState, Kernel, gaussian_update, noise_gaussian_update
from bmnn.laplace.priors.laplace import LaplacePrior, LaplaceState
from bmnn.laplace.settings import DEFAULTS, SETTINGS, SamplerSettings

CHAINS = 40_000  # independent one-step draws: every test below compares their law with the exact one


def _problem(rng, n=9, p=3, algorithm=None):
    X = rng.normal(size=(n, p)) * [0.7, 1.3, 2.1][:p] + 0.2
    r = rng.normal(size=n) * 1.7
    return X, r, gaussian_draw.Design.build(X, r, algorithm)


def _moment_z(draws, mean, cov):
    """The largest |z| of the sample mean and of the sample second moments against the exact ones."""
    d = draws - mean
    m = d.mean(axis=0)
    z_mean = m / np.sqrt(np.diag(cov) / len(d))
    outer = np.einsum("ki,kj->kij", d, d)
    z_cov = (outer.mean(axis=0) - cov) / (outer.std(axis=0) / np.sqrt(len(d)))
    return max(np.max(np.abs(z_mean)), np.max(np.abs(z_cov)))


@pytest.mark.parametrize("algorithm", ["precision", "bcm"])
def test_gaussian_update_draws_the_exact_conditional(rng, algorithm):
    X, r, design = _problem(rng, algorithm=algorithm)
    sigma, var = 0.83, np.array([0.4, 2.5, 0.09])
    A = X.T @ X / sigma**2 + np.diag(1 / var)
    cov = np.linalg.inv(A)
    mean = cov @ X.T @ r / sigma**2
    theta, cond = gaussian_update(design, None, np.tile(var, (CHAINS, 1)), np.full(CHAINS, sigma), 0.0, rng,
                                  gaussian_draw.Workspace())
    np.testing.assert_allclose(cond, np.tile(mean, (CHAINS, 1)), rtol=1e-10)
    assert _moment_z(theta, mean, cov) < 4.5


def test_over_relaxed_gaussian_update_keeps_the_conditional_and_anticorrelates(rng):
    X, r, design = _problem(rng)
    sigma, var, alpha = 0.83, np.array([0.4, 2.5, 0.09]), -0.6
    cov = np.linalg.inv(X.T @ X / sigma**2 + np.diag(1 / var))
    mean = cov @ X.T @ r / sigma**2
    old = rng.multivariate_normal(mean, cov, size=CHAINS)  # a draw from the conditional ...
    new, _ = gaussian_update(design, old, np.tile(var, (CHAINS, 1)), np.full(CHAINS, sigma), alpha, rng,
                             gaussian_draw.Workspace())
    assert _moment_z(new, mean, cov) < 4.5  # ... stays one
    corr = [np.corrcoef(old[:, j], new[:, j])[0, 1] for j in range(3)]
    np.testing.assert_allclose(corr, alpha, atol=0.02)  # an AR(1) move with coefficient alpha


def test_noise_and_gaussian_update_draws_sigma_with_theta_integrated_out(rng):
    X, r, design = _problem(rng, n=11)
    v, a0, b0, dof = np.array([0.3, 1.7, 0.8]), 1.5, 0.6, 10
    S = np.diag(v)
    quad = r @ np.linalg.solve(np.eye(11) + X @ S @ X.T, r)
    sigma, theta, cond = noise_gaussian_update(design, None, np.ones(CHAINS), np.tile(v, (CHAINS, 1)),
                                               (a0, b0, dof), 0.0, rng, gaussian_draw.Workspace())
    exact = stats.invgamma(a0 + dof / 2, scale=b0 + quad / 2)
    assert stats.kstest(sigma**2, exact.cdf).pvalue > 1e-4
    # theta | sigma: N(m, sigma^2 (X^T X + V^-1)^-1), standardised by the drawn sigma
    cov1 = np.linalg.inv(X.T @ X + np.diag(1 / v))
    m = cov1 @ X.T @ r
    np.testing.assert_allclose(cond[0], m, rtol=1e-10)
    assert _moment_z((theta - m) / sigma[:, None], np.zeros(3), cov1) < 4.5


@pytest.mark.parametrize("k", [1.0, 0.37])
def test_laplace_update_draws_tau_and_the_mixing_variables_exactly(rng, k):
    p = 4
    theta = np.tile([0.31, -1.2, 0.05, 2.4], (CHAINS, 1))
    prior = LaplacePrior(None, (1.7, 0.9))
    ks = np.full(CHAINS, k)
    new = prior.update(LaplaceState(np.ones(CHAINS), np.ones((CHAINS, p))), theta, ks, rng)
    rate = 0.9 + np.sum(np.abs(theta[0])) / k  # 1 / tau | theta ~ Gamma(a + p, rate)
    assert stats.kstest(1 / new.scale, stats.gamma(1.7 + p, scale=1 / rate).cdf).pvalue > 1e-4
    # 1 / s_j | theta_j, tau ~ InverseGaussian(mean k / (tau |theta_j|), shape 1 / tau^2), given each drawn tau
    fixed = LaplacePrior(0.64)
    got = fixed.update(LaplaceState(np.full(CHAINS, 0.64), np.ones((CHAINS, p))), theta, ks, rng)
    for j in range(p):
        mean, shape = k / (0.64 * abs(theta[0, j])), 1 / 0.64**2
        law = stats.invgauss(mean / shape, scale=shape)
        assert stats.kstest(1 / got.mix[:, j], law.cdf).pvalue > 1e-4
    np.testing.assert_array_equal(got.scale, 0.64)  # tau given stays


def test_one_sweep_leaves_the_exact_orthonormal_posterior_invariant(rng):
    """From draws of the exact posterior (an orthonormal design, sigma and tau given: a closed form), one sweep of
    the kernel gives draws of the same posterior."""
    from bmnn.laplace.posterior import orthonormal_posterior

    n, p, sigma, tau = 12, 2, 0.7, 0.45
    X = np.linalg.qr(rng.normal(size=(n, p)))[0]
    y = X @ [0.9, -0.1] + sigma * rng.normal(size=n)
    data = Data.from_arrays(X, y, 0.0, Noise(sigma))
    post = orthonormal_posterior(X, y, sigma, tau)

    def exact(size):  # each coordinate: the upper piece (a Normal truncated below mu) or the lower one
        up = stats.truncnorm.rvs(-post.mean_upper / sigma, np.inf, post.mean_upper, sigma, size=(size, p),
                                 random_state=rng)
        lo = stats.truncnorm.rvs(-np.inf, -post.mean_lower / sigma, post.mean_lower, sigma, size=(size, p),
                                 random_state=rng)
        return np.where(rng.random((size, p)) < post.weight_upper, up, lo)

    start = exact(CHAINS)
    kernel = Kernel(data.design, LaplacePrior(tau), None, -0.5)
    prior = LaplacePrior(tau).update(LaplaceState(np.full(CHAINS, tau), np.ones((CHAINS, p))), start,
                                     np.ones(CHAINS), rng)
    state = kernel.step(ChainState(start, np.full(CHAINS, sigma), prior), rng, gaussian_draw.Workspace())
    for j in range(p):
        assert stats.ks_2samp(state.theta[:, j], exact(CHAINS)[:, j]).pvalue > 1e-4


def test_no_function_of_the_sampler_takes_more_than_eight_parameters():
    import bmnn.laplace.estimator as est
    import bmnn.laplace.gibbs as g
    import bmnn.laplace.kernel as k
    import bmnn.laplace.priors.laplace as pl

    for module in (g, k, pl, est):
        for obj in vars(module).values():
            funcs = [obj] if inspect.isfunction(obj) else [
                f for f in vars(obj).values() if inspect.isfunction(f)] if inspect.isclass(obj) else []
            for f in funcs:
                if f.__module__ != module.__name__ or f.__name__ == "__init__":
                    continue
                params = [q for q in inspect.signature(f).parameters.values()
                          if q.kind not in (q.VAR_KEYWORD, q.VAR_POSITIONAL) and q.name != "self"]
                assert len(params) <= 9, f"{module.__name__}.{f.__qualname__} takes {len(params)}"


def test_gibbs_and_the_driver_agree_and_unknown_options_are_refused(rng):
    X, y = rng.normal(size=(15, 4)), rng.normal(size=15)
    a = gibbs(X, y, 0.6, 0.8, draws=20, warmup=10, chains=3, seed=4)
    noise = Noise(0.6)
    b = run(Data.from_arrays(X, y, 0.0, noise), LaplacePrior(0.8), noise,
            SamplerSettings(draws=20, warmup=10, chains=3), 4)
    np.testing.assert_array_equal(a.draws, b.draws)
    with pytest.raises(TypeError, match="unexpected option.*drwas"):
        gibbs(X, y, 0.6, 0.8, drwas=20)


@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if s.kind in ("int", "float")])
def test_each_sampler_setting_is_refused_one_step_outside_its_range(name, rng):
    row = SETTINGS[name]
    kind = int if row.kind == "int" else float
    step = 1 if kind is int else 1e-9
    outside = [kind(row.low) if row.low_open else kind(row.low) - step]
    if row.high is not None:
        outside.append(kind(row.high) if row.high_open else kind(row.high) + step)
    inside = kind(row.low) + (step if row.low_open else 0)
    for value in outside:
        with pytest.raises(InputError, match=f"^{name} must be in "):
            SamplerSettings(**{name: value}) if name in SamplerSettings.names() else None
            from bmnn.laplace import LaplaceRegression

            LaplaceRegression(**{name: value}).fit(rng.normal(size=(6, 2)), rng.normal(size=6))
    if name in SamplerSettings.names():
        assert getattr(SamplerSettings(**{name: inside}), name) == inside


def test_the_command_line_takes_the_sampler_settings_from_the_table(capsys):
    lasso = build_parser()._subparsers._group_actions[0].choices["lasso"]
    actions = {a.dest: a for a in lasso._actions}
    for name in SamplerSettings.names():
        assert actions[name].default == DEFAULTS[name], name
        assert SETTINGS[name].meaning.split(" (")[0] in actions[name].help, name
    assert actions["algorithm"].choices == SETTINGS["algorithm"].choices
    assert main(["lasso", "--dataset", "diabetes", "--overrelax", "-1"]) == 2
    assert "--overrelax: expected a number in (-1, 0], got '-1'" in capsys.readouterr().err
    assert main(["lasso", "--dataset", "diabetes", "--draws", "0"]) == 2  # the command line needs a draw
    assert "--draws: expected a whole number in [1, inf), got '0'" in capsys.readouterr().err


def test_a_prior_variance_of_zero_or_below_the_floor_gives_finite_draws_at_the_location(rng):
    """A mixing variable can underflow (a horseshoe lambda_j^2 tau^2 sigma^2 below float64's range, a Laplace s_j
    of 0): the Gaussian block floors each prior variance at 1 / U_MAX, so the coefficient is drawn within about
    1e-150 of its location instead of as NaN."""
    for algorithm in ("precision", "bcm"):
        _, _, design = _problem(rng, algorithm=algorithm)
        var = np.array([[0.0, 1.3, 1e-320], [0.7, 0.0, 2.0]])
        work = gaussian_draw.Workspace()
        given = gaussian_update(design, None, var, np.array([0.9, 1.1]), 0.0, rng, work)
        learned = noise_gaussian_update(design, None, np.ones(2), var, (0.0, 0.0, 9), 0.0, rng, work)[1:]
        for theta, cond in (given, learned):
            assert np.all(np.isfinite(theta)) and np.all(np.isfinite(cond))
            assert abs(theta[0, 0]) < 1e-140 and abs(theta[1, 1]) < 1e-140 and abs(theta[0, 2]) < 1e-140
