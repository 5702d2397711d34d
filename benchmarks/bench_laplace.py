"""Job 2's speed: bulk ESS per second of our Gibbs sampler against NumPyro's NUTS, in one run, and the MAP against
one plain scikit-learn Lasso call.

Data: scikit-learn's diabetes set, X standardised, y centred; sigma = the least-squares residual sd; tau such that
lambda = sigma^2 / tau = 610. NUTS: 4 chains, 2,000 warm-up and 5,000 draws (its JIT compilation included in its
time, as a user pays it). Ours: 64 chains advanced together, 500 warm-up and 5,000 draws. ESS and MCSE from ArviZ
for both. Needs the optional extra: pip install -e '.[bench]'. Last line: "ESS/s: <ratio>x NUTS".
"""

from __future__ import annotations

import os
import platform
import time
import warnings

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
from _common import best_of, save  # noqa: E402
from sklearn.linear_model import Lasso  # noqa: E402

from bmnn.datasets import load_bundled  # noqa: E402
from bmnn.laplace import gibbs, map_estimate  # noqa: E402
from bmnn.laplace.gibbs import GibbsResult  # noqa: E402
from bmnn.laplace.settings import DIABETES_LAMBDA  # noqa: E402


def data():
    X, y, _ = load_bundled("diabetes")
    X = (X - X.mean(0)) / X.std(0)
    y = y - y.mean()
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    sigma = float(np.sqrt(resid @ resid / (X.shape[0] - X.shape[1])))
    return X, y, sigma, sigma**2 / DIABETES_LAMBDA


def run_nuts(X, y, sigma, tau, seed=0):
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    def model(X, y):
        w = numpyro.sample("w", dist.Laplace(jnp.zeros(X.shape[1]), tau).to_event(1))
        numpyro.sample("y", dist.Normal(X @ w, sigma), obs=y)

    mcmc = MCMC(NUTS(model), num_warmup=2000, num_samples=5000, num_chains=4, chain_method="sequential",
                progress_bar=False)
    t = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed), jnp.asarray(X), jnp.asarray(y))
    w = np.asarray(mcmc.get_samples(group_by_chain=True)["w"])
    w.block_until_ready() if hasattr(w, "block_until_ready") else None
    return w, time.perf_counter() - t


def main() -> None:
    X, y, sigma, tau = data()
    t = time.perf_counter()
    ours = gibbs(X, y, sigma, tau, draws=5000, warmup=500, chains=64, seed=0)
    t_ours = time.perf_counter() - t
    d_ours = ours.diagnostics()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w_nuts, t_nuts = run_nuts(X, y, sigma, tau)
    d_nuts = GibbsResult(draws=w_nuts, rb_mean=w_nuts.mean(axis=1)).diagnostics()
    ess_s_ours = float(d_ours["ess_bulk"].min()) / t_ours
    ess_s_nuts = float(d_nuts["ess_bulk"].min()) / t_nuts
    z = (d_ours["mean"] - d_nuts["mean"]) / np.hypot(d_ours["mcse"], d_nuts["mcse"])

    n = X.shape[0]
    t_map = best_of(lambda: map_estimate(X, y, sigma, tau), repeat=20)
    t_lasso = best_of(lambda: Lasso(alpha=DIABETES_LAMBDA / n, fit_intercept=False).fit(X, y), repeat=20)
    res = map_estimate(X, y, sigma, tau)

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "sigma": sigma, "tau": tau,
        "lambda": DIABETES_LAMBDA,
        "ours": {"seconds": t_ours, "min_ess_bulk": float(d_ours["ess_bulk"].min()), "ess_per_s": ess_s_ours,
                 "max_rhat": float(d_ours["rhat"].max()), "chains": 64, "draws": 5000, "warmup": 500},
        "nuts": {"seconds": t_nuts, "min_ess_bulk": float(d_nuts["ess_bulk"].min()), "ess_per_s": ess_s_nuts,
                 "max_rhat": float(d_nuts["rhat"].max()), "chains": 4, "draws": 5000, "warmup": 2000},
        "ratio_ess_per_s": ess_s_ours / ess_s_nuts,
        "mean_agreement_max_abs_z": float(np.max(np.abs(z))),
        "map_seconds": t_map, "plain_lasso_seconds": t_lasso, "map_over_lasso": t_map / t_lasso,
        "map_certificate": res.max_violation,
    }
    save("laplace", result)
    print(f"ours: {t_ours:.2f} s, min bulk ESS {d_ours['ess_bulk'].min():.0f}, {ess_s_ours:,.0f} ESS/s, "
          f"max R-hat {d_ours['rhat'].max():.4f}")
    print(f"NUTS: {t_nuts:.2f} s, min bulk ESS {d_nuts['ess_bulk'].min():.0f}, {ess_s_nuts:,.0f} ESS/s, "
          f"max R-hat {d_nuts['rhat'].max():.4f}")
    print(f"posterior means agree: largest |z| = {np.max(np.abs(z)):.2f} over {len(z)} coefficients")
    print(f"MAP {t_map * 1e3:.2f} ms (certificate {res.max_violation:.1e}) vs one plain Lasso {t_lasso * 1e3:.2f} ms:"
          f" {t_map / t_lasso:.2f}x")
    print(f"ESS/s: {ess_s_ours / ess_s_nuts:.1f}x NUTS")


if __name__ == "__main__":
    main()
