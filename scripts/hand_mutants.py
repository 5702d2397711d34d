"""Hand-applied mutants, each applied to the source, the tests that cover it run, and the source restored. Every
mutant must be killed (docs/mutation.md has the last run). Two sets: ``files`` (the default: the exact sums, the
two-part moments, the streamed reader, the temporary-file cleaner and the intercept; about ten minutes) and
``sampler`` (job 2's kernel, driver, priors and settings; ``.venv/bin/python scripts/hand_mutants.py sampler``), and
``signals`` (how a signal ends a command, the digits of Monte Carlo values and their errors;
``.venv/bin/python scripts/hand_mutants.py signals``)."""

import pathlib
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parents[1]
MUTANTS_ALL = [
    ("src/bmnn/gaussian.py", "total += ((h << 26) + lo) << k", "total += ((h << 25) + lo) << k"),
    ("src/bmnn/gaussian.py", "shift = expo.astype(np.int64) + 1074", "shift = expo.astype(np.int64) + 1073"),
    (
        "src/bmnn/gaussian.py",
        "low = np.add.reduceat(whole & ((1 << 26) - 1), starts)",
        "low = np.add.reduceat(whole & ((1 << 25) - 1), starts)",
    ),
    ("src/bmnn/gaussian.py", "whole = (mant * 2.0**53).astype(np.int64)", "whole = (mant * 2.0**52).astype(np.int64)"),
    ("src/bmnn/gaussian.py", "return math.inf if total > 0 else -math.inf", "return math.inf"),
    (
        "src/bmnn/gaussian.py",
        "mean = np.where(none, m0 + 0.0 * total, (ra * (ra * total) + rb * (rb * m0)) / c)",
        "mean = np.where(none, m0 + 0.0 * total, ((ra * ra) * total + (rb * rb) * m0) / c)",
    ),
    (
        "src/bmnn/gaussian.py",
        "by_mean = (ra * (ra * self.mean_) + rb * (rb * (m0 / nf))) / (c / nf)",
        "by_mean = (ra * (ra * self.mean_) + rb * (rb * m0)) / (c / nf)",
    ),
    (
        "src/bmnn/gaussian.py",
        "            n, exact = self.n_ + n, self._exact + exact",
        "            n, exact = self.n_ + n, exact",
    ),
    (
        "src/bmnn/gaussian.py",
        'return self.frozen().sf(as_real_array("x", x))',
        'return 1 - self.frozen().cdf(as_real_array("x", x))',
    ),
    (
        "src/bmnn/gaussian.py",
        'return self.frozen().logcdf(as_real_array("x", x))',
        'return np.log(self.frozen().cdf(as_real_array("x", x)))',
    ),
    ("src/bmnn/datasets.py", "delta = (m2 - m1) + (l2 - l1)", "delta = m2 - m1"),
    (
        "src/bmnn/datasets.py",
        "        lo = d.mean(axis=0)\n        d -= lo",
        "        lo = 0.0 * d.mean(axis=0)\n        d -= lo",
    ),
    ("src/bmnn/datasets.py", "exp = np.maximum(self.exp, other.exp)", "exp = np.minimum(self.exp, other.exp)"),
    ("src/bmnn/datasets.py", 'buf = "\\r" if held_cr else ""', 'buf = ""'),
    (
        "src/bmnn/_files.py",
        'return started != 0 and int(m["start"]) != 0 and started != int(m["start"])',
        'return started != int(m["start"])',
    ),
    (
        "src/bmnn/_files.py",
        '    if m["host"] != _host_tag():\n        return False',
        "    if False:\n        return False",
    ),
    (
        "src/bmnn/laplace/gibbs.py",
        "rng.gamma(a_s + 0.5 * (n - lost_dof), size=chains)",
        "rng.gamma(a_s + 0.5 * n, size=chains)",
    ),
    (
        "src/bmnn/laplace/estimator.py",
        "self.intercept_draws_ = self.y_mean_ - g.draws @ self.x_mean_ + sig * z / np.sqrt(n)",
        "self.intercept_draws_ = self.y_mean_ - g.draws @ self.x_mean_ + sig * z / np.sqrt(n - 1)",
    ),
]
SAMPLER = [
    ("src/bmnn/laplace/kernel.py", "np.maximum(var, 1.0 / U_MAX), sigma, rng, work)", "var, sigma, rng, work)"),
    ("src/bmnn/laplace/kernel.py", "return cond_mean + alpha * (theta - cond_mean) + keep * (fresh - cond_mean), cond_mean",
     "return cond_mean + alpha * (theta - cond_mean) + (fresh - cond_mean), cond_mean"),
    ("src/bmnn/laplace/kernel.py", "new_sigma = np.sqrt((b_s + 0.5 * quad) / rng.gamma(a_s + 0.5 * dof, size=chains))",
     "new_sigma = np.sqrt((b_s + 0.5 * quad) / rng.gamma(a_s + 0.5 * dof + 0.5, size=chains))"),
    ("src/bmnn/laplace/kernel.py", "step = alpha * (theta - cond_mean) / sigma[:, None] + np.sqrt(1.0 - alpha * alpha) * step",
     "step = alpha * (theta - cond_mean) + np.sqrt(1.0 - alpha * alpha) * step"),
    ("src/bmnn/laplace/kernel.py", "return new_sigma, cond_mean + new_sigma[:, None] * step, cond_mean",
     "return new_sigma, cond_mean + sigma[:, None] * step, cond_mean"),
    ("src/bmnn/laplace/kernel.py", "theta, cond_mean = gaussian_update(self.design, state.theta, k[:, None] ** 2 * v, sigma,",
     "theta, cond_mean = gaussian_update(self.design, state.theta, k[:, None] * v, sigma,"),
    ("src/bmnn/laplace/kernel.py", "s = np.full(chains, sigma if sigma is not None else max(np.sqrt(d.rtr / d.n), 1e-300))",
     "s = np.full(chains, sigma if sigma is not None else 1.0)"),
    ("src/bmnn/laplace/priors/laplace.py", "tau = 1.0 / rng.gamma(a + theta.shape[1], 1.0 / (b + np.sum(np.abs(theta), axis=1) / k))",
     "tau = 1.0 / rng.gamma(a + theta.shape[1], 1.0 / (b + np.sum(np.abs(theta), axis=1)))"),
    ("src/bmnn/laplace/priors/laplace.py", "ig = inverse_gaussian(tau[:, None] * np.abs(theta) / k[:, None], 1.0 / tau[:, None] ** 2, rng)",
     "ig = inverse_gaussian(tau[:, None] * np.abs(theta), 1.0 / tau[:, None] ** 2, rng)"),
    ("src/bmnn/laplace/priors/laplace.py", "return coordinate_steps(theta, cc.cols, cc.gcols, cc.gdiag, cc.xtr, sigma * sigma, state.scale * k, rng,",
     "return coordinate_steps(theta, cc.cols, cc.gcols, cc.gdiag, cc.xtr, sigma * sigma, state.scale, rng,"),
    ("src/bmnn/laplace/priors/horseshoe.py", "lam2 = inverse_gamma(1.0, 1.0 / state.nu + z2 / (2.0 * tau2[:, None]), rng)",
     "lam2 = inverse_gamma(1.0, 1.0 / state.nu + z2 / tau2[:, None], rng)"),
    ("src/bmnn/laplace/priors/horseshoe.py", "return replace(state, lam2=lam2, nu=inverse_gamma(1.0, 1.0 + 1.0 / lam2, rng))",
     "return replace(state, lam2=lam2, nu=inverse_gamma(1.0, 1.0 / lam2, rng))"),
    ("src/bmnn/laplace/priors/horseshoe.py", "return -0.5 * logdet + fit - np.log1p(np.exp(2.0 * x)) + x",
     "return -0.5 * logdet + fit - np.log1p(np.exp(2.0 * x))"),
    ("src/bmnn/laplace/priors/horseshoe.py", "fit = -(a0 + 0.5 * dof) * np.log(b0 + 0.5 * quad)",
     "fit = -(a0 + 0.5 * dof + 1.0) * np.log(b0 + 0.5 * quad)"),
    ("src/bmnn/laplace/priors/horseshoe.py", "fit = -quad / (2.0 * sigma * sigma)", "fit = -quad / (2.0 * sigma)"),
    ("src/bmnn/laplace/priors/horseshoe.py", "return state.lam2 * (state.scale * state.scale)[:, None]",
     "return state.lam2 * state.scale[:, None]"),
    ("src/bmnn/laplace/priors/horseshoe.py", "level = log_density(x0) - rng.exponential(size=x0.shape)",
     "level = log_density(x0) - 0.5 * rng.exponential(size=x0.shape)"),
    ("src/bmnn/laplace/priors/horseshoe.py", "hi = np.where(active & (x1 >= x0), x1, hi)", "hi = hi"),
    ("src/bmnn/laplace/priors/gaussian.py", "s2 = inverse_gamma(a + 0.5 * state.p, b + 0.5 * np.sum((theta / k[:, None]) ** 2, axis=1), rng)",
     "s2 = inverse_gamma(a + state.p, b + 0.5 * np.sum((theta / k[:, None]) ** 2, axis=1), rng)"),
    ("src/bmnn/laplace/priors/gaussian.py", "quad = max(rtr - float(m @ xtr), 0.0)", "quad = rtr"),
    ("src/bmnn/laplace/priors/gaussian.py", "var *= b / (a - 1.0) if a > 1.0 else np.inf", "var *= b / a if a > 1.0 else np.inf"),
    ("src/bmnn/laplace/priors/gaussian.py", "return self.mean + sigma[..., None] * z, sigma", "return self.mean + z, sigma"),
    ("src/bmnn/laplace/gaussian_draw.py", "return np.where(big, kappa, 0.0), u, np.maximum(self.rtr - np.sum(u, axis=1), 0.0)",
     "return np.where(big, kappa, 0.0), u, np.zeros(chains)"),
    ("src/bmnn/laplace/gibbs.py", "noise_terms = (a_s, float(np.ldexp(noise.rate, 2 * data.exponent)), n - data.lost_dof)",
     "noise_terms = (a_s, float(np.ldexp(noise.rate, 2 * data.exponent)), n)"),
    ("src/bmnn/laplace/gibbs.py", "window = min(warmup - warmup // 2, 100) if steps and warmup >= STEP_MIN_WARMUP else 0",
     "window = 0"),
    ("src/bmnn/laplace/gibbs.py", "out[:, j] = state.theta if data.exponent else state.theta + data.location",
     "out[:, j] = state.theta + data.location"),
    ("src/bmnn/laplace/gibbs.py", "rb = np.ldexp(rb, -e)", "rb = rb"),
    ("src/bmnn/laplace/settings.py", '"overrelax": Setting("float", -0.5,', '"overrelax": Setting("float", -0.6,'),
    ("src/bmnn/laplace/settings.py", 'low=-1.0, high=0.0, low_open=True)', 'low=-1.0, high=0.0)'),
    ("src/bmnn/laplace/shrinkage.py", "self.alpha_ = (sd / s) ** 2 if sd is not None else 1.0 / s**2",
     "self.alpha_ = (sd / s) ** 2 if sd is not None else 1.0 / s"),
    ("src/bmnn/laplace/shrinkage.py", "dof = source.n - int(bool(self.fit_intercept))", "dof = source.n"),
    ("src/bmnn/laplace/estimator.py", "self.intercept_draws_ = self.y_mean_ - g.draws @ self.x_mean_ + sig * z / np.sqrt(self.n_samples_)",
     "self.intercept_draws_ = self.y_mean_ - g.draws @ self.x_mean_ + sig * z"),
]
SAMPLER_TESTS = ["tests/test_laplace_kernel.py", "tests/test_priors.py", "tests/test_laplace_scale.py",
                 "tests/test_laplace.py", "tests/test_laplace_extremes.py", "tests/test_laplace_coordinate_steps.py"]
