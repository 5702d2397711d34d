"""Job 3: a two-layer sigmoid network for binary classification, with hand-derived gradients (numpy only).

The material's notation, for one data point ``x`` (a column vector of M inputs) and a label ``y`` in {0, 1}:
``a1 = W1 x + b1`` (H x 1), ``z1 = sigmoid(a1)``, ``a2 = W2 z1 + b2`` (1 x 1), ``y_hat = z2 = sigmoid(a2)``, and
``L = -(y log y_hat + (1 - y) log(1 - y_hat))``. Biases are separate from the weights.

The chain rule, with the output factor in its simplified form ``dL/da2 = y_hat - y``:

* ``dL/db2 = y_hat - y``
* ``dL/dW2[h] = (y_hat - y) z1[h]``
* ``dL/db1[h] = (y_hat - y) W2[h] z1[h] (1 - z1[h])``
* ``dL/dW1[h, m] = (y_hat - y) W2[h] z1[h] (1 - z1[h]) x[m]``

The expanded form ``dL/dy_hat * dy_hat/da2 = -(y / y_hat + (1 - y) / (y_hat - 1)) * y_hat (1 - y_hat)`` is the
same number wherever it is finite, but divides by zero once ``y_hat`` rounds to 0 or 1; it is kept here only to
show that (:func:`expanded_output_factor`). The loss is computed from the logit ``a2`` with log-sigmoid
(``log sigmoid(a) = -logaddexp(0, -a)``), so it stays finite and accurate for ``|a2|`` up to 1e4 and beyond.

These gradients are written by hand because the material asks for exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from bmnn._checks import InputError, as_float_array, as_generator, as_real_array, count, positive_scalar

PARAMS = ("W1", "b1", "W2", "b2")


def sigmoid(a: ArrayLike) -> NDArray[np.float64]:
    """The logistic function, without overflow (scipy's ``expit``)."""
    return expit(as_real_array("a", a))


def _sigmoid_hidden(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """``1 / (1 + exp(-a))`` in four in-place passes (about twice as fast as ``expit`` on large arrays). Where
    ``exp(-a)`` overflows (a < -709) the result is exactly 0, where ``expit`` would give a subnormal number."""
    out = np.negative(a)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def log_sigmoid(a: ArrayLike) -> NDArray[np.float64]:
    """``log sigmoid(a) = -log(1 + exp(-a))``, exact in both tails."""
    return -np.logaddexp(0.0, -np.asarray(a, dtype=np.float64))


def bce_from_logit(a2: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
    """``-(y log sigmoid(a2) + (1 - y) log(1 - sigmoid(a2)))``, using ``log(1 - sigmoid(a)) = log sigmoid(-a)``."""
    a2 = np.asarray(a2, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return -(y * log_sigmoid(a2) + (1 - y) * log_sigmoid(-a2))


def expanded_output_factor(y_hat: ArrayLike, y: ArrayLike, dtype=np.float64) -> NDArray:
    """The textbook's unsimplified ``dL/da2``, computed in ``dtype`` (float64 or float32); NaN or inf once ``y_hat``
    saturates. For demonstration only."""
    y_hat = np.asarray(y_hat, dtype=dtype)
    y = np.asarray(y, dtype=dtype)
    one = dtype(1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return -(y / y_hat + (one - y) / (y_hat - one)) * y_hat * (one - y_hat)


def output_gradient_table(a2: ArrayLike, y: int) -> dict[str, NDArray]:
    """``dL/da2`` at each logit ``a2`` for label ``y``: the expanded and the simplified ``y_hat - y``, each in float64
    and in float32 (the sigmoid, too, computed in that precision), with ``1 - y_hat`` (exact in each precision for
    y_hat >= 1/2: how near the sigmoid is to rounding to 1)."""
    a2 = np.asarray(a2, dtype=np.float64)
    y = int(_labels(y, 1)[0])
    out = {"a2": a2}
    for dt, tag in ((np.float64, "64"), (np.float32, "32")):
        y_hat = expit(a2.astype(dt))
        out[f"y_hat{tag}"] = y_hat
        out[f"one_minus{tag}"] = dt(1) - y_hat
        out[f"expanded{tag}"] = expanded_output_factor(y_hat, y, dt)
        out[f"simplified{tag}"] = y_hat - dt(y)
    return out


@dataclass(frozen=True)
class Cache:
    """The forward pass's intermediates, columns = data points: x (M x N), a1, z1 (H x N), a2, z2 (1 x N)."""

    x: NDArray[np.float64]
    a1: NDArray[np.float64]
    z1: NDArray[np.float64]
    a2: NDArray[np.float64]
    z2: NDArray[np.float64]


class SigmoidMLP:
    """``y_hat = sigmoid(W2 sigmoid(W1 x + b1) + b2)``.

    Parameters
    ----------
    n_inputs : int
        M.
    n_hidden : int
        H.
    seed : int or numpy Generator, optional
        Initial weights are N(0, 1/M) for W1 and N(0, 1/H) for W2; biases start at 0.

    Attributes
    ----------
    params : dict
        ``W1`` (H x M), ``b1`` (H x 1), ``W2`` (1 x H), ``b2`` (1 x 1), float64.
    """

    def __init__(self, n_inputs: int, n_hidden: int, seed: int | np.random.Generator | None = None) -> None:
        m = count("n_inputs", n_inputs)
        h = count("n_hidden", n_hidden)
        rng = as_generator(seed)
        self.params: dict[str, NDArray[np.float64]] = {
            "W1": rng.normal(0.0, 1.0 / np.sqrt(m), size=(h, m)),
            "b1": np.zeros((h, 1)),
            "W2": rng.normal(0.0, 1.0 / np.sqrt(h), size=(1, h)),
            "b2": np.zeros((1, 1)),
        }

    @property
    def n_inputs(self) -> int:
        """M."""
        return self.params["W1"].shape[1]

    @property
    def n_hidden(self) -> int:
        """H."""
        return self.params["W1"].shape[0]

    def shapes(self) -> dict[str, tuple[int, int]]:
        """3.1: the shape of every parameter and intermediate for one data point (a column vector)."""
        m, h = self.n_inputs, self.n_hidden
        return {"x": (m, 1), "W1": (h, m), "b1": (h, 1), "a1": (h, 1), "z1": (h, 1), "W2": (1, h), "b2": (1, 1),
                "a2": (1, 1), "z2": (1, 1)}

    def _columns(self, x: ArrayLike) -> tuple[NDArray[np.float64], bool]:
        x = as_float_array("x", x, what="the inputs")
        m = self.n_inputs
        if x.ndim == 2 and x.shape == (m, 1):
            return x, True
        if x.ndim == 2 and x.shape[1] == m:
            return x.T, False
        if x.ndim == 1 and x.shape == (m,):
            return x[:, None], True
        raise InputError(f"x must be a column vector ({m} x 1) or a batch (N x {m}), got shape {x.shape}")

    def _params(self, params: dict | None) -> dict:
        """``params`` checked against the model's own (the same keys and shapes, finite numbers); None: the model's."""
        if params is None:
            return self.params
        if not isinstance(params, dict) or set(params) != set(PARAMS):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise InputError(f"params must be a dict with keys {list(PARAMS)}, got {got}", param="params")
        out = {}
        for k in PARAMS:
            out[k] = as_float_array(f"params[{k!r}]", params[k])
            if out[k].shape != self.params[k].shape:
                raise InputError(f"params[{k!r}] must have shape {self.params[k].shape}, got {out[k].shape}",
                                 param="params")
        return out

    def forward(self, x: ArrayLike, params: dict | None = None) -> tuple[NDArray[np.float64], Cache]:
        """``y_hat`` and the cache: for a column vector x (M x 1) y_hat is 1 x 1; for a batch (N x M), shape (N,)."""
        p = self._params(params)
        xc, single = self._columns(x)
        a1 = p["W1"] @ xc
        a1 += p["b1"]
        z1 = _sigmoid_hidden(a1)
        a2 = p["W2"] @ z1 + p["b2"]
        z2 = sigmoid(a2)
        cache = Cache(x=xc, a1=a1, z1=z1, a2=a2, z2=z2)
        return (z2 if single else z2[0]), cache

    def loss(self, x: ArrayLike, y: ArrayLike, params: dict | None = None) -> float:
        """Mean binary cross-entropy over the batch, from the logits."""
        _, cache = self.forward(x, params)
        return float(np.mean(bce_from_logit(cache.a2[0], _labels(y, cache.a2.shape[1]))))

    def backward(self, cache: Cache, y: ArrayLike, params: dict | None = None) -> dict[str, NDArray[np.float64]]:
        """All four gradients of the mean loss over the batch, vectorised, keyed like :attr:`params`."""
        p = self._params(params)
        n = cache.x.shape[1]
        delta2 = (cache.z2 - _labels(y, n)[None, :]) / n  # dL/da2 = y_hat - y, averaged: (1, N)
        delta1 = np.subtract(1.0, cache.z1)  # dL/da1 = W2^T delta2 * z1 * (1 - z1), in place: (H, N)
        delta1 *= cache.z1
        delta1 *= p["W2"].T
        delta1 *= delta2
        return {"W1": delta1 @ cache.x.T, "b1": delta1.sum(axis=1, keepdims=True),
                "W2": delta2 @ cache.z1.T, "b2": delta2.sum(axis=1, keepdims=True)}

    def predict(self, x: ArrayLike) -> NDArray[np.int64]:
        """Class labels, thresholding the logit at 0 (y_hat at 1/2)."""
        _, cache = self.forward(x)
        return (cache.a2[0] > 0).astype(np.int64)


def _labels(y: ArrayLike, n: int) -> NDArray[np.float64]:
    y = as_float_array("y", y, what="the labels").reshape(-1)
    if y.size != n:
        raise InputError(f"y must have one label per data point ({n}), got {y.size}")
    if not np.all((y == 0) | (y == 1)):
        raise InputError("y must hold labels 0 or 1")
    return y


# The four gradients of 3.2 for one data point, each following the chain rule of the material.

def _point(cache: Cache, y: float) -> tuple[Cache, float]:
    if cache.x.shape[1] != 1:
        raise InputError(f"the per-point gradients take the cache of one data point, got {cache.x.shape[1]}")
    return cache, float(_labels(y, 1)[0])


def dL_db2(cache: Cache, y: float) -> float:
    """(a) ``dL/db2 = dL/dy_hat * dy_hat/da2 * da2/db2 = (y_hat - y) * 1``."""
    c, y = _point(cache, y)
    return float(c.z2[0, 0] - y)


def dL_dW2(cache: Cache, y: float, h: int) -> float:
    """(b) ``dL/dW2[h] = (y_hat - y) * da2/dW2[h] = (y_hat - y) z1[h]``."""
    c, y = _point(cache, y)
    return float((c.z2[0, 0] - y) * c.z1[h, 0])


def dL_db1(cache: Cache, y: float, h: int, params: dict) -> float:
    """(c) ``dL/db1[h] = (y_hat - y) * da2/dz1[h] * dz1[h]/da1[h] = (y_hat - y) W2[h] z1[h] (1 - z1[h])``."""
    c, y = _point(cache, y)
    return float((c.z2[0, 0] - y) * params["W2"][0, h] * c.z1[h, 0] * (1 - c.z1[h, 0]))


def dL_dW1(cache: Cache, y: float, h: int, m: int, params: dict) -> float:
    """(d) ``dL/dW1[h, m] = dL/db1[h] * da1[h]/dW1[h, m] = (y_hat - y) W2[h] z1[h] (1 - z1[h]) x[m]``."""
    return dL_db1(cache, y, h, params) * float(cache.x[m, 0])


def point_gradients(model: SigmoidMLP, x: ArrayLike, y: float) -> dict[str, NDArray[np.float64]]:
    """Every entry of the four gradients for one data point, assembled from the four named functions."""
    _, cache = model.forward(x)
    p = model.params
    h_, m_ = model.n_hidden, model.n_inputs
    return {
        "W1": np.array([[dL_dW1(cache, y, h, m, p) for m in range(m_)] for h in range(h_)]),
        "b1": np.array([[dL_db1(cache, y, h, p)] for h in range(h_)]),
        "W2": np.array([[dL_dW2(cache, y, h) for h in range(h_)]]),
        "b2": np.array([[dL_db2(cache, y)]]),
    }


@dataclass(frozen=True)
class TrainConfig:
    """Mini-batch gradient descent with the hand gradients."""

    n_hidden: int = 16  # H
    lr: float = 0.5  # step size
    epochs: int = 100  # passes over the training set
    batch_size: int = 32  # data points per step
    seed: int = 0  # initial weights and shuffling


def train(x_train: NDArray, y_train: NDArray, x_test: NDArray, y_test: NDArray,
          cfg: TrainConfig = TrainConfig()) -> tuple[SigmoidMLP, dict[str, list[float]]]:
    """Train with the hand-written backward (no autograd); history of loss and accuracy per epoch."""
    x_train, y_train, x_test, y_test = _training_data(x_train, y_train, x_test, y_test)
    count("n_hidden", cfg.n_hidden)
    count("epochs", cfg.epochs, minimum=0)
    count("batch_size", cfg.batch_size)
    positive_scalar("lr", cfg.lr, what="the step size")
    rng = as_generator(cfg.seed)
    model = SigmoidMLP(x_train.shape[1], cfg.n_hidden, seed=rng)
    hist: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    n = x_train.shape[0]
    for _ in range(cfg.epochs):
        order = rng.permutation(n)
        for start in range(0, n, cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            _, cache = model.forward(x_train[idx])
            for k, g in model.backward(cache, y_train[idx]).items():
                model.params[k] -= cfg.lr * g
        for split, (xs, ys) in (("train", (x_train, y_train)), ("test", (x_test, y_test))):
            hist[f"{split}_loss"].append(model.loss(xs, ys))
            hist[f"{split}_acc"].append(float(np.mean(model.predict(xs) == ys)))
    return model, hist


def _training_data(x_train, y_train, x_test, y_test):
    """The training and test sets checked: N x M inputs with the same M, at least one row each, labels 0 or 1."""
    out = []
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        x = as_float_array(f"x_{split}", x, what=f"the {split} inputs")
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise InputError(f"x_{split} must be N x M with N, M >= 1, got shape {x.shape}", param=f"x_{split}")
        y = as_float_array(f"y_{split}", y, what=f"the {split} labels")
        if y.ndim != 1 or y.size != x.shape[0]:
            raise InputError(f"y_{split} must hold one label per row of x_{split} ({x.shape[0]}), got shape "
                             f"{y.shape}", param=f"y_{split}")
        out += [x, _labels(y, x.shape[0])]
    if out[2].shape[1] != out[0].shape[1]:
        raise InputError(f"x_test must have the {out[0].shape[1]} columns of x_train, got {out[2].shape[1]}",
                         param="x_test")
    return out
