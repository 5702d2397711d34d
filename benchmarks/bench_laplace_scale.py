"""Job 2 at scale: minimum bulk ESS per second of our Gibbs sampler against NumPyro's NUTS at four sizes, one
thread each, in one run; then the model with sigma and tau learned at 1000 x 100 against NUTS on the same model.

Data: 442 x 10 is scikit-learn's diabetes set (X standardised, y centred, sigma the least-squares residual sd,
lambda = 610); the others are synthetic (seeded): X standard normal, 10 true non-zero weights, sigma = 1, and tau
chosen so that the MAP has about 26 non-zeros. NUTS is run as its documentation shows it, ``MCMC(NUTS(model)).run``
with the progress bar off and 4 chains, its compilation included in its time. It runs in a child
process pinned to one core and is stopped at ``--cap`` seconds per size (default 600): after a warm-up of 1,000
iterations the draws are taken in chunks of 1,000, and its ESS/s is computed from the chunks finished by then. A
run that finishes no chunk within the cap is reported as an upper bound, 4 chains x 1,000 draws / cap. Ours: 16
chains on the same core, the Gaussian draw chosen by shape, the default over-relaxation and the default number of
collapsed coordinate steps (recorded; none at the two smaller sizes), the smallest tail ESS recorded beside the bulk
ESS for both samplers (over-relaxation raises the one and can lower the other). ESS and
MCSE from ArviZ for both (:mod:`bmnn.laplace.diagnostics`). Posterior means must agree within 4 combined MCSE for
at least 99% of the coordinates where NUTS finished.

``--repeat 1000x100 5`` instead runs both samplers five times at one size (seeds 0 to 4, alternating) and reports the
mean and sd of each sampler's ESS/s and of their ratio (``results/laplace_scale_repeats_1000x100.json``).

Needs the optional extra: pip install -e '.[bench]'. Last line: ``ESS/s vs NUTS: Ax Bx Cx; 100 x 10000: D ESS/s``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402
from _common import run_capped, save  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bmnn.datasets import load_bundled  # noqa: E402
from bmnn.laplace import gibbs  # noqa: E402
from bmnn.laplace.diagnostics import summarize  # noqa: E402
from bmnn.laplace.settings import DIABETES_LAMBDA  # noqa: E402

SIZES = [(442, 10), (1000, 100), (200, 2000), (100, 10000)]
OURS = {10: (500, 4000), 100: (500, 3000), 2000: (300, 1200), 10000: (300, 1000)}  # p -> (warm-up, draws)


def problem(n: int, p: int, seed: int = 0):
    """``(X, y, sigma, tau)`` for one size."""
    if (n, p) == (442, 10):
        X, y, _ = load_bundled("diabetes")
        X = (X - X.mean(0)) / X.std(0)
        y = y - y.mean()
        resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        sigma = float(np.sqrt(resid @ resid / (n - p)))
        return X, y, sigma, sigma**2 / DIABETES_LAMBDA
    rng = np.random.default_rng(seed + 1000 * p + n)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:10] = rng.choice([-1, 1], 10) * rng.uniform(0.5, 2.0, 10)
    y = X @ w + rng.standard_normal(n)
    return X, y, 1.0, tau_for_support(X, y, 1.0, 26)


def tau_for_support(X, y, sigma, k):
    """tau whose MAP has about ``k`` non-zeros (bisection on lambda = sigma^2 / tau, with scikit-learn's Lasso)."""
    from sklearn.linear_model import Lasso

    n = X.shape[0]
    hi = float(np.max(np.abs(X.T @ y)))
    lo = hi * 1e-4
    for _ in range(30):
        lam = np.sqrt(lo * hi)
        nz = int(np.count_nonzero(Lasso(alpha=lam / n, fit_intercept=False, max_iter=5000).fit(X, y).coef_))
        lo, hi = (lam, hi) if nz > k else (lo, lam)
    return sigma**2 / np.sqrt(lo * hi)


def fixed_model(sigma, tau):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model(X, y):
        w = numpyro.sample("w", dist.Laplace(jnp.zeros(X.shape[1]), tau).to_event(1))
        numpyro.sample("y", dist.Normal(X @ w, sigma), obs=y)

    return model


def learned_model(a0, b0, a, b):
    """Our learned model: sigma^2 ~ InvGamma(a0, b0), 1/tau ~ Gamma(a, b), w ~ Laplace(0, sigma tau)."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model(X, y):
        s2 = numpyro.sample("sigma2", dist.InverseGamma(a0, b0))
        rate = numpyro.sample("rate", dist.Gamma(a, b))
        w = numpyro.sample("w", dist.Laplace(jnp.zeros(X.shape[1]), jnp.sqrt(s2) / rate).to_event(1))
        numpyro.sample("y", dist.Normal(X @ w, jnp.sqrt(s2)), obs=y)

    return model


CHUNK = 1000  # NUTS draws per chain between two looks at the clock


def _nuts_child(kind, params, X, y, seed, queue, chunk=CHUNK, total=5000):
    """In a child process pinned to one core: warm-up, then draws in chunks of ``chunk``, each chunk's draws so far
    sent with the seconds spent (compilation included)."""
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS

    model = fixed_model(*params) if kind == "fixed" else learned_model(*params)
    t0 = time.perf_counter()
    mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=chunk, num_chains=4, chain_method="sequential",
                progress_bar=False)
    args = (jnp.asarray(X), jnp.asarray(y))
    mcmc.run(jax.random.PRNGKey(seed), *args)
    draws = [np.asarray(mcmc.get_samples(group_by_chain=True)["w"])]
    queue.put((np.concatenate(draws, axis=1), time.perf_counter() - t0))
    while sum(d.shape[1] for d in draws) < total:
        mcmc.post_warmup_state = mcmc.last_state
        mcmc.run(mcmc.post_warmup_state.rng_key, *args)
        draws.append(np.asarray(mcmc.get_samples(group_by_chain=True)["w"]))
        queue.put((np.concatenate(draws, axis=1), time.perf_counter() - t0))


def run_nuts(kind, params, X, y, cap, seed=0):
    """Minimum bulk ESS per second of NUTS (4 chains, one thread), stopped at ``cap`` seconds; the ESS/s is that of
    the draws finished by then. A run that finishes no draw within the cap gives an upper bound."""
    last = run_capped(_nuts_child, (kind, params, X, y, seed), cap, lambda last: last[0].shape[1] >= 5000)
    if last is None:
        return {"finished": False, "seconds": cap, "ess_per_s_upper_bound": 4 * CHUNK / cap}
    w, secs = last
    d = summarize(w)
    return {"finished": True, "seconds": secs, "draws": int(w.shape[1]), "min_ess_bulk": float(d["ess_bulk"].min()),
            "ess_per_s": float(d["ess_bulk"].min()) / secs, "min_ess_tail": float(d["ess_tail"].min()), "summary": d}


def ours(X, y, sigma, tau, p, seed=0, **kw):
    warm, draws = OURS[p] if p in OURS else (300, 1000)
    t = time.perf_counter()
    g = gibbs(X, y, sigma, tau, draws=draws, warmup=warm, chains=16, seed=seed, **kw)
    secs = time.perf_counter() - t
    d = summarize(g.draws)
    return {"seconds": secs, "draws": draws, "chains": 16, "algorithm": g.algorithm,
            "min_ess_bulk": float(d["ess_bulk"].min()), "ess_per_s": float(d["ess_bulk"].min()) / secs,
            "min_ess_tail": float(d["ess_tail"].min()), "overrelax": g.overrelax, "max_rhat": float(d["rhat"].max()),
            "coordinate_steps": 0 if g.coordinates is None else len(g.coordinates), "summary": d}


def agreement(a, b):
    z = (a["mean"] - b["mean"]) / np.hypot(a["mcse"], b["mcse"])
    return {"max_abs_z": float(np.max(np.abs(z))), "share_within_4": float(np.mean(np.abs(z) <= 4))}


def repeats(size: str, k: int, cap: float) -> None:
    """Both samplers ``k`` times at one size (seeds 0 .. k-1 for each), alternating, for the spread of the ratio
    between runs; written to ``results/laplace_scale_repeats_NxP.json``."""
    n, p = (int(v) for v in size.lower().split("x"))
    X, y, sigma, tau = problem(n, p)
    runs = []
    for seed in range(k):
        o = ours(X, y, sigma, tau, p, seed=seed)
        nu = run_nuts("fixed", (sigma, tau), X, y, cap, seed=seed)
        if not nu["finished"]:
            raise SystemExit(f"NUTS did not finish a chunk within {cap:.0f} s at {size}: use the main run")
        runs.append({"seed": seed, "ours": o["ess_per_s"], "nuts": nu["ess_per_s"],
                     "ratio": o["ess_per_s"] / nu["ess_per_s"]})
        print(f"{size} seed {seed}: ours {o['ess_per_s']:,.1f}, NUTS {nu['ess_per_s']:,.2f}, "
              f"ratio {runs[-1]['ratio']:.1f}x", flush=True)
    stats = {key: {"mean": float(np.mean([r[key] for r in runs])), "sd": float(np.std([r[key] for r in runs],
                                                                                      ddof=1))}
             for key in ("ours", "nuts", "ratio")}
    save(f"laplace_scale_repeats_{n}x{p}", {"machine": f"{platform.machine()}, {os.cpu_count()} cores, one thread "
                                             "each", "n": n, "p": p, "runs": runs, **stats})
    print(f"{size}, {k} runs: ratio {stats['ratio']['mean']:.1f}x (sd {stats['ratio']['sd']:.1f}); ours "
          f"{stats['ours']['mean']:,.0f} (sd {stats['ours']['sd']:,.0f}) ESS/s; NUTS {stats['nuts']['mean']:,.1f} "
          f"(sd {stats['nuts']['sd']:,.1f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cap", type=float, default=600.0, help="seconds NUTS may run per size (default 600)")
    ap.add_argument("--skip-learned", action="store_true")
    ap.add_argument("--repeat", nargs=2, metavar=("NxP", "K"),
                    help="instead of the main run: both samplers K times at one size, for the spread between runs")
    opts = ap.parse_args()

    if hasattr(os, "sched_setaffinity"):  # ours on one core too, the same one
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if opts.repeat:
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            repeats(opts.repeat[0], int(opts.repeat[1]), opts.cap)
        return
    rows = []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, p in SIZES:
            X, y, sigma, tau = problem(n, p)
            o = ours(X, y, sigma, tau, p)
            nu = run_nuts("fixed", (sigma, tau), X, y, opts.cap)
            row = {"n": n, "p": p, "sigma": sigma, "tau": tau, "ours": {k: v for k, v in o.items() if k != "summary"},
                   "nuts": {k: v for k, v in nu.items() if k != "summary"}}
            if nu["finished"]:
                row["ratio"] = o["ess_per_s"] / nu["ess_per_s"]
                row["agreement"] = agreement(o["summary"], nu["summary"])
            else:
                row["ratio_at_least"] = o["ess_per_s"] / nu["ess_per_s_upper_bound"]
            rows.append(row)
            print(f"{n} x {p}: ours {o['ess_per_s']:,.1f} ESS/s ({o['algorithm']}, {o['seconds']:.1f} s); NUTS "
                  + (f"{nu['ess_per_s']:,.2f} ESS/s ({nu['draws']} draws in {nu['seconds']:.0f} s); "
                     f"ratio {row['ratio']:.1f}x; agreement {row['agreement']}" if nu["finished"] else
                     f"did not finish warm-up in {opts.cap:.0f} s: ratio at least {row['ratio_at_least']:.1f}x"),
                  flush=True)
        learned = None
        if not opts.skip_learned:
            X, y, _, _ = problem(1000, 100)
            prior = {"noise_prior": (1.0, 1.0), "scale_prior": (1.0, 1.0)}
            o = ours(X, y, None, None, 100, **prior)
            nu = run_nuts("learned", (1.0, 1.0, 1.0, 1.0), X, y, opts.cap)
            learned = {"ours": {k: v for k, v in o.items() if k != "summary"},
                       "nuts": {k: v for k, v in nu.items() if k != "summary"}}
            if nu["finished"]:
                learned["ratio"] = o["ess_per_s"] / nu["ess_per_s"]
                learned["agreement"] = agreement(o["summary"], nu["summary"])
            print(f"learned sigma and tau, 1000 x 100: ours {o['ess_per_s']:,.1f} ESS/s, NUTS "
                  + (f"{nu['ess_per_s']:,.2f}: {learned['ratio']:.1f}x" if nu["finished"] else "did not finish"),
                  flush=True)
    save("laplace_scale", {"machine": f"{platform.machine()}, {os.cpu_count()} cores, one thread each",
                           "cap_seconds": opts.cap, "sizes": rows, "learned_1000x100": learned})
    ratios = " ".join(f"{r['ratio']:.0f}x" if "ratio" in r else f">={r['ratio_at_least']:.0f}x" for r in rows[:3])
    print(f"ESS/s vs NUTS: {ratios}; 100 x 10000: {rows[3]['ours']['ess_per_s']:.1f} ESS/s")


if __name__ == "__main__":
    main()
