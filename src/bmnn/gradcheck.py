"""Central finite differences for any scalar function of a dict of arrays (a leaf module: numpy only).

The five-point stencil ``(-f(p + 2e) + 8 f(p + e) - 8 f(p - e) + f(p - 2e)) / (12 eps)`` has truncation error
O(eps^4); with the default ``eps = 1e-3`` both it and the rounding error (about 1e-16 / eps) stay near 1e-12.

The error reported per key is normwise relative: ``max |g - d| / max(max |g|, max |d|, floor)`` where ``g`` is the
gradient under test and ``d`` the finite-difference estimate. Normwise (not entrywise) so that entries whose true
gradient is ~0 do not turn rounding noise into a huge "relative" error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import NDArray

from bmnn._checks import InputError

Params = Mapping[str, NDArray[np.float64]]


def numerical_gradient(f: Callable[[Params], float], params: Params, eps: float = 1e-3) -> dict[str, NDArray]:
    """The five-point central difference for every entry of every array (float64 copies are used)."""
    if not (isinstance(eps, (int, float, np.floating, np.integer)) and np.isfinite(eps) and eps > 0):
        raise InputError(f"eps must be a finite number > 0 (the finite-difference step), got {eps!r}", param="eps")
    work = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
    out = {}
    for key, arr in work.items():
        grad = np.empty_like(arr)
        flat, gflat = arr.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            vals = []
            for step in (2 * eps, eps, -eps, -2 * eps):
                flat[i] = old + step
                vals.append(f(work))
            flat[i] = old
            gflat[i] = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * eps)
        out[key] = grad
    return out


def relative_error(a: NDArray, b: NDArray, floor: float = 1e-12) -> float:
    """Normwise relative difference ``max |a - b| / max(max |a|, max |b|, floor)``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise InputError(f"shapes differ: {a.shape} and {b.shape}")
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), floor)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def check_gradients(f: Callable[[Params], float], params: Params, grads: Params, eps: float = 1e-3) -> dict[str, float]:
    """The largest relative error per key between ``grads`` and central finite differences of ``f``."""
    missing = set(params) ^ set(grads)
    if missing:
        raise InputError(f"grads must have the same keys as params; these differ: {sorted(missing)}")
    num = numerical_gradient(f, params, eps)
    return {k: relative_error(grads[k], num[k]) for k in params}
