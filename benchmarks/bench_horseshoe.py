"""The horseshoe prior: our Gibbs sampler (the shared kernel with :mod:`bmnn.laplace.priors.horseshoe`) against
NumPyro's NUTS, and the NUTS reference the tests compare with.

Timing (default): sigma and tau learned, no intercept, at 442 x 10 (scikit-learn's diabetes set, X standardised, y
centred; Jeffreys' prior on sigma^2) and 200 x 2000 (synthetic, seeded: X standard normal, 10 true non-zero weights
of size 2 to 5, sigma = 1; the inverse-gamma prior (3, 1) on sigma^2, since under Jeffreys' prior the posterior's
mass sits on interpolating fits there). The figure is the minimum bulk ESS per second over w, tau and sigma. NUTS
runs the non-centred model (``w = z lambda tau sigma``, ``z ~ N(0, 1)``) with ``target_accept_prob = 0.99``, 4
chains, 1,000 warm-up iterations, then draws in chunks of 1,000 up to 5,000 per chain, in a child process pinned to
one core and stopped at ``--cap`` seconds (default 600; compilation included); its divergences are reported. Ours:
16 chains on the same core. Result: ``src/bmnn/results/horseshoe.json``.

``--reference`` instead writes ``src/bmnn/results/horseshoe_reference.json`` (package data: the report checks
against it too): four small seeded problems (p < n and p > n,
sigma given and learned; tau learned), each with NUTS's posterior means and MCSE of w, tau and sigma (4 chains x
5,000 draws), for the tests and the report, which need no NumPyro.

Needs the optional extra: pip install -e '.[bench]'. Last line: ``horseshoe ESS/s vs NUTS: Ax (442 x 10), Bx (200 x
2000)``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
from _common import run_capped, save  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bmnn.datasets import load_bundled  # noqa: E402
from bmnn.laplace import HorseshoeRegression  # noqa: E402
from bmnn.laplace.diagnostics import summarize  # noqa: E402

REFERENCE = Path(__file__).resolve().parent.parent / "src" / "bmnn" / "results" / "horseshoe_reference.json"
CHUNK = 1000


def horseshoe_model(noise_sd, noise_prior=None):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model(X, y):
        p = X.shape[1]
        if noise_sd is None and noise_prior is not None:
            s2 = numpyro.sample("sigma2", dist.InverseGamma(*noise_prior))
            sigma = numpyro.deterministic("sigma", jnp.sqrt(s2))
        elif noise_sd is None:  # Jeffreys' prior 1 / sigma^2
            s2 = numpyro.sample("sigma2", dist.ImproperUniform(dist.constraints.positive, (), ()))
            numpyro.factor("jeffreys", -jnp.log(s2))
            sigma = numpyro.deterministic("sigma", jnp.sqrt(s2))
        else:
            sigma = noise_sd
        tau = numpyro.sample("tau", dist.HalfCauchy(1.0))
        lam = numpyro.sample("lam", dist.HalfCauchy(jnp.ones(p)).to_event(1))
        z = numpyro.sample("z", dist.Normal(jnp.zeros(p), 1.0).to_event(1))
        w = numpyro.deterministic("w", z * lam * tau * sigma)
        numpyro.sample("y", dist.Normal(X @ w, sigma), obs=y)

    return model


def _nuts_child(noise_sd, X, y, seed, queue, total=5000, warmup=1000, noise_prior=None):
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS

    t0 = time.perf_counter()
    mcmc = MCMC(NUTS(horseshoe_model(noise_sd, noise_prior), target_accept_prob=0.99), num_warmup=warmup,
                num_samples=CHUNK, num_chains=4, chain_method="sequential", progress_bar=False)
    args = (jnp.asarray(X), jnp.asarray(y))
    mcmc.run(jax.random.PRNGKey(seed), *args, extra_fields=("diverging",))
    keep = ["w", "tau"] + (["sigma"] if noise_sd is None else [])
    parts, div = [], 0

    def take():
        nonlocal div
        s = mcmc.get_samples(group_by_chain=True)
        parts.append({k: np.asarray(s[k]) for k in keep})
        div += int(np.sum(np.asarray(mcmc.get_extra_fields()["diverging"])))
        out = {k: np.concatenate([q[k] for q in parts], axis=1) for k in keep}
        queue.put((out, time.perf_counter() - t0, div))

    take()
    while sum(q["w"].shape[1] for q in parts) < total:
        mcmc.post_warmup_state = mcmc.last_state
        mcmc.run(mcmc.post_warmup_state.rng_key, *args, extra_fields=("diverging",))
        take()


def run_nuts(noise_sd, X, y, cap, seed=0, noise_prior=None):
    """NUTS's draws (w, tau, sigma), seconds and divergences, stopped at ``cap`` seconds."""
    return run_capped(_nuts_child, (noise_sd, X, y, seed), cap, lambda last: last[0]["w"].shape[1] >= 5000,
                      {"noise_prior": noise_prior})


def min_ess(draws: dict) -> float:
    """The smallest bulk ESS over w, tau and sigma."""
    out = [summarize(draws["w"])["ess_bulk"].min()]
    for k in ("tau", "sigma"):
        if k in draws and draws[k] is not None:
            out.append(summarize(draws[k][..., None])["ess_bulk"][0])
    return float(min(out))


