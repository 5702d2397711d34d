"""Job 2's sub-questions (2.1 to 2.5): Bayesian linear regression with a Laplace prior, answered by computation.

Expected test MSE (used in 2.5). For a new ``x`` with ``E[x] = 0`` and ``E[x x^T] = I``, independent of the
training data and of the noise ``eps ~ N(0, sigma^2)``, and an estimate ``w_hat`` computed from the training data:
``E[(y - x^T w_hat)^2] = E[(x^T (w - w_hat) + eps)^2] = E[(w - w_hat)^T x x^T (w - w_hat)] + sigma^2
= E||w - w_hat||^2 + sigma^2``, the cross term vanishing because ``eps`` has mean zero and is independent of
everything else. The posterior mean minimises ``E[||w - w_hat||^2 | data]`` over all functions of the data,
so it has the lowest expected test MSE when the model is right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate

from bmnn import _numbers as num
from bmnn._checks import as_generator
from bmnn.experiments.records import (
    DiabetesExplore,
    Interval,
    LaplacePosteriorData,
    LocationExplore,
    MseGapData,
    Posterior2dExplore,
    PriorLocationData,
    PriorsData,
    Record,
    Sampled,
    ScaleData,
    TauPathData,
    close,
    holds,
    within_se,
)
from bmnn.laplace import gibbs, log_posterior, map_estimate, tau_star
from bmnn.laplace.gibbs import gibbs_batched
from bmnn.laplace.settings import DIABETES_LAMBDA


@dataclass(frozen=True)
class LaplaceConfig:
    """Settings of every job-2 record."""

    seed: int = 20261127  # seeds every draw of this job
    draws: int = 4000  # Gibbs draws per chain in 2.1
    chains: int = 16  # Gibbs chains in 2.1
    mse_reps: int = 2000  # replicates of the 2.5 simulation at n = p
    mse_reps_curve: int = 600  # replicates per n for the 2.5 curve
    mse_draws: int = 600  # Gibbs draws per chain per replicate in 2.5
    quick: bool = False  # the quick report's smaller tau grids and runs (whatever the replicates)


QUICK = LaplaceConfig(draws=1500, chains=8, mse_reps=600, mse_reps_curve=200, mse_draws=300, quick=True)


def _interval(summary: dict) -> Interval:
    """A learned parameter's 90% interval from an estimator's summary (``noise_sd_summary_``), with its MCSEs."""
    return Interval(Sampled(summary["q05"], summary["mcse_q05"]), Sampled(summary["q95"], summary["mcse_q95"]))


def _shown(summary: dict) -> str:
    """A learned parameter's mean and 90% interval in words, every number to the digits its MCSE supports."""
    ends = num.interval(summary["q05"], summary["mcse_q05"], summary["q95"], summary["mcse_q95"])
    return f"{num.supported(summary['mean'], summary['mcse'])} (90% interval {ends})"


def _plain(x: Sampled) -> str:
    """A Monte Carlo value in prose: the digits its error supports."""
    return num.supported(float(x.value), float(x.se))


def _percent(x: Sampled) -> str:
    """A Monte Carlo share in prose, in percent, to the digits its error supports."""
    return num.supported(100 * float(x.value), 100 * float(x.se)) + "%"


def _problem(rng, n, p, noise_sd=1.0, w=None):
    X = rng.normal(size=(n, p))
    w = rng.normal(size=p) if w is None else w
    return X, X @ w + noise_sd * rng.normal(size=n), w


