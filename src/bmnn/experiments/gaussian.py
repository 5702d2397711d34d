"""Job 1's sub-questions (1.1 to 1.4, and predictive calibration), each answered by a record with checks.

Every closed form of :mod:`bmnn.gaussian` is checked against something independent: a symbolic derivation
(SymPy), numerical quadrature or optimisation (SciPy), or simulation with a stated Monte-Carlo tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy import integrate, optimize, stats

from bmnn import gaussian as g
from bmnn._checks import as_generator
from bmnn.experiments.records import (
    CalibrationData,
    GaussianPosteriorData,
    Job1Explore,
    PredictivesData,
    RatioData,
    Record,
    Sampled,
    VariancesData,
    close,
    holds,
    within_se,
)


@dataclass(frozen=True)
class GaussianConfig:
    """The example every job-1 record uses."""

    noise_sd: float = 1.0  # sigma, known noise sd
    prior_sd: float = 1.5  # tau, prior sd of mu
    prior_mean: float = 0.0  # m0 (the material's prior is centred at 0)
    mu_true: float = 0.8  # the mean that generates the example data
    n: int = 8  # size of the example data set
    seed: int = 20261126  # seeds every draw of this job
    abc_draws: int = 2_000_000  # prior draws for the Monte-Carlo check of 1.1
    coverage_reps: int = 40_000  # replicates per n for the calibration study


QUICK = GaussianConfig(abc_draws=400_000, coverage_reps=8_000)


def example_data(cfg: GaussianConfig) -> np.ndarray:
    """The example data set: ``n`` draws from ``N(mu_true, sigma^2)``."""
    return as_generator(cfg.seed).normal(cfg.mu_true, cfg.noise_sd, size=cfg.n)


def _symbolic():
    mu, m0, S, Q = sp.symbols("mu m0 S Q", real=True)
    n, s, t = sp.symbols("n sigma tau", positive=True)
    # log likelihood x prior, with sum (x_i - mu)^2 = Q - 2 mu S + n mu^2 (Q = sum x^2, S = sum x)
    logp = -(Q - 2 * mu * S + n * mu**2) / (2 * s**2) - (mu - m0) ** 2 / (2 * t**2)
    poly = sp.Poly(sp.expand(logp), mu)
    a, b = poly.coeff_monomial(mu**2), poly.coeff_monomial(mu)
    precision, mean = sp.simplify(-2 * a), sp.simplify(-b / (2 * a))
    return dict(mu=mu, m0=m0, S=S, n=n, s=s, t=t, logp=logp, precision=precision, mean=mean)


def q1_1_posterior(cfg: GaussianConfig = GaussianConfig()) -> Record:
    """1.1: the posterior of mu, checked symbolically, by quadrature and by Monte Carlo."""
    x = example_data(cfg)
    st = g.sufficient_stats(x)
    post = g.posterior(st.n, st.total, cfg.noise_sd, cfg.prior_sd, cfg.prior_mean)
    checks = []

    sym = _symbolic()
    n, s, t, S, m0, mu = (sym[k] for k in ("n", "s", "t", "S", "m0", "mu"))
    v_formula = 1 / (n / s**2 + 1 / t**2)
    m_formula = v_formula * (S / s**2 + m0 / t**2)
    checks.append(holds("SymPy: completed square gives precision n/sigma^2 + 1/tau^2",
                        sp.simplify(sym["precision"] - 1 / v_formula) == 0, tolerance="symbolic"))
    checks.append(holds("SymPy: completed square gives mean v_n (sum x/sigma^2 + m0/tau^2)",
                        sp.simplify(sym["mean"] - m_formula) == 0, tolerance="symbolic"))
    rest = sp.simplify(sp.diff(sym["logp"] + (mu - m_formula) ** 2 / (2 * v_formula), mu))
    checks.append(holds("SymPy: log posterior + (mu - m_n)^2/(2 v_n) is free of mu", rest == 0,
                        tolerance="symbolic"))

    # quadrature: normalise likelihood x prior numerically (log-shifted at the mode, so no underflow)
    def log_unnorm(m):
        return stats.norm.logpdf(x, m, cfg.noise_sd).sum() + stats.norm.logpdf(m, cfg.prior_mean, cfg.prior_sd)

    mode = float(post.mean())
    lo, hi = mode - 40 * float(post.std()), mode + 40 * float(post.std())
    shift = log_unnorm(mode)

    def moment(k):
        return integrate.quad(lambda m: m**k * np.exp(log_unnorm(m) - shift), lo, hi, points=[mode],
                              epsabs=0, epsrel=1e-12, limit=200)[0]

    z0, z1, z2 = moment(0), moment(1), moment(2)
    q_mean, q_var = z1 / z0, z2 / z0 - (z1 / z0) ** 2
    checks += [close("quadrature mean = m_n", q_mean, post.mean(), rtol=1e-9, atol=1e-12),
               close("quadrature variance = v_n", q_var, post.var(), rtol=1e-7)]

    # Monte Carlo: mu from the prior, data given mu, keep the mu whose data mean lands near ours (ABC)
    rng = as_generator(cfg.seed + 1)
    mus = rng.normal(cfg.prior_mean, cfg.prior_sd, size=cfg.abc_draws)
    xbar = rng.normal(mus, cfg.noise_sd / np.sqrt(cfg.n))  # the mean of n draws given mu, drawn exactly
    half_width = 0.01
    kept = mus[np.abs(xbar - st.total / cfg.n) < half_width]
    k = kept.size
    mc_mean, mc_var = kept.mean(), kept.var(ddof=1)
    # the standard errors under the exact posterior (the values shown and the checks use the same)
    se_mean, se_var = float(np.sqrt(post.var() / k)), float(post.var() * np.sqrt(2 / (k - 1)))
    checks += [within_se("Monte Carlo (ABC) mean of mu | D", mc_mean, post.mean(), se_mean),
               within_se("Monte Carlo (ABC) variance of mu | D", mc_var, post.var(), se_var)]
    grid = np.linspace(mode - 5 * float(post.std()), mode + 5 * float(post.std()), 400)
    return Record(
        id="1.1",
        title="The posterior of mu",
        statement="Derive the distribution of mu given the data D = {x_1, ..., x_n}.",
        answer=("Likelihood times prior is the exponential of a quadratic in mu; completing the square gives a "
                "Normal whose precision is the sum of the data precision n/sigma^2 and the prior precision "
                "1/tau^2, and whose mean is the precision-weighted average of the data and the prior mean."),
        formulas=[r"\mu \mid D \sim \mathcal{N}(m_n, v_n),\quad v_n = \left(\frac{n}{\sigma^2}+\frac{1}{\tau^2}"
                  r"\right)^{-1},\quad m_n = v_n\left(\frac{\sum_i x_i}{\sigma^2}+\frac{m_0}{\tau^2}\right)",
                  r"m_0 = 0:\quad m_n = \frac{\sum_i x_i}{n + \sigma^2/\tau^2}"],
        values={"sigma": cfg.noise_sd, "tau": cfg.prior_sd, "m0": cfg.prior_mean, "n": cfg.n,
                "sum x": float(st.total), "m_n": float(post.mean()), "v_n": float(post.var()),
                "quadrature mean": q_mean, "quadrature variance": q_var,
                "ABC draws kept": int(k), "ABC mean": Sampled(float(mc_mean), se_mean),
                "ABC variance": Sampled(float(mc_var), se_var)},
        checks=checks,
        data=GaussianPosteriorData(
            grid=grid, posterior=post.pdf(grid), prior=stats.norm.pdf(grid, cfg.prior_mean, cfg.prior_sd),
            likelihood=np.exp([log_unnorm(m) - stats.norm.logpdf(m, cfg.prior_mean, cfg.prior_sd) for m in grid]),
            abc=kept, mle=float(st.total / cfg.n)),
    )


def q1_2ab_estimates(cfg: GaussianConfig = GaussianConfig()) -> list[Record]:
    """1.2(a) and (b): MLE and MAP, each against numerical maximisation."""
    x = example_data(cfg)
    st = g.sufficient_stats(x)
    ml = float(g.mle(st.n, st.total))
    mp = float(g.map_estimate(st.n, st.total, cfg.noise_sd, cfg.prior_sd, cfg.prior_mean))

    def nll(m):
        return -stats.norm.logpdf(x, m, cfg.noise_sd).sum()

    def nlp(m):
        return nll(m) - stats.norm.logpdf(m, cfg.prior_mean, cfg.prior_sd)

    opts = {"xtol": 1e-12}
    num_ml = optimize.minimize_scalar(nll, bracket=(-10, 10), method="brent", options=opts).x
    num_mp = optimize.minimize_scalar(nlp, bracket=(-10, 10), method="brent", options=opts).x
    a = Record(
        id="1.2(a)", title="The maximum-likelihood estimate",
        statement="Replace the posterior by a point estimate: derive mu_MLE.",
        answer="Setting the derivative of the log likelihood to zero gives the sample mean.",
        formulas=[r"\frac{\partial}{\partial\mu}\sum_i \log\mathcal{N}(x_i;\mu,\sigma^2) = "
                  r"\frac{1}{\sigma^2}\sum_i (x_i-\mu) = 0 \;\Rightarrow\; \mu_{\mathrm{MLE}} = \bar x = "
                  r"\frac{1}{n}\sum_i x_i"],
        values={"mu_MLE (closed form)": ml, "mu_MLE (numerical argmax)": float(num_ml)},
        checks=[close("closed form = numerical argmax of the likelihood", ml, num_ml, atol=1e-7)],
    )
    b = Record(
        id="1.2(b)", title="The MAP estimate",
        statement="Derive mu_MAP.",
        answer=("The log posterior is the log likelihood plus the log prior; its derivative vanishes at the "
                "posterior mean, since a Normal's mode is its mean."),
        formulas=[r"\frac{1}{\sigma^2}\sum_i (x_i-\mu) - \frac{\mu - m_0}{\tau^2} = 0 \;\Rightarrow\; "
                  r"\mu_{\mathrm{MAP}} = \frac{\sum_i x_i + m_0\,\sigma^2/\tau^2}{n + \sigma^2/\tau^2}"],
        values={"mu_MAP (closed form)": mp, "mu_MAP (numerical argmax)": float(num_mp)},
        checks=[close("closed form = numerical argmax of the posterior", mp, num_mp, atol=1e-7)],
    )
    return [a, b]


def q1_2c_map_is_predictive_mean(cfg: GaussianConfig = GaussianConfig()) -> Record:
    """1.2(c): mu_MAP equals the mean of the full posterior predictive."""
    x = example_data(cfg)
    st = g.sufficient_stats(x)
    sym = _symbolic()
    n, s, t, S = sym["n"], sym["s"], sym["t"], sym["S"]
    given_mean = S / (n + s**2 / t**2)  # the material's predictive mean (m0 = 0)
    map_sym = sym["mean"].subs(sym["m0"], 0)
    mp = float(g.map_estimate(st.n, st.total, cfg.noise_sd, cfg.prior_sd))
    pm = float(g.posterior_predictive(st.n, st.total, cfg.noise_sd, cfg.prior_sd).mean())
    # an independent numerical mean of x | D: integrate x against the predictive built by quadrature over mu
    post = g.posterior(st.n, st.total, cfg.noise_sd, cfg.prior_sd)
    mean_x = integrate.quad(lambda m: m * post.pdf(m), -np.inf, np.inf, epsrel=1e-12)[0]
    return Record(
        id="1.2(c)", title="MAP and the predictive mean",
        statement="Relate mu_MAP to the mean of x | D.",
        answer=("They are equal: E[x | D] = E[E[x | mu] | D] = E[mu | D] = m_n, and for a Normal posterior the "
                "mean is the mode."),
        formulas=[r"\mathbb{E}[x\mid D] = \mathbb{E}[\mu\mid D] = \frac{\sum_i x_i}{n+\sigma^2/\tau^2} = "
                  r"\mu_{\mathrm{MAP}}"],
        values={"mu_MAP": mp, "E[x | D] (closed form)": pm, "E[x | D] (quadrature)": mean_x},
        checks=[holds("SymPy: mu_MAP = sum x / (n + sigma^2/tau^2)", sp.simplify(map_sym - given_mean) == 0,
                      tolerance="symbolic"),
                close("numerical: mu_MAP = E[x | D]", mp, pm, rtol=1e-15, atol=1e-15),
                close("quadrature E[x | D] = mu_MAP", mean_x, mp, rtol=1e-9, atol=1e-12)],
    )


def q1_2d_plugins(cfg: GaussianConfig = GaussianConfig()) -> Record:
    """1.2(d): the plug-in predictives, and the full predictive they approximate (checked by quadrature)."""
    x = example_data(cfg)
    st = g.sufficient_stats(x)
    ml = g.mle(st.n, st.total)
    mp = g.map_estimate(st.n, st.total, cfg.noise_sd, cfg.prior_sd, cfg.prior_mean)
    p_ml, p_mp = g.plugin_predictive(ml, cfg.noise_sd), g.plugin_predictive(mp, cfg.noise_sd)
    full = g.posterior_predictive(st.n, st.total, cfg.noise_sd, cfg.prior_sd, cfg.prior_mean)
    post = g.posterior(st.n, st.total, cfg.noise_sd, cfg.prior_sd, cfg.prior_mean)
    pts = float(full.mean()) + float(full.std()) * np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    worst = 0.0
    for xv in pts:  # p(x | D) = integral of N(x; mu, sigma^2) N(mu; m_n, v_n) d mu
        val = integrate.quad(lambda m, xv=xv: stats.norm.pdf(xv, m, cfg.noise_sd) * post.pdf(m),
                             -np.inf, np.inf, epsrel=1e-12)[0]
        worst = max(worst, abs(val / float(full.pdf(xv)) - 1))
    grid = np.linspace(float(full.mean()) - 4 * float(full.std()), float(full.mean()) + 4 * float(full.std()), 300)
    return Record(
        id="1.2(d)", title="Plug-in predictives",
        statement="For fixed mu*, the distribution of x | mu*; hence x | mu_MLE and x | mu_MAP.",
        answer=("With mu fixed the only randomness is the noise, so x | mu* ~ N(mu*, sigma^2). The plug-ins keep "
                "sigma^2 and drop the posterior uncertainty v_n that the full predictive adds."),
        formulas=[r"x\mid\mu^* \sim \mathcal{N}(\mu^*, \sigma^2),\quad x\mid\mu_{\mathrm{MLE}} \sim "
                  r"\mathcal{N}(\bar x, \sigma^2),\quad x\mid\mu_{\mathrm{MAP}} \sim \mathcal{N}\left("
                  r"\frac{\sum_i x_i}{n+\sigma^2/\tau^2}, \sigma^2\right)",
                  r"x\mid D \sim \mathcal{N}(m_n,\; v_n + \sigma^2)"],
        values={"x | mu_MLE": f"N({float(ml):.6g}, {float(p_ml.var()):.6g})",
                "x | mu_MAP": f"N({float(mp):.6g}, {float(p_mp.var()):.6g})",
                "x | D": f"N({float(full.mean()):.6g}, {float(full.var()):.6g})"},
        checks=[close("full predictive density = quadrature of N(x; mu, sigma^2) against mu | D "
                      "(largest relative error at 5 points)", worst, 0.0, atol=1e-9),
                close("Var(x | D) - Var(x | mu_MAP) = v_n", full.var() - p_mp.var(), post.var(), rtol=1e-12)],
        data=PredictivesData(grid=grid, full=full.pdf(grid), plugin_mle=p_ml.pdf(grid), plugin_map=p_mp.pdf(grid)),
    )


def q1_2e_variances(cfg: GaussianConfig = GaussianConfig()) -> Record:
    """1.2(e): Var(x | D) > Var(x | mu_MLE) = sigma^2 for every n, and Var(x | D) -> sigma^2."""
    ns = np.unique(np.logspace(0, 6, 61).round().astype(np.int64))
    full = g.posterior_predictive(ns, 0.0, cfg.noise_sd, cfg.prior_sd, cfg.prior_mean).var()
    s2 = cfg.noise_sd**2
    sym = _symbolic()
    n, s, t = sym["n"], sym["s"], sym["t"]
    lim = sp.limit(1 / (n / s**2 + 1 / t**2) + s**2, n, sp.oo)
    return Record(
        id="1.2(e)", title="Which predictive is wider, and the limit",
        statement="Is Var(x | D) larger or smaller than Var(x | mu_MLE)? Its limit as n grows, and why.",
        answer=("Larger, for every n: Var(x | D) = sigma^2 + v_n and v_n > 0, while the plug-in has sigma^2 only. "
                "As n grows v_n ~ sigma^2/n -> 0, so Var(x | D) -> sigma^2: with enough data we know mu, and what "
                "remains is the irreducible noise."),
        formulas=[r"\mathrm{Var}(x\mid D) = \sigma^2 + \left(\frac{n}{\sigma^2}+\frac{1}{\tau^2}\right)^{-1} > "
                  r"\sigma^2 = \mathrm{Var}(x\mid\mu_{\mathrm{MLE}}),\qquad \lim_{n\to\infty}\mathrm{Var}(x\mid D)"
                  r" = \sigma^2"],
        values={"Var(x | D), n = 1": float(full[0]), "Var(x | D), n = 10^6": float(full[-1]),
                # six digits show Var(x | D) at 10^6 as sigma^2 itself: the gap says how far above it is
                "Var(x | D) - sigma^2 = v_n, n = 10^6": float(full[-1] - s2),
                "sigma^2": s2, "SymPy limit": str(lim)},
        checks=[holds("Var(x | D) > sigma^2 at every n of the grid", bool(np.all(full > s2)),
                      value=f"min gap {float(np.min(full - s2)):.3g}", expected="> 0"),
                close("n (Var(x | D) - sigma^2) -> sigma^4 / sigma^2 at n = 10^6", ns[-1] * (full[-1] - s2),
                      s2, rtol=1e-5),
                holds("SymPy: limit of Var(x | D) is sigma^2", sp.simplify(lim - s**2) == 0, tolerance="symbolic")],
        data=VariancesData(n=ns, full=full, sigma2=s2, explore=Job1Explore(
            noise_sd=cfg.noise_sd, prior_sd=cfg.prior_sd, n=cfg.n, xbar=float(np.mean(example_data(cfg))),
            level=0.95)),
    )


def q1_3_signs(cfg: GaussianConfig = GaussianConfig()) -> Record:
    """1.3: MLE against MAP when sum x = 0, > 0 and < 0 (m0 = 0)."""
    base = np.round(example_data(cfg) * 8) / 8  # multiples of 1/8: every sum below is exact
    half = base[: cfg.n // 2]
    cases = {"sum x = 0": np.concatenate([half, -half]), "sum x > 0": np.abs(base), "sum x < 0": -np.abs(base)}
    rows, checks = [], []
    for label, x in cases.items():
        m = g.NormalKnownVariance(cfg.noise_sd, cfg.prior_sd).fit(x)
        ml, mp = float(m.mle()), float(m.map())
        total = float(np.sum(x))
        if label == "sum x = 0":
            rel, ok = "MAP = MLE = 0", ml == 0 and mp == 0
        elif label == "sum x > 0":
            rel, ok = "0 < MAP < MLE", 0 < mp < ml
        else:
            rel, ok = "MLE < MAP < 0", ml < mp < 0
        rows.append([label, f"{total:.6g}", f"{ml:.6g}", f"{mp:.6g}", rel])
        checks.append(holds(f"{label}: {rel}", ok, value=f"MLE {ml:.6g}, MAP {mp:.6g}", expected=rel))
    return Record(
        id="1.3", title="MLE against MAP by the sign of the sum",
        statement="Compare mu_MLE and mu_MAP when sum x_i = 0, > 0 and < 0.",
        answer=("mu_MAP = c mu_MLE with c = n tau^2/(n tau^2 + sigma^2) in (0, 1): the prior shrinks the estimate "
                "towards 0. Equal (both 0) when the sum is 0; otherwise the MAP has the same sign and a smaller "
                "magnitude: 0 < MAP < MLE for a positive sum, MLE < MAP < 0 for a negative one."),
        formulas=[r"\mu_{\mathrm{MAP}} = \frac{n}{n+\sigma^2/\tau^2}\,\mu_{\mathrm{MLE}}"],
        checks=checks,
        table={"columns": ["case", "sum x", "mu_MLE", "mu_MAP", "relation"], "rows": rows},
    )


def q1_4_ratio(cfg: GaussianConfig = GaussianConfig()) -> Record:
    """1.4: lim MAP / MLE = 1."""
    ns = np.unique(np.logspace(0, 6, 61).round().astype(np.int64))
    ratio = g.shrinkage(ns, cfg.noise_sd, cfg.prior_sd)
    x = example_data(cfg)
    st = g.sufficient_stats(x)
    data_ratio = float(g.map_mle_ratio(st.n, st.total, cfg.noise_sd, cfg.prior_sd))
    sym = _symbolic()
    n, s, t = sym["n"], sym["s"], sym["t"]
    lim = sp.limit(n * t**2 / (n * t**2 + s**2), n, sp.oo)
    return Record(
        id="1.4", title="The limit of MAP / MLE",
        statement="Compute the limit of mu_MAP / mu_MLE as n grows.",
        answer=("The ratio is n/(n + sigma^2/tau^2), whatever the data (with m0 = 0); it increases with n and "
                "tends to 1: the prior's pull is a fixed sigma^2/tau^2 pseudo-observations, swamped by n real ones."),
        formulas=[r"\frac{\mu_{\mathrm{MAP}}}{\mu_{\mathrm{MLE}}} = \frac{n}{n+\sigma^2/\tau^2} "
                  r"\xrightarrow[n\to\infty]{} 1"],
        values={"ratio at n = 1": float(ratio[0]), "ratio at n = 10^6": float(ratio[-1]),
                f"ratio on the example data (n = {cfg.n})": data_ratio, "SymPy limit": str(lim)},
        checks=[holds("SymPy: the limit is 1", lim == 1, tolerance="symbolic"),
                holds("ratio increases with n", bool(np.all(np.diff(ratio) > 0))),
                close("1 - ratio = (sigma^2/tau^2)/(n + sigma^2/tau^2) at n = 10^6", 1 - ratio[-1],
                      (cfg.noise_sd**2 / cfg.prior_sd**2) / (ns[-1] + cfg.noise_sd**2 / cfg.prior_sd**2),
                      rtol=1e-6),
                close(f"MAP/MLE on the example data = shrinkage(n = {cfg.n})", data_ratio,
                      g.shrinkage(cfg.n, cfg.noise_sd, cfg.prior_sd), rtol=1e-14)],
        data=RatioData(n=ns, ratio=ratio),
    )


COVERAGE_BLOCK = 10_000  # replicates per task of the calibration study


def _coverage_block(task: dict) -> dict[str, int]:
    """One task of the calibration study: how many of a block's new x each predictive's interval holds."""
    rng = np.random.default_rng(task["seed"])
    reps, n, s, t, m0 = task["reps"], task["n"], task["noise_sd"], task["prior_sd"], task["prior_mean"]
    mu = rng.normal(m0, t, size=reps)
    x = rng.normal(mu[:, None], s, size=(reps, n))
    x_new = rng.normal(mu, s)
    m = g.NormalKnownVariance(s, t, m0).fit(x)
    hits = {}
    for key, dist in (("full", m.predictive()), ("plugin_mle", m.plugin_predictive("mle")),
                      ("plugin_map", m.plugin_predictive("map"))):
        lo, hi = dist.interval(task["level"])
        hits[key] = int(np.sum((lo <= x_new) & (x_new <= hi)))
    return hits


def coverage(seed: int, n: int, reps: int, cfg: GaussianConfig, level: float, client=None) -> dict[str, float]:
    """The share of ``reps`` replicates whose new x each predictive's central ``level`` interval holds, in blocks
    of ``COVERAGE_BLOCK`` on their own seed streams: the same numbers here or as Dask tasks on any workers."""
    from bmnn import cluster

    sizes = [min(COVERAGE_BLOCK, reps - i) for i in range(0, reps, COVERAGE_BLOCK)]
    tasks = [{"seed": sd, "reps": k, "n": n, "noise_sd": cfg.noise_sd, "prior_sd": cfg.prior_sd,
              "prior_mean": cfg.prior_mean, "level": level}
             for sd, k in zip(cluster.seed_streams(seed, len(sizes)), sizes, strict=True)]
    parts = [_coverage_block(t) for t in tasks] if client is None else cluster.map_ordered(client, _coverage_block,
                                                                                          tasks)
    return {key: sum(p[key] for p in parts) / reps for key in parts[0]}


def _binomial_se(rate: float, reps: int) -> float:
    """The standard error of a hit rate over ``reps`` independent replicates whose true rate is ``rate``."""
    return float(np.sqrt(rate * (1 - rate) / reps))


def calibration(cfg: GaussianConfig = GaussianConfig(), ns=(1, 2, 5, 10, 100), level: float = 0.95,
                client=None) -> Record:
    """Beyond the material: coverage of central intervals of the three predictives, mu drawn from the prior."""
    reps = cfg.coverage_reps
    rows, checks, cov = [], [], {"full": [], "plugin_mle": [], "plugin_map": []}
    se = _binomial_se(level, reps)
    for n in ns:
        hit = coverage(cfg.seed + 2 + 1000 * n, n, reps, cfg, level, client)
        for key in cov:
            cov[key].append(hit[key])
        exact = g.predictive_coverage(n, cfg.noise_sd, cfg.prior_sd, level)
        theory_map, theory_mle = float(exact["plugin_map"]), float(exact["plugin_mle"])
        # each hit rate's standard error is the binomial one at its exact value
        rows.append([n, Sampled(hit["full"], se), Sampled(hit["plugin_mle"], _binomial_se(theory_mle, reps)),
                     theory_mle, Sampled(hit["plugin_map"], _binomial_se(theory_map, reps)), theory_map])
        checks.append(within_se(f"n = {n}: full predictive covers {level:.0%}", hit["full"], level, se))
        for key, th in (("plugin_mle", theory_mle), ("plugin_map", theory_map)):
            checks.append(within_se(f"n = {n}: {key} coverage = its exact value", hit[key], th,
                                    _binomial_se(th, reps)))
    checks.append(holds("n = 1: both plug-ins under-cover by more than 4 se",
                        max(cov["plugin_mle"][0], cov["plugin_map"][0]) < level - 4 * se,
                        value=[rows[0][2], rows[0][4]], expected=f"< {level - 4 * se:.4f}"))
    return Record(
        id="1.C", title="Beyond the material: are the predictives calibrated?",
        statement=(f"Draw mu from the prior, n data and one new x given mu, {reps:,} times per n; how often does "
                   f"each predictive's central {level:.0%} interval hold the new x?"),
        answer=("The full predictive is exactly calibrated at every n, because it is the true conditional "
                "distribution of the new x. Both plug-ins ignore the uncertainty in mu and under-cover at small n; "
                "the gap closes as n grows."),
        formulas=[r"\text{MAP plug-in: } 2\Phi\!\left(z\,\sigma/\sqrt{\sigma^2+v_n}\right)-1,\qquad "
                  r"\text{MLE plug-in: } 2\Phi\!\left(z/\sqrt{1+1/n}\right)-1"],
        checks=checks,
        table={"columns": ["n", "full predictive", "MLE plug-in", "MLE plug-in, exact", "MAP plug-in",
                           "MAP plug-in, exact"], "rows": rows},
        data=CalibrationData(n=np.asarray(ns), level=level, se=se, **{k: np.asarray(v) for k, v in cov.items()}),
    )


def run(quick: bool = False, client=None) -> list[Record]:
    """Every job-1 record, in the material's order; ``client`` runs the calibration study's blocks as Dask tasks."""
    cfg = QUICK if quick else GaussianConfig()
    return [q1_1_posterior(cfg), *q1_2ab_estimates(cfg), q1_2c_map_is_predictive_mean(cfg), q1_2d_plugins(cfg),
            q1_2e_variances(cfg), q1_3_signs(cfg), q1_4_ratio(cfg), calibration(cfg, client=client)]