SIGNALS = [
    ("src/bmnn/_entry.py", "    if _CAUGHT is None:\n        _CAUGHT = signum", "    if True:\n        _CAUGHT = signum"),
    ("src/bmnn/_entry.py", "        if _SAID:\n            os._exit(_ENDING)", "        if False:\n            os._exit(_ENDING)"),
    ("src/bmnn/_entry.py", "        if not _SAID:  # main() has not said it", "        if True:  # main() has not said it"),
    ("src/bmnn/_entry.py", "    with _held():\n        _SAID = True", "    if True:\n        _SAID = True"),
    ("src/bmnn/_entry.py", "            if signal.getsignal(sig) is not signal.SIG_IGN:", "            if True:"),
    ("src/bmnn/_entry.py", "        _ENDING = code if _CAUGHT is None else 128 + _CAUGHT", "        _ENDING = None"),
    ("src/bmnn/_entry.py", "        stop = _CAUGHT or signal.SIGINT", "        stop = _CAUGHT"),
    ("src/bmnn/_entry.py", "        signal.signal(sig, signal.SIG_IGN)", "        pass"),
    ("src/bmnn/cli.py", "            if not (os.environ.get(var) or home_exists):", "            if False:"),
    ("src/bmnn/cluster.py", "    with stderr_elsewhere():\n        yield", "    yield"),
    ("src/bmnn/_entry.py", "    except BaseException:\n        if _CAUGHT is None:\n            raise",
     "    except BaseException:\n        if True:\n            raise"),
    ("src/bmnn/cli.py", "        if _caught() is not None:  # a signal whose exception a library swallowed while bmnn started",
     "        if False:"),
    ("src/bmnn/cli.py", "    signum = _caught()\n", "    signum = None\n"),
    ("src/bmnn/_numbers.py", 'return "≈ " + sig(value, 2)', "return exact(value)"),
    ("src/bmnn/_numbers.py", "    if not math.isfinite(value) or se == 0:", "    if not math.isfinite(value):"),
    ("src/bmnn/laplace/diagnostics.py", "series = np.asarray(draws, dtype=np.float64) @ np.asarray(gradient, dtype=np.float64)",
     "series = np.asarray(draws, dtype=np.float64) @ np.abs(np.asarray(gradient, dtype=np.float64))"),
    ("src/bmnn/experiments/laplace.py", 'return {"mse": lambda m: (1.0 + float(np.sum((m - w) ** 2)), 2.0 * (m - w)),',
     'return {"mse": lambda m: (1.0 + float(np.sum((m - w) ** 2)), m - w),'),
    ("src/bmnn/experiments/laplace.py", "np.r_[np.zeros(k), np.sign(m[k:]) / (p - k)]", "np.r_[np.zeros(k), np.sign(m[k:]) / p]"),
    ("src/bmnn/experiments/gaussian.py", "Sampled(hit[\"plugin_mle\"], _binomial_se(theory_mle, reps))",
     "Sampled(hit[\"plugin_mle\"], se)"),
    ("src/bmnn/experiments/gaussian.py", "return float(np.sqrt(rate * (1 - rate) / reps))",
     "return float(np.sqrt(rate * (1 - rate) / (reps - 1)))"),
    ("src/bmnn/report/__init__.py", 'return ends if value.mean is None else f"{_supported(float(value.mean.value), float(value.mean.se))} {ends}"',
     'return ends if value.mean is None else f"{_fmt(float(value.mean.value))} {ends}"'),
]
SIGNALS_TESTS = ["tests/test_user_world.py", "tests/test_report.py", "tests/test_diagnostics.py",
                 "tests/test_experiments_gaussian.py", "tests/test_priors.py"]
