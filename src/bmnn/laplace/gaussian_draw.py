"""The exact Gaussian conditional draw at the heart of the Laplace-regression Gibbs sampler, by the cheaper of two
algorithms, for many chains at once.

Given the prior variances ``d`` of ``theta = w - mu`` (one vector per chain) and the noise sd ``sigma`` (one per
chain), the conditional is ``theta | d, sigma, y ~ N(A^-1 c, A^-1)`` with ``A = X^T X / sigma^2 + diag(1 / d)`` and
``c = X^T r / sigma^2``, ``r = y - X mu``. Two exact ways to draw from it:

* **precision** (the p x p system; Rue 2001), cost O(p^3) per chain: by perturbation,
  ``xi = S z_1 / sigma + z_2 / sqrt(d) ~ N(0, A)`` (``S S^T = X^T X``, computed once), ``theta = A^-1 (c + xi)``;
  ``A`` is factorised once and both right-hand sides (``c + xi`` and ``c``, the Rao-Blackwellised mean) are solved
  with it, by Cholesky (LAPACK's ``dposv``, factor and solve in one call, in place) from p = 32 on and by numpy's
  batched LU solve below (see ``CHOLESKY_FROM``). A sampler's successive draws share a :class:`Workspace`: the
  buffer LAPACK factorises in place and ``X^T X / sigma^2``, computed once while sigma stays the same.
* **Bhattacharya, Chakraborty & Mallick** (2016, Biometrika), cost O(n^2 p) per chain: with ``Phi = X / sigma``,
  ``u ~ N(0, diag(d))``, ``delta ~ N(0, I_n)``, ``v = Phi u + delta``, solve
  ``(Phi diag(d) Phi^T + I_n) omega = r / sigma - v``; then ``theta = u + diag(d) Phi^T omega``, and the same
  system with right-hand side ``r / sigma`` gives the Rao-Blackwellised mean. Memory O(chains (n^2 + n p)).

:func:`choose` picks by the operation counts (the precision way when ``p`` is small relative to ``n``). The
linear algebra is numpy's and SciPy's LAPACK and BLAS; that choice of library is made here and nowhere else.

**Mixed precision for the n x n system** (the BCM way). Forming ``M = I + Phi diag(d) Phi^T`` costs ``n^2 p``, all
the rest ``O(n p + n^3)``; it is formed and factorised in float32 (a general product: single-precision BLAS is
twice the speed here, and OpenBLAS's ``ssyrk`` measured slower than ``sgemm``), and the solution is then refined
in float64 against the exact operator applied without forming it, ``M w = w + X (d * (X^T w)) / sigma^2``
(iterative refinement, as LAPACK's ``dsposv``, with its stopping rule: the residual's max-norm at most
``||w|| ||M|| eps sqrt(n)``, eps of float64, i.e. a float64-backward-stable solution; ``||M||`` is bounded by
``1 + sum_j d_j ||x_j||^2 / sigma^2``, the trace bound, known without forming M). A chain whose refinement does
not converge within ``REFINE_MAX`` steps (``M`` too ill-conditioned for float32, or out of its range) is solved in
float64 throughout. The result is the float64 solution; float32 only makes it cheaper to reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import eigh
from scipy.linalg.blas import dsyrk
from scipy.linalg.lapack import dposv, dpotrf, dpotrs, spotrf, spotrs

from bmnn._checks import InputError

Algorithm = Literal["precision", "bcm"]

#: from this p on, the p x p systems are solved by LAPACK's Cholesky (dposv), chain by chain; below it by numpy's
#: batched LU solve, whose single call costs less than the loop's calls (one draw for 16 chains, measured here: LU
#: 45 against 60 microseconds at p = 10, 110 against 123 at p = 24; Cholesky 123 against 236 at p = 32 and 650
#: against 1216 at p = 100)
CHOLESKY_FROM = 32

#: columns whose factor ``sqrt(d_j) max|x_j|`` is below this are left out of the float32 matrix (their terms'
#: entries are below 1e-36, next to I's ones; the float64 refinement accounts for them exactly), so that no
#: subnormal float32 numbers, slow on this hardware, enter the product
ROOT_FLOOR = 1e-18

#: the most refinement steps of the mixed-precision n x n solve before a chain falls back to float64 (LAPACK's
#: dsposv allows 30; here a well-conditioned M converges in 2 or 3)
REFINE_MAX = 30


def costs(n: int, p: int) -> dict[str, float]:
    """Floating-point operations of one draw per chain by each algorithm (leading terms)."""
    return {"precision": 2 * p**3 / 3 + 4 * p * p, "bcm": n * n * p + n**3 / 3 + 4 * n * p}


def choose(n: int, p: int) -> Algorithm:
    """The cheaper exact algorithm for an ``n x p`` design."""
    c = costs(n, p)
    return "precision" if c["precision"] <= c["bcm"] else "bcm"


@dataclass(frozen=True)
class Design:
    """What the draw needs from the data, computed once: ``X``, ``r = y - X mu``, ``X^T r``; for the precision way
    ``X^T X`` and its square root; for the BCM way (no p x p matrix) X in float32 with its columns scaled by
    ``colscale`` and the squared column norms."""

    X: NDArray[np.float64] | None
    r: NDArray[np.float64] | None
    gram: NDArray[np.float64] | None  # None for the BCM way (p x p may not fit: 800 MB at p = 10,000)
    root: NDArray[np.float64]
    xtr: NDArray[np.float64]
    algorithm: Algorithm
    rtr: float = 0.0  # r^T r
    n: int = 0
    x32: NDArray[np.float32] | None = None  # X in float32 (the BCM way's mixed precision)
    colnorm2: NDArray[np.float64] | None = None  # the diagonal of X^T X
    colscale: NDArray[np.float64] | None = None  # x32 = X / colscale, column by column

    @property
    def p(self) -> int:
        return self.xtr.shape[0]

    def gram_columns(self, cols: NDArray) -> NDArray[np.float64]:
        """``(X^T X)[:, cols]``, shape (p, len(cols)), without forming the p x p matrix when there are rows."""
        if self.gram is not None:
            return self.gram[:, cols]
        return self.X.T @ self.X[:, cols]

    def gram_diagonal(self) -> NDArray[np.float64]:
        """The diagonal of ``X^T X`` (the squared column norms)."""
        if self.colnorm2 is not None:
            return self.colnorm2
        return np.diag(self.gram).copy()

    @classmethod
    def from_gram(cls, gram: NDArray, xtr: NDArray, rtr: float, n: int, eig: tuple | None = None) -> Design:
        """The precision draw's design from the statistics alone (no rows of X); ``eig``: ``gram``'s eigenvalues
        and eigenvectors where already computed."""
        evals, evecs = np.linalg.eigh(gram) if eig is None else eig
        root = evecs * np.sqrt(np.clip(evals, 0.0, None))[None, :]
        return cls(X=None, r=None, gram=gram, root=root, xtr=xtr, algorithm="precision", rtr=rtr, n=n)

    def marginal_quad(self, m: NDArray, s: NDArray) -> NDArray:
        """``r^T (I + X diag(s) X^T)^-1 r`` for each chain, from ``m = (X^T X + diag(1/s))^-1 X^T r`` (the
        conditional mean at sigma = 1): ``||r - X m||^2 + m^T diag(1/s) m``. It sets learned sigma's conditional."""
        return self.residual_ss(m) + np.sum(m * m / s, axis=1)

    def spectrum(self, d: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """For prior variances ``d`` (chains, p): the eigenvalues ``kappa`` of ``X diag(d) X^T`` (its non-zero ones),
        weights ``u`` and the remainder ``rest`` such that, for any factor ``t``, ``r^T (I + t X diag(d) X^T)^-1 r =
        rest + sum_i u_i / (1 + t kappa_i)`` and ``log det(I + t X diag(d) X^T) = sum_i log1p(t kappa_i)``. From the
        n x n matrix when there are rows and p > n, else from the p x p one ``D^1/2 X^T X D^1/2`` (where the
        remainder is the part of r outside the columns' span); one eigendecomposition per chain, float64."""
        chains = d.shape[0]
        if self.X is not None and self.p > self.n:
            kappa, u = np.empty((chains, self.n)), np.empty((chains, self.n))
            for c in range(chains):  # X D X^T as a symmetric rank-p update (BLAS dsyrk: half a general product)
                a = self.X * np.sqrt(d[c])  # C order, so its transpose is Fortran order: no copy for BLAS
                k = dsyrk(1.0, a.T, trans=1, lower=1)
                kappa[c], q = eigh(k, lower=True, overwrite_a=True, check_finite=False, driver="evd")
                u[c] = (q.T @ self.r) ** 2
            return np.maximum(kappa, 0.0), u, np.zeros(chains)
        gram = self.gram if self.gram is not None else self.X.T @ self.X
        root = np.sqrt(d)
        kappa, q = np.linalg.eigh(root[:, :, None] * gram[None] * root[:, None, :])
        proj = np.einsum("kpi,kp->ki", q, root * self.xtr) ** 2
        big = kappa > 1e-12 * np.max(kappa, axis=1, keepdims=True)
        u = np.where(big, proj / np.where(big, kappa, 1.0), 0.0)
        return np.where(big, kappa, 0.0), u, np.maximum(self.rtr - np.sum(u, axis=1), 0.0)

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
        if algorithm == "bcm":  # X in float32, each column scaled by its largest |entry| into float32's range
            colscale = np.max(np.abs(X), axis=0)
            colscale[colscale == 0] = 1.0
            return cls(X=X, r=r, gram=None, root=np.empty((0, 0)), xtr=X.T @ r, algorithm=algorithm,
                       rtr=_sum_squares(r), n=n, colnorm2=np.einsum("ij,ij->j", X, X), colscale=colscale,
                       x32=np.asfortranarray(X / colscale, dtype=np.float32))  # F: sgemm measured faster
        gram = X.T @ X
        evals, evecs = np.linalg.eigh(gram)  # a square root of the PSD Gram matrix (p > n is allowed)
        root = evecs * np.sqrt(np.clip(evals, 0.0, None))[None, :]
        return cls(X=X, r=r, gram=gram, root=root, xtr=X.T @ r, algorithm=algorithm, rtr=_sum_squares(r), n=n)

    def memory(self, chains: int) -> float:
        """Bytes one draw for ``chains`` chains needs: ``8 chains (3 p^2 + 8 p)`` for the p x p way; for the n x n
        way a float32 factor per chain, ``4 chains n^2``, and ``8 (chains 8 (n + p) + n p + n^2)`` (vectors per
        chain, X in float32 with a scaled copy, one float64 n x n matrix for a fallback)."""
        n, p = self.n, self.p
        if self.algorithm == "precision":
            return 8.0 * chains * (3 * p * p + 8 * p)
        return 4.0 * chains * n * n + 8.0 * (chains * 8 * (n + p) + n * p + n * n)



def _sum_squares(r: NDArray) -> float:
    """``r^T r``; ``inf`` without a warning where it leaves float64 (it is used only when sigma is learned, and the
    sampler then scales r to size 1 first)."""
    with np.errstate(over="ignore"):
        return float(r @ r)


def draw(design: Design, d: NDArray, sigma: NDArray, rng: np.random.Generator,
         work: Workspace | None = None) -> tuple[NDArray, NDArray]:
    """One exact draw of ``theta`` per chain, and the conditional mean ``A^-1 c`` (for Rao-Blackwellisation).

    Parameters
    ----------
    d : array (chains, p)
        Prior variances of ``theta`` given the mixing variables (``> 0``).
    sigma : array (chains,)
        Noise sd per chain.
    work : Workspace, optional
        Buffers kept between draws of one sampler (a sampler makes one and passes it to every draw).
    """
    if design.algorithm == "precision":
        return _draw_precision(design, d, sigma, rng, work or Workspace())
    return _draw_bcm(design, d, sigma, rng)


class Workspace:
    """What one sampler's successive draws can share: the p x p matrices' buffer (LAPACK factorises in place, so
    each draw writes it afresh) and ``X^T X / sigma^2`` for the last sigma (fixed sigma: computed once). Not shared
    between samplers running at the same time."""

    def __init__(self) -> None:
        self.systems: NDArray | None = None
        self.sigma: NDArray | None = None
        self.scaled: NDArray | None = None

    def scaled_gram(self, gram: NDArray, sigma: NDArray) -> NDArray:
        """``gram / sigma[k]^2`` for every chain, (chains, p, p), recomputed only when sigma changed."""
        if self.sigma is None or not np.array_equal(self.sigma, sigma):
            self.scaled = gram[None] / (sigma * sigma)[:, None, None]
            self.sigma = sigma.copy()
        return self.scaled

    def buffer(self, shape: tuple[int, ...]) -> NDArray:
        if self.systems is None or self.systems.shape != shape:
            self.systems = np.empty(shape)
        return self.systems


def _draw_precision(design: Design, d: NDArray, sigma: NDArray, rng: np.random.Generator, work: Workspace):
    chains, p = d.shape
    s2 = (sigma * sigma)[:, None]
    z = rng.standard_normal((2, chains, p))
    c = design.xtr[None] / s2
    xi = (z[0] @ design.root.T) / sigma[:, None] + z[1] / np.sqrt(d)  # ~ N(0, A)
    idx = np.arange(p)
    if p < CHOLESKY_FROM:
        A = work.scaled_gram(design.gram, sigma).copy()
        A[:, idx, idx] += 1.0 / d
        rhs = np.empty((chains, p, 2))
        rhs[..., 1] = c
        rhs[..., 0] = c + xi
        sol = np.linalg.solve(A, rhs)
        return sol[..., 0], sol[..., 1]
    A = work.buffer((chains, p, p))
    np.copyto(A, work.scaled_gram(design.gram, sigma))
    diagonal = A.reshape(chains, p * p)[:, :: p + 1]  # a view: cheaper than indexing with idx
    diagonal += 1.0 / d
    rows = np.empty((chains, 2, p))  # rows[k].T is in Fortran order: passed without a copy, solved in place
    rows[:, 1] = c
    rows[:, 0] = c + xi
    for k in range(chains):  # LAPACK's Cholesky factorisation and solve (dposv), one chain at a time
        # A[k] is symmetric, so its transpose is the same matrix in Fortran order: factorised in place, no copy
        _, x, info = dposv(A[k].T, rows[k].T, lower=1, overwrite_a=1, overwrite_b=1)
        if info == 0 and not np.may_share_memory(x, rows):  # solved in place unless the wrapper had to copy
            rows[k] = x.T
        elif info != 0:  # not positive definite to working precision: LU instead, on the matrix rebuilt
            a = design.gram / s2[k, 0]
            a[idx, idx] += 1.0 / d[k]
            rows[k] = np.linalg.solve(a, np.stack([c[k] + xi[k], c[k]], axis=1)).T
    return rows[:, 0], rows[:, 1]


def _draw_bcm(design: Design, d: NDArray, sigma: NDArray, rng: np.random.Generator):
    chains, p = d.shape
    X = design.X
    u = np.sqrt(d) * rng.standard_normal((chains, p))
    delta = rng.standard_normal((chains, design.n))
    inv = 1.0 / sigma
    rhs = np.empty((chains, 2, design.n))  # rows: the draw's and the mean's right-hand sides
    rhs[:, 1] = design.r[None] * inv[:, None]
    rhs[:, 0] = rhs[:, 1] - (u @ X.T) * inv[:, None] - delta  # r / sigma - (Phi u + delta)
    _, back = solve_bcm(design, d * (inv * inv)[:, None], rhs)  # back = X^T omega, (chains, 2, p)
    back *= (d * inv[:, None])[:, None, :]  # diag(d) Phi^T omega
    return u + back[:, 0], back[:, 1]


def _apply_m(X: NDArray, dd: NDArray, w: NDArray) -> tuple[NDArray, NDArray]:
    """``(I + X diag(dd[k]) X^T) w[k, i]`` for every chain k and row i of ``w`` (chains, m, n), in float64, without
    forming the n x n matrices; and ``X^T w[k, i]`` on the way, (chains, m, p)."""
    chains, m, n = w.shape
    xt = (w.reshape(chains * m, n) @ X).reshape(chains, m, -1)
    return w + ((xt * dd[:, None, :]).reshape(chains * m, -1) @ X.T).reshape(chains, m, n), xt


def _solve32(low: NDArray[np.float32], b: NDArray) -> NDArray:
    """``M^-1 b[i]`` for the rows of ``b`` from a float32 Cholesky factor, each row scaled into float32's range first
    (a row of zeros stays zero)."""
    scale = np.max(np.abs(b), axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    x, _ = spotrs(low, (b / scale).astype(np.float32).T, lower=1)
    return x.T.astype(np.float64) * scale


def solve_bcm(design: Design, dd: NDArray, rhs: NDArray) -> tuple[NDArray, NDArray]:
    """Solve ``(I + X diag(dd[k]) X^T) w = rhs[k, i]`` for every chain k and row i of ``rhs`` (chains, m, n) to
    float64 accuracy: float32 formation and factorisation, float64 iterative refinement (module docstring).

    Returns the solutions (chains, m, n) and ``X^T`` applied to them (chains, m, p), which the refinement computes.
    """
    X, x32 = design.X, design.x32
    chains, _, n = rhs.shape
    eps, root_n = np.finfo(np.float64).eps, np.sqrt(n)
    buf = np.empty_like(x32)
    factors: list = [None] * chains
    norms = 1.0 + dd @ design.gram_diagonal()  # 1 + trace(X diag(dd) X^T) >= ||M||_2: the stopping rule's norm
    omega = np.zeros_like(rhs)
    xt = np.empty((chains, rhs.shape[1], X.shape[1]))
    with np.errstate(over="ignore", invalid="ignore"):
        roots = np.sqrt(dd) * design.colscale  # buf = X diag(sqrt(dd)), entry by entry as in float64
        roots[roots < ROOT_FLOOR] = 0.0  # below float32's resolution next to I: left to the refinement
        roots[:, design.colnorm2 == 0] = 0.0  # a column of zeros adds nothing, whatever its variance (no inf * 0)
        roots = roots.astype(np.float32)
        for k in range(chains):
            np.multiply(x32, roots[k], out=buf)
            M = buf @ buf.T
            M.flat[:: n + 1] += 1.0
            if not (np.isfinite(norms[k]) and np.all(np.isfinite(M.flat[:: n + 1]))):  # beyond float32's range
                continue
            low, info = spotrf(M, lower=1, clean=0, overwrite_a=1)
            if info == 0:
                factors[k] = low
                omega[k] = _solve32(low, rhs[k])
    live = [k for k in range(chains) if factors[k] is not None]
    fallback = [k for k in range(chains) if factors[k] is None]
    for step in range(REFINE_MAX + 1):
        if not live:
            break
        applied, xt_live = _apply_m(X, dd[live], omega[live])
        res = rhs[live] - applied
        xnorm = np.max(np.abs(omega[live]), axis=2)  # per chain and row
        rnorm = np.max(np.abs(res), axis=2)
        done = np.all(rnorm <= xnorm * (norms[live] * eps * root_n)[:, None], axis=1)
        lost = ~np.all(np.isfinite(rnorm), axis=1) | (~done & (step == REFINE_MAX))
        xt[[k for k, ok in zip(live, done, strict=True) if ok]] = xt_live[done]
        fallback += [k for k, bad in zip(live, lost, strict=True) if bad]
        keep = ~done & ~lost
        res, live = res[keep], [k for k, kept in zip(live, keep, strict=True) if kept]
        for i, k in enumerate(live):
            omega[k] += _solve32(factors[k], res[i])
    for k in fallback:  # float64 throughout
        xs = X * np.sqrt(dd[k])
        M = xs @ xs.T
        M[np.diag_indices(n)] += 1.0
        low, info = dpotrf(M, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"the n x n system of chain {k} is not positive definite (LAPACK info {info})")
        omega[k] = dpotrs(low, rhs[k].T, lower=1)[0].T
        xt[k] = omega[k] @ X
    return omega, xt