def problem(n, p, seed=0, k=10, noise=1.0):
    """Seeded data: X standard normal, ``k`` weights of size 2 to 5 (random signs), the rest 0, noise sd ``noise``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    idx = rng.choice(p, size=k, replace=False)
    w[idx] = rng.uniform(2, 5, size=k) * rng.choice([-1, 1], size=k)
    return X, X @ w + noise * rng.standard_normal(n)


def timing(cap: float) -> None:
    Xd, yd, _ = load_bundled("diabetes")
    Xd = (Xd - Xd.mean(0)) / Xd.std(0)
    # at 200 x 2000 with Jeffreys' prior on sigma^2 the posterior's mass sits on interpolating fits (sigma near 0,
    # tau large: both samplers fail to mix there), so that size has the proper inverse-gamma prior (3, 1)
    sizes = [("442 x 10", Xd, yd - yd.mean(), (400, 4000), None),
             ("200 x 2000", *problem(200, 2000), (300, 1000), (3.0, 1.0))]
    rows = []
    for name, X, y, (warm, draws), noise_prior in sizes:
        with threadpool_limits(1):
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
            t = time.perf_counter()
            m = HorseshoeRegression(fit_intercept=False, draws=draws, warmup=warm, chains=16, random_state=0,
                                    noise_prior=noise_prior)
            m.fit(X, y)
            secs = time.perf_counter() - t
        ours = {"w": m.draws_, "tau": m.scale_draws_, "sigma": m.noise_sd_draws_}
        o = {"seconds": secs, "draws": draws, "chains": 16, "algorithm": m.algorithm_, "min_ess": min_ess(ours),
             "noise_prior": noise_prior}
        o["ess_per_s"] = o["min_ess"] / secs
        last = run_nuts(None, X, y, cap, noise_prior=noise_prior)
        if last is None:
            nu = {"finished": False, "seconds": cap, "ess_per_s_upper_bound": 4 * CHUNK / cap}
            row = {"size": name, "ours": o, "nuts": nu,
                   "ratio_at_least": o["ess_per_s"] / nu["ess_per_s_upper_bound"]}
        else:
            d, s, div = last
            nu = {"finished": True, "seconds": s, "draws": int(d["w"].shape[1]), "min_ess": min_ess(d),
                  "divergences": div, "divergent_share": div / (4 * d["w"].shape[1])}
            nu["ess_per_s"] = nu["min_ess"] / s
            z = (m.coef_mean_ - summarize(d["w"])["mean"]) / np.hypot(m.mcse_, summarize(d["w"])["mcse"])
            agree = {"max_abs_z": float(np.max(np.abs(z))), "share_within_4": float(np.mean(np.abs(z) <= 4))}
            row = {"size": name, "ours": o, "nuts": nu, "ratio": o["ess_per_s"] / nu["ess_per_s"], "agreement": agree}
        rows.append(row)
        print(json.dumps(row))
    save("horseshoe", {"machine": f"{os.cpu_count()} cores, one thread each", "cap_seconds": cap, "sizes": rows})
    ratios = ", ".join(f"{r['ratio']:.1f}x ({r['size']})" if "ratio" in r else f">= {r['ratio_at_least']:.1f}x "
                       f"({r['size']}, NUTS unfinished)" for r in rows)
    print(f"horseshoe ESS/s vs NUTS: {ratios}")


#: the reference problems: name, n, p, sigma (None: learned), the noise prior when learned (None: Jeffreys), seed.
#: With p > n and sigma learned, Jeffreys' prior lets NUTS wander to sigma -> 0 (an interpolating fit; min ESS 8
#: in a trial run), so that case has a proper inverse-gamma prior on sigma^2.
CASES = (("p<n, sigma given", 40, 8, 0.9, None, 1), ("p<n, sigma learned", 40, 8, None, None, 2),
         ("p>n, sigma given", 20, 30, 0.6, None, 3), ("p>n, sigma learned", 20, 30, None, (3.0, 1.0), 4))


def reference(only: str | None = None) -> None:
    """Write the NUTS reference of every case (``only``: recompute that case, keep the others)."""
    old = {c["name"]: c for c in json.loads(REFERENCE.read_text())["cases"]} if only and REFERENCE.exists() else {}
    cases = []
    for name, n, p, noise_sd, noise_prior, seed in CASES:
        if only and name != only and name in old:
            cases.append(old[name])
            continue
        X, y = problem(n, p, seed=seed, k=3, noise=noise_sd or 0.75)
        d, secs, div = run_nuts(noise_sd, X, y, cap=3600, seed=seed, noise_prior=noise_prior)
        sw = summarize(d["w"])
        st = summarize(d["tau"][..., None])
        case = {"name": name, "X": X.round(6).tolist(), "y": y.round(6).tolist(), "noise_sd": noise_sd,
                "noise_prior": noise_prior, "mean": sw["mean"].tolist(), "mcse": sw["mcse"].tolist(),
                "min_ess": float(sw["ess_bulk"].min()), "tau_mean": float(st["mean"][0]),
                "tau_mcse": float(st["mcse"][0]), "divergences": div, "draws": int(d["w"].shape[1]), "chains": 4}
        if noise_sd is None:
            ss = summarize(d["sigma"][..., None])
            case.update(sigma_mean=float(ss["mean"][0]), sigma_mcse=float(ss["mcse"][0]))
        cases.append(case)
        print(name, f"{secs:.0f} s, {div} divergences, min ESS {sw['ess_bulk'].min():.0f}")
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(json.dumps({"about": "NUTS (NumPyro, non-centred, target_accept_prob 0.99) posterior means "
                                              "and MCSE of the horseshoe regression, no intercept; by "
                                              "benchmarks/bench_horseshoe.py --reference", "cases": cases}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cap", type=float, default=600.0, help="seconds NUTS may run per size (default 600)")
    ap.add_argument("--reference", action="store_true", help="write the tests' NUTS reference instead")
    ap.add_argument("--case", help="with --reference: recompute only this case")
    args = ap.parse_args()
    reference(args.case) if args.reference else timing(args.cap)


if __name__ == "__main__":
    main()
