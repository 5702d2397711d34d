"""Diagnostics of any MCMC draws, as free functions of arrays shaped ``(chains, draws, ...)`` (ours or another
sampler's): posterior mean and sd, ArviZ's MCSE of the mean and of quantiles, bulk and tail ESS and rank-normalised
R-hat, equal-tailed credible intervals, and the MCSE of a smooth function of the posterior mean (the delta method on
ArviZ's MCSE).

Where a diagnostic is undefined (R-hat with one chain, ESS and MCSE with fewer than four draws) it is NaN, without a
warning or a log line: the caller decides how to show it.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray

from bmnn._checks import check_level


def quantile_mcse(draws: NDArray[np.float64], prob: float) -> NDArray[np.float64]:
    """ArviZ's Monte Carlo standard error of the ``prob`` quantile over the first two axes of ``draws`` (chains,
    draws, ...), per coordinate."""
    az = _arviz()
    log = getattr(az, "_log", None) or logging.getLogger("arviz")
    with np.errstate(all="ignore"), warnings.catch_warnings(), _quiet(log):
        warnings.simplefilter("ignore")
        ds = az.convert_to_dataset({"x": np.asarray(draws, dtype=np.float64)})
        return np.asarray(az.mcse(ds, method="quantile", prob=prob)["x"].values)


def delta_mcse(draws: NDArray[np.float64], gradient: NDArray[np.float64]) -> float:
    """The Monte Carlo standard error of ``fn(posterior mean)`` for a smooth ``fn`` whose gradient at the mean is
    ``gradient``, the mean taken over the first two axes of ``draws`` (chains, draws, p): the delta method, ArviZ's
    MCSE of the mean of the scalar series ``draws @ gradient``. It accounts for the correlation between coordinates
    and within chains, and is as stable as the MCSE of a mean."""
    series = np.asarray(draws, dtype=np.float64) @ np.asarray(gradient, dtype=np.float64)
    return float(summarize(series[..., None])["mcse"][0])


def summarize(draws: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Mean, sd, MCSE of the mean, bulk and tail ESS and R-hat over the first two axes of ``draws``
    (chains, draws, ...)."""
    draws = np.asarray(draws, dtype=np.float64)
    az = _arviz()
    log = getattr(az, "_log", None) or logging.getLogger("arviz")
    with np.errstate(all="ignore"), warnings.catch_warnings(), _quiet(log):
        warnings.simplefilter("ignore")
        # each coordinate in units of a power of two near its size (exact), so that squares neither overflow
        # (draws beyond 1e154) nor underflow; ESS and R-hat do not depend on the units
        size = np.max(np.abs(draws), axis=(0, 1), initial=0.0)
        e = np.where(np.isfinite(size) & (size > 0), np.frexp(np.where(size > 0, size, 1.0))[1], 0)
        x = np.ldexp(draws, -e)
        ds = az.convert_to_dataset({"x": x})
        sd = x.std(axis=(0, 1), ddof=1) if draws.shape[0] * draws.shape[1] > 1 else np.full(draws.shape[2:], np.nan)
        return {
            "mean": np.ldexp(x.mean(axis=(0, 1)), e),
            "sd": np.ldexp(sd, e),
            "mcse": np.ldexp(np.asarray(az.mcse(ds, method="mean")["x"].values), e),
            "ess_bulk": np.asarray(az.ess(ds, method="bulk")["x"].values),
            "ess_tail": np.asarray(az.ess(ds, method="tail")["x"].values),
            "rhat": np.asarray(az.rhat(ds)["x"].values),
        }


def interval(draws: NDArray[np.float64], level: float = 0.9) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The equal-tailed credible interval holding ``level`` of the draws, over the first two axes."""
    level = check_level(level)
    draws = np.asarray(draws, dtype=np.float64)
    flat = draws.reshape(-1, *draws.shape[2:])
    lo, hi = np.quantile(flat, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return lo, hi


@contextmanager
def _quiet(logger: logging.Logger):
    """Silence a library's log messages for the duration (ArviZ logs shape warnings through its own logger,
    which is not registered with ``logging``). A filter, not ``setLevel``: an unregistered logger's cache of
    enabled levels is not cleared when its level is set back, so lowering and restoring the level would leave its
    warnings silenced for the rest of the process."""

    def drop(record: logging.LogRecord) -> bool:
        return False

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ announces a refactor on import
        import arviz

    return arviz
