"""The exact Gaussian conditional draw at the heart of the Laplace-regression Gibbs sampler, by the cheaper of two
algorithms, for many chains at once.

Given the prior variances ``d`` of ``theta = w - mu`` (one vector per chain) and the noise sd ``sigma`` (one per
chain), the conditional is ``theta | d, sigma, y ~ N(A^-1 c, A^-1)`` with ``A = X^T X / sigma^2 + diag(1 / d)`` and
``c = X^T r / sigma^2``, ``r = y - X mu``. Two exact ways to draw from it:

* **precision** (the p x p system; Rue 2001), cost O(p^3) per chain: by perturbation,
  ``xi = S z_1 / sigma + z_2 / sqrt(d) ~ N(0, A)`` (``S S^T = X^T X``, computed once), ``theta = A^-1 (c + xi)``;
  ``A`` is factorised once and both right-hand sides (``c + xi`` and ``c``, the Rao-Blackwellised mean) are solved
  with it, by Cholesky (LAPACK) from p = 32 on and by numpy's batched LU solve below (see ``CHOLESKY_FROM``).
* **Bhattacharya, Chakraborty & Mallick** (2016, Biometrika), cost O(n^2 p) per chain: with ``Phi = X / sigma``,
  ``u ~ N(0, diag(d))``, ``delta ~ N(0, I_n)``, ``v = Phi u + delta``, solve
  ``(Phi diag(d) Phi^T + I_n) omega = r / sigma - v``; then ``theta = u + diag(d) Phi^T omega``, and the same
  system with right-hand side ``r / sigma`` gives the Rao-Blackwellised mean. Memory O(chains (n^2 + n p)).

:func:`choose` picks by the operation counts (the precision way when ``p`` is small relative to ``n``). The
linear algebra is numpy's and SciPy's LAPACK and BLAS (for the n x n system, the symmetric rank-k update ``dsyrk``,
a quarter faster here than the general product, and ``scipy.linalg.cho_solve`` on stacks); that choice of library
is made here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg as sla
from numpy.typing import NDArray
from scipy.linalg.blas import dsyrk
from scipy.linalg.lapack import dpotrf, dpotrs

from bmnn._checks import InputError

Algorithm = Literal["precision", "bcm"]

#: from this p on, the p x p systems are solved by LAPACK's Cholesky (dpotrf, dpotrs), chain by chain; below it by
#: numpy's batched LU solve, whose single call costs less than the loop's calls (measured here with 16 chains: LU
#: 42 against 76 microseconds at p = 10; Cholesky 219 against 299 at p = 40 and 577 against 1128 at p = 100)
CHOLESKY_FROM = 32


def costs(n: int, p: int) -> dict[str, float]:
    """Floating-point operations of one draw per chain by each algorithm (leading terms)."""
    return {"precision": 2 * p**3 / 3 + 4 * p * p, "bcm": n * n * p + n**3 / 3 + 4 * n * p}


def choose(n: int, p: int) -> Algorithm:
    """The cheaper exact algorithm for an ``n x p`` design."""
    c = costs(n, p)
    return "precision" if c["precision"] <= c["bcm"] else "bcm"


@dataclass(frozen=True)
class Design:
    """What the draw needs from the data, computed once: ``X``, ``r = y - X mu``, ``X^T X`` and its square root,
    ``X^T r`` (the precision way needs only the last three; the BCM way only ``X`` and ``r``)."""

    X: NDArray[np.float64] | None
    r: NDArray[np.float64] | None
    gram: NDArray[np.float64]
    root: NDArray[np.float64]
    xtr: NDArray[np.float64]
    algorithm: Algorithm
    rtr: float = 0.0  # r^T r
    n: int = 0

    @classmethod
    def from_gram(cls, gram: NDArray, xtr: NDArray, rtr: float, n: int) -> Design:
        """The precision draw's design from the statistics alone (no rows of X)."""
        evals, evecs = np.linalg.eigh(gram)
        root = evecs * np.sqrt(np.clip(evals, 0.0, None))[None, :]
        return cls(X=None, r=None, gram=gram, root=root, xtr=xtr, algorithm="precision", rtr=rtr, n=n)

    def marginal_quad(self, m: NDArray, s: NDArray) -> NDArray:
        """``r^T (I + X diag(s) X^T)^-1 r`` for each chain, from ``m = (X^T X + diag(1/s))^-1 X^T r`` (the
        conditional mean at sigma = 1): ``||r - X m||^2 + m^T diag(1/s) m``. It sets learned sigma's conditional."""
        return self.residual_ss(m) + np.sum(m * m / s, axis=1)

    def residual_ss(self, m: NDArray) -> NDArray:
        """``||r - X m||^2`` for each row of ``m`` (from the rows of X when there are, else from the statistics)."""
        if self.X is not None:
            resid = self.r[None] - m @ self.X.T
            return np.sum(resid * resid, axis=1)
        return np.maximum(self.rtr - 2.0 * (m @ self.xtr) + np.einsum("kp,pq,kq->k", m, self.gram, m), 0.0)

    @classmethod
    def build(cls, X: NDArray, r: NDArray, algorithm: Algorithm | None = None) -> Design:
        n, p = X.shape
        algorithm = algorithm or choose(n, p)
        if algorithm not in ("precision", "bcm"):
            raise InputError(f"algorithm must be 'precision' or 'bcm', got {algorithm!r}")
        gram = X.T @ X
        if algorithm == "precision":
            evals, evecs = np.linalg.eigh(gram)  # a square root of the PSD Gram matrix (p > n is allowed)
            root = evecs * np.sqrt(np.clip(evals, 0.0, None))[None, :]
        else:
            root = np.empty((0, 0))
        return cls(X=X, r=r, gram=gram, root=root, xtr=X.T @ r, algorithm=algorithm, rtr=float(r @ r), n=n)

    def memory(self, chains: int) -> float:
        """Bytes one draw for ``chains`` chains needs."""
        n, p = self.n, self.gram.shape[0]
        per = 3 * p * p + 8 * p if self.algorithm == "precision" else 2 * n * n + 2 * n * p + 8 * (n + p)
        return 8.0 * chains * per