MUTANTS = MUTANTS_ALL
TESTS = [
    "tests/test_gaussian.py",
    "tests/test_ecosystem.py",
    "tests/test_user_world.py",
    "tests/test_big_data.py",
    "tests/test_runs.py",
]
SELECT = ("(negative_sum or merged_moments or very_different or sums or sum or exact or extreme or job_1 or intercept "
          "or streaming or chan or glob or part or parts or standardis or stale or temp or lock or linked or cleaning "
          "or replaces or leaves or refit or map_only) and not signal and not wheel and not memory_limit")
if sys.argv[1:] == ["sampler"]:
    MUTANTS, TESTS, SELECT = SAMPLER, SAMPLER_TESTS, "not hypothesis_extremes"
if sys.argv[1:] == ["signals"]:
    MUTANTS, TESTS = SIGNALS, SIGNALS_TESTS
    SELECT = ("signal or ctrl_c or stopped or swallowed or supported or interval or monte_carlo or linear or spread "
              "or gradients or calibration or priors_record or limit_record or home or deleted or terminal or "
              "not_a_dask")
killed = 0
for path, old, new in MUTANTS:
    p = root / path
    src = p.read_text()
    assert src.count(old) == 1, (path, old)
    p.write_text(src.replace(old, new))
    try:
        r = subprocess.run(
            [
                str(root / ".venv/bin/python"),
                "-m",
                "pytest",
                "-q",
                "-x",
                "-p",
                "no:cacheprovider",
                "-m",
                "not slow and not browser",
                "-k",
                SELECT,
                *TESTS,
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=900,
        )
        dead = r.returncode != 0
    finally:
        p.write_text(src)
    killed += dead
    print(("killed  " if dead else "SURVIVED"), path, new[:70], flush=True)
print(f"{killed} of {len(MUTANTS)} killed")