def q2_1_posterior(cfg: LaplaceConfig = LaplaceConfig()) -> Record:
    """2.1: the unnormalised posterior, normalised by quadrature, against the Gibbs draws (1-d and 2-d)."""
    rng = as_generator(cfg.seed)
    s, t = 1.0, 0.5
    checks = []
    # 1-d: the density normalised by quadrature against the draws
    X1, y1, _ = _problem(rng, 6, 1, s, w=np.array([0.4]))
    def f1(w):
        return np.exp(log_posterior(np.array([[w]]), X1, y1, s, t)[0] - shift1)
    shift1 = float(log_posterior(map_estimate(X1, y1, s, t).coef[None], X1, y1, s, t)[0])
    z = integrate.quad(f1, -10, 10, points=[0.0], epsabs=0, epsrel=1e-12, limit=400)[0]
    m1 = integrate.quad(lambda w: w * f1(w), -10, 10, points=[0.0], epsabs=1e-14, epsrel=1e-12, limit=400)[0] / z
    r1 = gibbs(X1, y1, s, t, draws=cfg.draws, chains=cfg.chains, seed=cfg.seed + 1)
    d1 = r1.diagnostics()
    checks.append(within_se("1-d: Gibbs mean = quadrature mean", d1["mean"][0], m1, d1["mcse"][0]))
    grid1 = np.linspace(-1.5, 2.0, 400)
    dens1 = np.array([f1(w) for w in grid1]) / z
    cdf_q = np.array([integrate.quad(f1, -10, q, points=[0.0] if q > 0 else None, epsrel=1e-10)[0] / z
                      for q in (-0.2, 0.0, 0.3, 0.6)])
    cdf_mc = np.array([(r1.draws[..., 0] <= q).mean() for q in (-0.2, 0.0, 0.3, 0.6)])
    ks = float(np.max(np.abs(cdf_q - cdf_mc)))
    ess1 = float(d1["ess_bulk"][0])
    checks.append(holds("1-d: posterior CDF at 4 points, quadrature vs draws, within 5/sqrt(ESS)",
                        ks <= 5 / np.sqrt(ess1), value=f"{ks:.4f}", expected=f"<= {5 / np.sqrt(ess1):.4f}"))
    # 2-d: grid normalisation, and the p-dimensional normaliser (2 tau)^-p
    X2, y2, _ = _problem(rng, 8, 2, s, w=np.array([1.0, 0.0]))
    lo, hi, k = -2.5, 3.0, 551
    ax = np.linspace(lo, hi, k)
    W = np.stack(np.meshgrid(ax, ax, indexing="ij"), axis=-1)
    lp = log_posterior(W, X2, y2, s, t)
    dens2 = np.exp(lp - lp.max())
    h = ax[1] - ax[0]
    z2 = dens2.sum() * h * h
    m2 = np.array([(dens2 * W[..., j]).sum() * h * h / z2 for j in range(2)])
    r2 = gibbs(X2, y2, s, t, draws=cfg.draws, chains=cfg.chains, seed=cfg.seed + 2)
    d2 = r2.diagnostics()
    for j in range(2):
        checks.append(within_se(f"2-d: Gibbs mean of w_{j + 1} = grid-quadrature mean", d2["mean"][j], m2[j],
                                np.hypot(d2["mcse"][j], 1e-4)))
    tn = 0.3  # any tau != 1/2 tells the two normalisers apart
    prior_mass = integrate.dblquad(lambda a, b: np.exp(-(abs(a) + abs(b)) / tn) / (2 * tn) ** 2, -30, 30, -30, 30,
                                   epsabs=1e-12)[0]
    wrong_mass = prior_mass * (2 * tn) ** 2 / (2 * tn)
    checks.append(close("2-d prior (tau = 0.3) with normaliser (2 tau)^-2 integrates to 1", prior_mass, 1.0,
                        atol=1e-8))
    checks.append(holds("the same prior with (2 tau)^-1 does not", abs(wrong_mass - 1) > 0.1,
                        value=f"{wrong_mass:.4f}", expected="!= 1"))
    return Record(
        id="2.1", title="The posterior up to a constant",
        statement="Write down p(w | X, y) up to a normalising constant.",
        answer=("Bayes' rule: the Gaussian likelihood times the product of Laplace densities. Its log is a negative "
                "quadratic (the squared residuals over 2 sigma^2) minus an L1 distance to the location over tau: "
                "log-concave, unimodal, with kinks where some w_j = mu_j."),
        formulas=[r"p(w\mid X,y) \propto \exp\left(-\frac{\lVert y-Xw\rVert_2^2}{2\sigma^2}-\frac{\lVert w-\mu"
                  r"\rVert_1}{\tau}\right)",
                  r"\log p(w\mid X,y) = -\frac{N}{2}\log(2\pi\sigma^2) - \frac{\lVert y-Xw\rVert_2^2}{2\sigma^2} "
                  r"- p\log(2\tau) - \frac{\lVert w-\mu\rVert_1}{\tau} - \log p(y\mid X)"],
        values={"1-d: quadrature mean": m1,
                "1-d: Gibbs mean": Sampled(float(d1["mean"][0]), float(d1["mcse"][0])),
                "1-d: Gibbs bulk ESS": ess1, "2-d: grid mean": m2.round(5).tolist(),
                "2-d: Gibbs mean": [Sampled(float(m), float(e)) for m, e in zip(d2["mean"], d2["mcse"], strict=True)],
                "2-d: largest R-hat": float(d2["rhat"].max())},
        checks=checks,
        data=LaplacePosteriorData(grid1=grid1, dens1=dens1, draws1=r1.draws[..., 0].ravel(), axis2=ax,
                                  dens2=dens2 / z2, draws2=r2.draws.reshape(-1, 2)[::7],
                                  explore=explore_2d(X2, y2, s, cfg)),
    )


#: taus of the interactive views (log-spaced), fewer in quick mode
EXPLORE_TAUS = {False: 25, True: 9}


