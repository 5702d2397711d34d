"""Job 2: Bayesian linear regression with a Laplace prior (location mu, scale tau; noise sd sigma given or learned).

:class:`LaplaceRegression`, and its companions on the same sampler :class:`HorseshoeRegression` and
:class:`GaussianPriorRegression` (scikit-learn regressors), are imported on first use, so that the mathematical core
does not import scikit-learn.
"""

from typing import Any

from bmnn.laplace.gibbs import GibbsResult, gibbs, inverse_gaussian
from bmnn.laplace.map import MapResult, kkt_violation, map_estimate
from bmnn.laplace.posterior import (
    OrthonormalPosterior,
    lambda_from_tau,
    log_posterior,
    orthonormal_posterior,
    tau_from_lambda,
    tau_star,
)

__all__ = [
    "GaussianPriorRegression",
    "GibbsResult",
    "HorseshoeRegression",
    "LaplaceRegression",
    "MapResult",
    "OrthonormalPosterior",
    "gibbs",
    "inverse_gaussian",
    "kkt_violation",
    "lambda_from_tau",
    "log_posterior",
    "map_estimate",
    "orthonormal_posterior",
    "tau_from_lambda",
    "tau_star",
]


def __getattr__(name: str) -> Any:
    if name == "LaplaceRegression":
        from bmnn.laplace.estimator import LaplaceRegression

        return LaplaceRegression
    if name in ("HorseshoeRegression", "GaussianPriorRegression"):
        from bmnn.laplace import shrinkage

        return getattr(shrinkage, name)
    raise AttributeError(f"module 'bmnn.laplace' has no attribute {name!r}")
