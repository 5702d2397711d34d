"""Job 2: Bayesian linear regression with a Laplace prior (location mu, scale tau, known noise sd sigma)."""

from bmnn.laplace.estimator import LaplaceRegression
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
    "GibbsResult",
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