def explore_2d(X: np.ndarray, y: np.ndarray, noise_sd: float, cfg: LaplaceConfig) -> Posterior2dExplore:
    """The 2-d posterior of 2.1 for the report's tau slider: the statistics the page needs to evaluate the log
    posterior itself (X^T X, X^T y, y^T y), and per tau the MAP and the Gibbs posterior mean with its MCSE."""
    from bmnn.laplace.diagnostics import summarize

    quick = cfg.quick
    taus = np.logspace(-2, 1, EXPLORE_TAUS[quick])
    maps, means, mcse = [], [], []
    for i, t in enumerate(taus):
        maps.append(map_estimate(X, y, noise_sd, t).coef)
        draws = gibbs(X, y, noise_sd, t, draws=cfg.draws // 4, chains=4, seed=cfg.seed + 100 + i).draws
        means.append(draws.mean(axis=(0, 1)))
        mcse.append(summarize(draws)["mcse"])
    return Posterior2dExplore(X=X, y=y, gram=X.T @ X, xty=X.T @ y, yty=float(y @ y), n=int(X.shape[0]),
                              noise_sd=noise_sd, taus=taus, map=np.array(maps), mean=np.array(means),
                              axis=np.linspace(-2.5, 3.0, 41), mcse=np.array(mcse))


def q2_2_map(cfg: LaplaceConfig = LaplaceConfig()) -> Record:
    """2.2: the MAP is a Lasso centred at mu with lambda = sigma^2 / tau; its certificate."""
    from scipy.optimize import minimize

    rng = as_generator(cfg.seed + 3)
    X, y, _ = _problem(rng, 30, 6, 1.0, w=np.array([2.0, -1.0, 0.0, 0.0, 0.5, 0.0]))
    s, t = 1.0, 0.1
    mu = np.zeros(6)
    res = map_estimate(X, y, s, t, mu)
    lam = res.lam
    # independent: minimise the negative log posterior directly (Powell, derivative-free) from the OLS start
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    direct = minimize(lambda w: -log_posterior(w, X, y, s, t), ols, method="Powell",
                      options={"xtol": 1e-10, "ftol": 1e-14, "maxfev": 200_000}).x
    g = X.T @ (y - X @ res.coef)
    rows = [[j + 1, f"{w:.6g}", f"{gj:.6g}", "= lambda sign(w_j - mu_j)" if w != 0 else "in [-lambda, lambda]",
             f"{v:.2e}"] for j, (w, gj, v) in enumerate(zip(res.coef, g, res.kkt_violation, strict=True))]
    return Record(
        id="2.2", title="The MAP estimate is a Lasso",
        statement=("Find w_MAP (an equation is enough); relate it to frequentist regularisation; how does tau "
                   "relate to the regularisation strength lambda; the intuition from the prior."),
        answer=(f"Maximising the log posterior is minimising squared error plus lambda times the L1 distance to mu, "
                f"with lambda = sigma^2/tau: an L1-regularised least-squares fit (the Lasso, centred at mu). "
                f"A smaller prior scale tau (a prior more peaked at mu) is a stronger penalty. The MAP has no closed "
                f"form; it solves the subgradient condition below (here lambda = {lam:g}). scikit-learn's Lasso "
                f"scales the loss by 1/(2N), so its alpha is lambda/N = {lam / len(y):g}."),
        formulas=[r"w_{\mathrm{MAP}} = \underset{w}{\mathrm{arg\,min}}\ "
                  r"\tfrac12\lVert y-Xw\rVert_2^2 + \lambda\lVert w-\mu\rVert_1,\qquad"
                  r" \lambda = \frac{\sigma^2}{\tau},\qquad \alpha_{\text{sklearn}} = \frac{\lambda}{N}",
                  r"X^\top(y - Xw_{\mathrm{MAP}}) \in \lambda\,\partial\lVert w_{\mathrm{MAP}}-\mu\rVert_1,\quad "
                  r"\partial|t| = \{\operatorname{sign} t\}\ (t\neq0),\ [-1,1]\ (t=0)"],
        values={"lambda = sigma^2/tau": lam, "sklearn alpha = lambda/N": lam / len(y),
                "w_MAP": res.coef.round(6).tolist(), "direct minimisation (Powell)": direct.round(6).tolist(),
                "largest certificate violation / lambda": res.max_violation},
        checks=[holds("certificate: subgradient condition violated by <= 1e-8 lambda", res.max_violation <= 1e-8,
                      value=f"{res.max_violation:.2e}", expected="<= 1e-8"),
                close("direct minimisation of -log posterior reaches the MAP (max abs difference)",
                      float(np.max(np.abs(direct - res.coef))), 0.0, atol=1e-5),
                holds("the MAP sets some coefficients exactly to mu (sparsity)", int(np.sum(res.coef == mu)) >= 1,
                      value=int(np.sum(res.coef == mu)), expected=">= 1")],
        table={"columns": ["j", "w_MAP", "[X^T(y - Xw)]_j", "condition", "violation / lambda"], "rows": rows},
    )


def q2_3_prior_knowledge(cfg: LaplaceConfig = LaplaceConfig()) -> Record:
    """2.3: prior knowledge through the location: MAP error as mu moves away from w_true, for several tau."""
    rng = as_generator(cfg.seed + 4)
    p = 8
    w_true = rng.normal(size=p)
    X, y, _ = _problem(rng, 12, p, 1.0, w=w_true)
    direction = rng.normal(size=p)
    direction /= np.linalg.norm(direction)
    dist = np.linspace(0.0, 3.0, 31)
    taus = [0.02, 0.1, 0.5, 5.0]
    err = np.array([[np.linalg.norm(map_estimate(X, y, 1.0, t, w_true + d * direction).coef - w_true)
                     for d in dist] for t in taus])
    ols_err = float(np.linalg.norm(np.linalg.lstsq(X, y, rcond=None)[0] - w_true))
    checks = [holds(f"tau = {t:g}: error grows from mu = w_true to ||mu - w_true|| = 3", e[0] < e[-1],
                    value=f"{e[0]:.3f} -> {e[-1]:.3f}") for t, e in zip(taus, err, strict=True)]
    checks.append(holds("the tightest prior, centred at w_true, beats least squares", err[0, 0] < ols_err,
                        value=f"{err[0, 0]:.3f}", expected=f"< {ols_err:.3f}"))
    return Record(
        id="2.3", title="Prior knowledge through the location",
        statement="How to bring in expert knowledge that w is close to a known vector v, in both views.",
        answer=("Bayesian: centre the prior at v (mu = v); tau says how sure we are. Frequentist: penalise the "
                "distance to v instead of the norm, lambda ||w - v||_1, i.e. shrink towards v. They are the same "
                "estimator. Good knowledge (v near the truth) with a tight prior helps most; wrong knowledge with a "
                "tight prior hurts most; a wide prior makes the location matter little."),
        formulas=[r"\min_w \tfrac12\lVert y-Xw\rVert_2^2 + \lambda\lVert w - v\rVert_1 \iff w_j \sim "
                  r"\mathrm{Laplace}(v_j, \tau)"],
        values={"p": p, "N": 12, "least-squares error ||w_OLS - w_true||": ols_err},
        checks=checks,
        data=PriorLocationData(dist=dist, taus=taus, err=err, ols=ols_err, explore=LocationExplore(
            taus=(ex := np.logspace(-2, 1, EXPLORE_TAUS[cfg.quick])), dist=dist, ols=ols_err,
            err=np.array([[np.linalg.norm(map_estimate(X, y, 1.0, t, w_true + d * direction).coef - w_true)
                           for d in dist] for t in ex]))),
    )


def q2_4_tau_path(cfg: LaplaceConfig = LaplaceConfig()) -> Record:
    """2.4: the MAP path against tau; every coefficient reaches mu exactly at tau*."""
    rng = as_generator(cfg.seed + 5)
    p = 6
    X, y, _ = _problem(rng, 40, p, 1.0, w=np.array([1.5, -1.0, 0.7, 0.0, -0.3, 0.1]))
    mu = np.full(p, 0.2)
    ts = tau_star(X, y, 1.0, mu)
    taus = ts * np.logspace(-1, 3, 120)
    path = np.array([map_estimate(X, y, 1.0, t, mu).coef for t in taus])
    at, above = map_estimate(X, y, 1.0, ts, mu).coef, map_estimate(X, y, 1.0, ts * 1.001, mu).coef
    return Record(
        id="2.4", title="Shrinking tau",
        statement="What happens to the entries of w_MAP as tau decreases, and in the limit tau -> 0?",
        answer=(f"As tau decreases lambda = sigma^2/tau grows, and the coefficients move towards mu, one after "
                f"another reaching it exactly and staying there. They do not only approach mu in the limit: once "
                f"tau <= tau* = sigma^2 / ||X^T(y - X mu)||_inf (here {ts:.5g}) the subgradient condition holds at "
                f"w = mu, so w_MAP = mu exactly. As tau -> 0 the prior is a point mass at mu. The figure shows a "
                f"simulated problem (n = 40, p = {p}, sigma = 1, seeded); the interactive view below shows the same "
                f"on the diabetes data, with the posterior mean and its 90% interval beside the MAP."),
        formulas=[r"\tau \le \tau^* = \frac{\sigma^2}{\lVert X^\top(y-X\mu)\rVert_\infty} \iff "
                  r"w_{\mathrm{MAP}} = \mu"],
        values={"tau*": ts, "MAP at tau*": at.tolist(), "MAP at 1.001 tau*": above.round(8).tolist()},
        checks=[holds("at tau = tau*, w_MAP = mu exactly (every coefficient)", bool(np.array_equal(at, mu))),
                holds("just above tau*, some coefficient leaves mu", bool(np.any(above != mu))),
                holds("below tau* (tau*/10), still exactly mu", bool(np.array_equal(path[0], mu)))],
        data=TauPathData(taus=taus, path=path, tau_star=ts, mu=mu, explore=explore_diabetes(cfg)),
    )


def explore_diabetes(cfg: LaplaceConfig = LaplaceConfig()) -> dict:
    """Every coefficient's MAP (the exact Lasso path) and posterior mean with its 90% interval (Gibbs) on
    scikit-learn's diabetes data (X standardised, y centred, sigma the least-squares residual sd) over a tau grid
    from tau*/3 to 300 tau*, for the report's tau slider."""
    from bmnn.datasets import load_bundled
    from bmnn.laplace.diagnostics import interval, quantile_mcse, summarize

    X, y, names = load_bundled("diabetes")
    X = (X - X.mean(0)) / X.std(0)
    y = y - y.mean()
    n, p = X.shape
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    s = float(np.sqrt(resid @ resid / (n - p)))
    ts = tau_star(X, y, s)
    quick = cfg.quick
    taus = ts * np.logspace(np.log10(1 / 3), np.log10(300), EXPLORE_TAUS[quick])
    maps, means, q05, q95, mcse, mcse_q = [], [], [], [], [], []
    for i, t in enumerate(taus):
        maps.append(map_estimate(X, y, s, t).coef)
        g = gibbs(X, y, s, t, draws=250 if quick else 1000, warmup=200, chains=4, seed=cfg.seed + 200 + i)
        lo, hi = interval(g.draws, 0.9)
        means.append(g.draws.mean(axis=(0, 1)))
        q05.append(lo)
        q95.append(hi)
        mcse.append(summarize(g.draws)["mcse"])
        mcse_q.append(np.maximum(quantile_mcse(g.draws, 0.05), quantile_mcse(g.draws, 0.95)))
    return DiabetesExplore(names=list(names), noise_sd=s, tau_star=ts, taus=taus, map=np.array(maps),
                           mean=np.array(means), q05=np.array(q05), q95=np.array(q95),
                           zeros=np.sum(np.array(maps) == 0.0, axis=1), mcse=np.array(mcse),
                           mcse_interval=np.array(mcse_q))


def paired_mse(rng, n: int, p: int, reps: int, draws: int, noise_sd: float = 1.0, scale: float = 1.0):
    """2.5's simulation: w from the prior, data given w, MAP and posterior mean on the same data.

    Returns the per-replicate ``||w - w_map||^2`` and ``||w - w_mean||^2`` (test MSE minus sigma^2). The
    posterior means of all replicates are sampled together as one batch (Rao-Blackwellised Gibbs averages).
    """
    w = rng.laplace(0.0, scale, size=(reps, p))
    X = rng.normal(size=(reps, n, p))
    y = np.einsum("rnp,rp->rn", X, w) + noise_sd * rng.normal(size=(reps, n))
    w_map = np.array([map_estimate(X[r], y[r], noise_sd, scale).coef for r in range(reps)])
    gram = np.einsum("rnp,rnq->rpq", X, X) / noise_sd**2
    c = np.einsum("rnp,rn->rp", X, y) / noise_sd**2
    _, rb = gibbs_batched(gram, c, scale, chains=4, draws=draws, warmup=200, rng=rng, keep_draws=False)
    w_mean = rb.mean(axis=1)
    return np.sum((w - w_map) ** 2, axis=1), np.sum((w - w_mean) ** 2, axis=1)


MSE_BLOCK = 100  # replicates per task of the 2.5 study: large enough that scheduling costs little


def _mse_block(task: dict) -> tuple[np.ndarray, np.ndarray]:
    """One task of the 2.5 study: a block of replicates on its own seed stream."""
    return paired_mse(np.random.default_rng(task["seed"]), task["n"], task["p"], task["reps"], task["draws"])


def mse_study(seed: int, n: int, p: int, reps: int, draws: int, client=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`paired_mse` for ``reps`` replicates, in blocks of ``MSE_BLOCK`` with the ``i``-th block on the ``i``-th
    seed stream of ``seed`` (:func:`bmnn.cluster.seed_streams`), concatenated in block order: the same numbers
    whether the blocks run here one after another (``client=None``) or as Dask tasks on any number of workers."""
    from bmnn import cluster

    sizes = [min(MSE_BLOCK, reps - i) for i in range(0, reps, MSE_BLOCK)]
    tasks = [{"seed": s, "n": n, "p": p, "reps": k, "draws": draws}
             for s, k in zip(cluster.seed_streams(seed, len(sizes)), sizes, strict=True)]
    parts = [_mse_block(t) for t in tasks] if client is None else cluster.map_ordered(client, _mse_block, tasks)
    return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])


def q2_5_test_mse(cfg: LaplaceConfig = LaplaceConfig(), client=None) -> Record:
    """2.5: which of w_MAP and w_mean has the lower expected test MSE, by simulation."""
    rng = as_generator(cfg.seed + 6)
    p, n, s = 10, 10, 1.0
    e_map, e_mean = mse_study(cfg.seed + 60, n, p, cfg.mse_reps, cfg.mse_draws, client)
    diff = e_map - e_mean
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    ns = np.array([5, 10, 20, 50, 100])
    curve, curve_se, mse_map, mse_mean, se_map, se_mean = [], [], [], [], [], []
    for nn in ns:
        a, b = mse_study(cfg.seed + 61 + int(nn), int(nn), p, cfg.mse_reps_curve, cfg.mse_draws, client)
        d = a - b
        mse_map.append(s**2 + a.mean())
        mse_mean.append(s**2 + b.mean())
        se_map.append(a.std(ddof=1) / np.sqrt(a.size))
        se_mean.append(b.std(ddof=1) / np.sqrt(b.size))
        curve.append(d.mean())
        curve_se.append(d.std(ddof=1) / np.sqrt(d.size))
    # a direct test-set check of the identity E[(y - x^T w_hat)^2] = sigma^2 + E||w - w_hat||^2
    w = rng.laplace(size=p)
    w_hat = w + rng.normal(size=p) * 0.5
    xt = rng.normal(size=(200_000, p))
    yt = xt @ w + s * rng.normal(size=200_000)
    sq = (yt - xt @ w_hat) ** 2
    return Record(
        id="2.5", title="MAP or posterior mean: the lower expected test MSE",
        statement=("With the model right (w from the prior, y | x, w ~ N(w^T x, sigma^2)) and x of mean zero with "
                   "independent unit-variance features: which of w_MAP and w_mean has the lower expected test MSE?"),
        answer=(f"The posterior mean. The expected test MSE is sigma^2 + E||w - w_hat||^2, and the posterior mean "
                f"minimises the posterior expected squared error for every data set, hence also on average. The "
                f"MAP is the posterior mode: sparse and biased towards mu. Simulation (p = {p}, n = {n}, tau = 1, "
                f"sigma = 1, {diff.size:,} replicates): the MAP's excess test MSE over the posterior mean is "
                f"{num.supported(float(diff.mean()), float(se))} +- {num.sig(float(se), 2, strip=False)}. The gap "
                f"shrinks as n grows: the posterior concentrates and its mean "
                f"and mode agree once the data dominate the prior."),
        formulas=[r"\mathbb{E}\left[(y - x^\top\hat w)^2\right] = \sigma^2 + \mathbb{E}\lVert w-\hat w\rVert_2^2,"
                  r"\qquad \mathbb{E}[w\mid D] = \underset{\hat w}{\mathrm{arg\,min}}\ "
                  r"\mathbb{E}\left[\lVert w-\hat w\rVert_2^2\mid D"
                  r"\right]"],
        values={"test MSE, MAP": Sampled(s**2 + e_map.mean(), e_map.std(ddof=1) / np.sqrt(e_map.size)),
                "test MSE, posterior mean": Sampled(s**2 + e_mean.mean(), e_mean.std(ddof=1) / np.sqrt(e_mean.size)),
                "paired difference (MAP - mean)": Sampled(float(diff.mean()), float(se)),
                "replicates": int(diff.size)},
        checks=[holds("posterior mean wins by more than 3 standard errors", diff.mean() > 3 * se,
                      value=f"{diff.mean():.4f}", expected=f"> {3 * se:.4f}"),
                within_se("test-set MSE = sigma^2 + ||w - w_hat||^2 (200,000 test points)", sq.mean(),
                          s**2 + np.sum((w - w_hat) ** 2), sq.std(ddof=1) / np.sqrt(sq.size))],
        table={"columns": ["n", "MAP - mean (test MSE) ± its standard error"],
               "rows": [[int(a), Sampled(float(b), float(c))] for a, b, c in zip(ns, curve, curve_se, strict=True)]},
        data=MseGapData(n=ns, diff=np.array(curve), se=np.array(curve_se), mse_map=np.array(mse_map),
                        mse_mean=np.array(mse_mean), reps=cfg.mse_reps_curve, se_map=np.array(se_map),
                        se_mean=np.array(se_mean)),
    )


def q2_S_scale(cfg: LaplaceConfig = LaplaceConfig(), bench: dict | None = None) -> Record:
    """2.S, beyond the material: sigma and tau learned on the diabetes data next to the values section 2 fixes; the
    p > n draw against the p x p one; the benchmark of the sampler at scale, where its result file exists."""
    from bmnn.datasets import load_bundled
    from bmnn.laplace import LaplaceRegression
    from bmnn.laplace.diagnostics import summarize

    X, y, _ = load_bundled("diabetes")
    X, y = (X - X.mean(0)) / X.std(0), y - y.mean()
    n, p = X.shape
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    s_ols = float(np.sqrt(resid @ resid / (n - p)))
    fixed_s, fixed_t = s_ols, s_ols**2 / DIABETES_LAMBDA  # the benchmark's fixed values
    m = LaplaceRegression(fit_intercept=False, draws=cfg.draws // 2, chains=cfg.chains,
                          random_state=cfg.seed + 50).fit(X, y)
    sig, tau = m.noise_sd_summary_, m.scale_summary_
    # p > n: the two exact draws on the same posterior
    rng = as_generator(cfg.seed + 51)
    Xw, yw, _ = _problem(rng, 12, 40, 0.5, w=np.r_[np.array([2.0, -1.5, 1.0]), np.zeros(37)])
    a = summarize(gibbs(Xw, yw, 0.5, 0.3, draws=cfg.draws // 2, chains=8, seed=cfg.seed + 52,
                        algorithm="precision").draws)
    b = gibbs(Xw, yw, 0.5, 0.3, draws=cfg.draws // 2, chains=8, seed=cfg.seed + 53)
    bs = summarize(b.draws)
    z = (a["mean"] - bs["mean"]) / np.hypot(a["mcse"], bs["mcse"])
    checks = [
        within_se("learned sigma: posterior mean = least-squares residual sd (n = 442 >> p)", sig["mean"], s_ols,
                  sig["sd"], k=3.0),
        holds("learned sigma and tau: R-hat <= 1.01", max(sig["rhat"], tau["rhat"]) <= 1.01,
              value=f"{max(sig['rhat'], tau['rhat']):.4f}", expected="<= 1.01"),
        holds("p = 40 > n = 12: the n x n draw (Bhattacharya et al.) is the one chosen", b.algorithm == "bcm",
              value=b.algorithm, expected="bcm"),
        holds("p > n: posterior means by the two exact draws agree (|z| <= 4 for every coefficient)",
              bool(np.max(np.abs(z)) <= 4.0), value=f"max |z| = {np.max(np.abs(z)):.2f}", expected="<= 4"),
    ]
    rows, data = [], None
    if bench:
        sizes = bench["sizes"]
        for r in sizes:
            nu = r["nuts"]
            rows.append([f"{r['n']} x {r['p']}", f"{r['ours']['ess_per_s']:,.1f}",
                         f"{nu['ess_per_s']:,.2f}" if nu.get("finished") else
                         f"< {nu['ess_per_s_upper_bound']:.2f} (no draw in {bench['cap_seconds']:.0f} s)",
                         f"{r['ratio']:.0f}x" if "ratio" in r else f">= {r['ratio_at_least']:.0f}x",
                         r["ours"]["algorithm"]])
        data = ScaleData(p=[r["p"] for r in sizes], ours=[r["ours"]["ess_per_s"] for r in sizes],
                         nuts=[r["nuts"].get("ess_per_s") for r in sizes],
                         nuts_bound=[r["nuts"].get("ess_per_s_upper_bound") for r in sizes], machine=bench["machine"])
    return Record(
        id="2.S", title="Beyond the material: the same posterior at scale",
        statement=("Users point this model at their own data: p >> n, sigma unknown, tau to be learned. How does the "
                   "sampler do it exactly, and how fast is it against NUTS?"),
        answer=("The Gaussian conditional of w is drawn exactly by the cheaper of two algorithms: the p x p system "
                "(Rue) when p is small relative to n, and Bhattacharya, Chakraborty and Mallick's n x n system, "
                "O(n^2 p), when p > n (formed and factorised in float32, then refined against the exact operator "
                "to a float64-accurate solution). After warm-up the coordinates that mixed slowest in it also get "
                "coordinate steps with their mixing variable integrated out, over-relaxed, each leaving the "
                "posterior exactly invariant. With sigma learned the prior's scale becomes sigma tau (Park and "
                "Casella's Bayesian lasso: the scaling keeps the joint posterior unimodal), sigma^2 has Jeffreys' "
                "prior, and 1/tau a Gamma(1, 1) prior; both are drawn in every sweep, and the MAP is taken at their "
                f"posterior medians. On the diabetes data the learned sigma is {_shown(sig)} against the "
                f"{num.exact(fixed_s)} that the fixed-sigma runs use; tau, in units of sigma, is {_shown(tau)} against "
                f"the fixed {num.exact(fixed_t / fixed_s)} (lambda = {DIABETES_LAMBDA:g})."),
        values={"learned sigma: mean": Sampled(sig["mean"], sig["mcse"]),
                "learned sigma: 90% interval": _interval(sig),
                "learned tau: mean": Sampled(tau["mean"], tau["mcse"]), "learned tau: 90% interval":
                _interval(tau), "least-squares residual sd": s_ols,
                f"fixed tau (lambda = {DIABETES_LAMBDA:g}), in units of sigma": fixed_t / fixed_s},
        checks=checks,
        table={"columns": ["n x p", "ours: min bulk ESS/s", "NUTS: min bulk ESS/s", "ratio", "our Gaussian draw"],
               "rows": rows} if rows else None,
        data=data,
    )


#: the sparse problem of 2.P: n, p and its non-zero weights (the rest are 0), sigma = 1
PRIORS_PROBLEM = (100, 60, (5.0, -4.0, 3.0, -2.5))


def sparse_summaries(w: np.ndarray, k: int) -> dict:
    """2.P's summaries of an estimate m of the weights w whose first ``k`` are the large ones, each a function of m
    returning its value and its gradient (for the delta method): the expected test MSE 1 + ||w - m||^2 (exact for
    x ~ N(0, I) and unit noise), the mean share of the large weights' size kept, and the nulls' mean size."""
    p = len(w)
    return {"mse": lambda m: (1.0 + float(np.sum((m - w) ** 2)), 2.0 * (m - w)),
            "kept": lambda m: (float(np.mean(np.abs(m[:k]) / np.abs(w[:k]))),
                               np.r_[np.sign(m[:k]) / np.abs(w[:k]) / k, np.zeros(p - k)]),
            "nulls": lambda m: (float(np.mean(np.abs(m[k:]))), np.r_[np.zeros(k), np.sign(m[k:]) / (p - k)])}


def q2_P_priors(cfg: LaplaceConfig = LaplaceConfig(), reference: dict | None = None) -> Record:
    """2.P: the Laplace prior beside the horseshoe and the Gaussian prior on one sampler: which shrinks the large
    signals, and the test MSE of each posterior mean; checks against the Gaussian prior's closed form and the
    horseshoe's NUTS reference."""
    from bmnn.datasets import load_bundled
    from bmnn.laplace import GaussianPriorRegression, HorseshoeRegression, LaplaceRegression
    from bmnn.laplace.diagnostics import delta_mcse, quantile_mcse, summarize
    from bmnn.laplace.gibbs import Data, Noise, run
    from bmnn.laplace.priors.gaussian import GaussianPrior
    from bmnn.laplace.settings import SamplerSettings

    rng = np.random.default_rng(cfg.seed + 70)
    n, p, big = PRIORS_PROBLEM
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[: len(big)] = big
    y = X @ w + rng.standard_normal(n)
    draws = 500 if cfg.quick else 2000
    kw = {"draws": draws, "warmup": 300, "chains": 8, "fit_intercept": False}
    models = {"Laplace": LaplaceRegression(random_state=cfg.seed + 71, **kw),
              "horseshoe": HorseshoeRegression(random_state=cfg.seed + 72, **kw),
              "Gaussian": GaussianPriorRegression(random_state=cfg.seed + 73, **kw)}
    fits = {k: m.fit(X, y) for k, m in models.items()}
    k = len(big)
    # x ~ N(0, I) and y = x^T w + N(0, 1): the expected test MSE of w_hat is exactly 1 + ||w - w_hat||^2; each
    # summary is a function of a sampled posterior mean m, with its MCSE by the delta method (value, gradient at m)
    found = {key: {name: Sampled(value, delta_mcse(f.draws_, grad))
                   for name, f in fits.items() for value, grad in [fn(f.coef_mean_)]}
             for key, fn in sparse_summaries(w, k).items()}
    mse, kept, nulls = found["mse"], found["kept"], found["nulls"]
    show = list(range(k)) + list(range(k, k + 6))
    data = PriorsData(names=[f"w{j + 1}" for j in show], truth=w[show],
                      mean={nm: f.coef_mean_[show] for nm, f in fits.items()},
                      q05={nm: f.coef_interval(0.9)[0][show] for nm, f in fits.items()},
                      q95={nm: f.coef_interval(0.9)[1][show] for nm, f in fits.items()})

    # diabetes (standardised, centred; no intercept): every prior with sigma and its scale learned
    Xd, yd, names = load_bundled("diabetes")
    Xd, yd = (Xd - Xd.mean(0)) / Xd.std(0), yd - yd.mean()
    dfits = {nm: type(m)(random_state=cfg.seed + 80 + i, **kw).fit(Xd, yd)
             for i, (nm, m) in enumerate(models.items())}
    ends = {nm: (f.coef_interval(0.9), quantile_mcse(f.draws_, 0.05), quantile_mcse(f.draws_, 0.95))
            for nm, f in dfits.items()}
    rows = [[name] + [Interval(Sampled(q[0][j], se_lo[j]), Sampled(q[1][j], se_hi[j]),
                               mean=Sampled(f.coef_mean_[j], f.mcse_[j]))
                      for f, (q, se_lo, se_hi) in zip(dfits.values(), ends.values(), strict=True)]
            for j, name in enumerate(names)]

    checks = []
    # the Gaussian prior: the kernel against the closed form (scale given), sigma given and learned
    s_ols = float(np.std(yd - Xd @ np.linalg.lstsq(Xd, yd, rcond=None)[0]))
    for sd, scale, label in ((s_ols, 8.0, "sigma given"), (None, 0.4, "sigma learned")):
        exact = GaussianPriorRegression(noise_sd=sd, scale=scale, fit_intercept=False, draws=0).fit(Xd, yd)
        noise = Noise(sd)
        g = run(Data.from_arrays(Xd, yd, 0.0, noise), GaussianPrior(scale), noise,
                SamplerSettings(draws=draws, warmup=100, chains=8), cfg.seed + 90)
        d = summarize(g.draws)
        z = (d["mean"] - exact.coef_mean_) / d["mcse"]
        checks.append(holds(f"Gaussian prior ({label}): the sampler's means within 4 MCSE of the closed form",
                            bool(np.max(np.abs(z)) <= 4.0), value=f"max |z| = {np.max(np.abs(z)):.2f}",
                            expected="<= 4", tolerance="|z| <= 4"))
    for case in (reference or {}).get("cases", []):
        Xr, yr = np.array(case["X"]), np.array(case["y"])
        h = HorseshoeRegression(noise_sd=case["noise_sd"], fit_intercept=False, draws=draws, warmup=500, chains=8,
                                noise_prior=None if case["noise_prior"] is None else tuple(case["noise_prior"]),
                                random_state=cfg.seed + 95).fit(Xr, yr)
        z = (h.coef_mean_ - np.array(case["mean"])) / np.hypot(h.mcse_, np.array(case["mcse"]))
        checks.append(holds(f"horseshoe ({case['name']}): posterior means within 4 combined MCSE of NUTS",
                            bool(np.max(np.abs(z)) <= 4.0), value=f"max |z| = {np.max(np.abs(z)):.2f}",
                            expected="<= 4", tolerance="|z| <= 4"))
    order = sorted(mse, key=lambda nm: mse[nm].value)
    return Record(
        id="2.P", title="Beyond the material: the Laplace prior beside the horseshoe and the Gaussian prior",
        statement=("The Laplace prior shrinks every weight by the same amount. How do its natural companions, the "
                   "Gaussian prior (MAP: ridge) and the horseshoe (a pole at 0 and Cauchy tails), treat large "
                   "signals and noise, on the same sampler?"),
        answer=(f"On a sparse problem (n = {n}, p = {p}, {k} non-zero weights, sigma = 1; sigma and every scale "
                f"learned) the horseshoe keeps {_percent(kept['horseshoe'])} of the large weights' size, the Laplace "
                f"prior {_percent(kept['Laplace'])} and the Gaussian prior {_percent(kept['Gaussian'])}; the nulls' "
                f"mean size is {_plain(nulls['horseshoe'])}, {_plain(nulls['Laplace'])} and "
                f"{_plain(nulls['Gaussian'])}. The expected test MSE (1 + ||w - w_hat||^2, exact for x ~ N(0, I)) "
                f"ranks them {', '.join(order)}: " + ", ".join(f"{nm} {_plain(mse[nm])}" for nm in order)
                + ". Every number is a function of a sampled posterior mean, shown to the digits its Monte Carlo "
                "error supports (the values below give the errors). On the diabetes data (table) the three agree "
                "on the strong effects (bmi, s5) and differ on the weak ones. There each prior learns sigma and its "
                "own scale; the view of 2.4 fixes sigma and sets tau by hand, so its means come close to these only "
                "where its tau is near the one learned here."),
        values={**{f"{nm}: expected test MSE": v for nm, v in mse.items()},
                **{f"{nm}: share of the large weights kept": v for nm, v in kept.items()},
                **{f"{nm}: mean size of the nulls": v for nm, v in nulls.items()}},
        table={"columns": ["diabetes feature", *[f"{nm}: mean [90% interval]" for nm in dfits]], "rows": rows},
        checks=checks,
        data=data,
    )


def run(quick: bool = False, replicates: int | None = None, client=None) -> list[Record]:
    """Every job-2 record, in the material's order, then 2.S. ``replicates`` sets the 2.5 study's replicates (at
    n = p; the curve gets a third of them); ``client`` runs that study's blocks as Dask tasks."""
    from dataclasses import replace

    from bmnn.bench_results import read

    cfg = QUICK if quick else LaplaceConfig()
    if replicates is not None:
        cfg = replace(cfg, mse_reps=replicates, mse_reps_curve=max(2, replicates // 3))
    return [q2_1_posterior(cfg), q2_2_map(cfg), q2_3_prior_knowledge(cfg), q2_4_tau_path(cfg),
            q2_5_test_mse(cfg, client), q2_P_priors(cfg, read("horseshoe_reference")),
            q2_S_scale(cfg, read("laplace_scale"))]