def draw(design: Design, d: NDArray, sigma: NDArray, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    """One exact draw of ``theta`` per chain, and the conditional mean ``A^-1 c`` (for Rao-Blackwellisation).

    Parameters
    ----------
    d : array (chains, p)
        Prior variances of ``theta`` given the mixing variables (``> 0``).
    sigma : array (chains,)
        Noise sd per chain.
    """
    if design.algorithm == "precision":
        return _draw_precision(design, d, sigma, rng)
    return _draw_bcm(design, d, sigma, rng)


def _draw_precision(design: Design, d: NDArray, sigma: NDArray, rng: np.random.Generator):
    chains, p = d.shape
    s2 = (sigma * sigma)[:, None]
    A = design.gram[None] / s2[..., None]
    idx = np.arange(p)
    A[:, idx, idx] += 1.0 / d
    z1 = rng.standard_normal((chains, p))
    z2 = rng.standard_normal((chains, p))
    c = design.xtr[None] / s2
    rhs = np.empty((chains, p, 2))
    rhs[..., 1] = c
    rhs[..., 0] = c + (z1 @ design.root.T) / sigma[:, None] + z2 / np.sqrt(d)
    if p < CHOLESKY_FROM:
        sol = np.linalg.solve(A, rhs)
    else:
        sol = np.empty_like(rhs)
        for k in range(chains):  # LAPACK's Cholesky factor and solve, one chain at a time
            low, info = dpotrf(A[k], lower=1, clean=0, overwrite_a=1)
            if info != 0:  # not positive definite to working precision: LU instead
                sol[k] = np.linalg.solve(A[k], rhs[k])
                continue
            sol[k], _ = dpotrs(low, rhs[k], lower=1)
    return sol[..., 0], sol[..., 1]


def _draw_bcm(design: Design, d: NDArray, sigma: NDArray, rng: np.random.Generator):
    chains, p = d.shape
    X, n = design.X, design.X.shape[0]
    u = np.sqrt(d) * rng.standard_normal((chains, p))
    delta = rng.standard_normal((chains, n))
    inv = 1.0 / sigma[:, None]
    v = (u @ X.T) * inv + delta  # Phi u + delta
    Xs = X[None] * np.sqrt(d)[:, None, :]  # X diag(d)^(1/2), per chain
    M = np.empty((chains, n, n))
    for k in range(chains):  # Phi diag(d) Phi^T, lower triangle only (symmetric rank-k update: half a product)
        M[k] = dsyrk(float(inv[k, 0] ** 2), Xs[k], lower=1)
    M[:, np.arange(n), np.arange(n)] += 1.0  # numpy's Cholesky reads the lower triangle only
    alpha = design.r[None] * inv
    rhs = np.stack([alpha - v, alpha], axis=-1)
    L = np.linalg.cholesky(M)
    omega = sla.cho_solve((L, True), rhs, check_finite=False)  # (chains, n, 2)
    back = (X.T @ omega.transpose(1, 0, 2).reshape(n, 2 * chains)).reshape(p, chains, 2).transpose(1, 0, 2)
    back *= (d * inv)[..., None]  # diag(d) Phi^T omega
    return u + back[..., 0], back[..., 1]
