"""Job 4's model, written from scratch in PyTorch: 784-256-10, ReLU, softmax, cross-entropy, SGD.

Parameters are plain tensors; every layer, the loss, both backward passes and the optimiser are written here.
The material forbids PyTorch's neural-network and optimiser packages (``nn``, ``nn.functional``, ``optim``); a test
parses this package's source and fails on any use of them.

Row convention: a batch ``X`` is ``n x 784``; ``H = relu(X W1 + b1)`` is ``n x 256``; ``logits = H W2 + b2`` is
``n x 10``. The loss is ``mean_i [logsumexp(logits_i) - logits_i[y_i]]`` (with label smoothing ``eps``, the target
is ``(1 - eps) onehot(y) + eps / 10``), computed with the max subtracted, so it never overflows.

Hand backward: ``dlogits = (softmax(logits) - target) / n``, ``dW2 = H^T dlogits``, ``db2 = sum dlogits``,
``dH = dlogits W2^T * 1[H > 0]`` (with dropout, a dropped unit has H = 0, and a kept one carries the scale
1 / (1 - p)), ``dW1 = X^T dH``, ``db1 = sum dH``. The ReLU mask uses ``H.sign()`` (H >= 0 after the ReLU), which is
much cheaper than building a boolean mask. The training step never writes a weight gradient out: each update is one
fused product (``W1 -= lr X^T dH`` as ``W1.addmm_``, ``b1 -= lr dH^T 1`` as ``b1.addmv_``), the factor ``1 / n``
rides in the product's scalar, and the ``n x 256`` arrays go into reused buffers (:class:`Workspace`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bmnn.scratch_mlp.optim import SGD, Product

#: the image side (Fashion-MNIST: 28 x 28 pixels), and the layer widths 784-256-10
SIDE = 28
N_IN, N_HIDDEN, N_OUT = SIDE * SIDE, 256, 10
PARAMS = ("W1", "b1", "W2", "b2")


def init_params(generator: torch.Generator, init: str = "normal", std: float = 0.01,
                dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """``W1`` (784 x 256), ``b1`` (256), ``W2`` (256 x 10), ``b2`` (10); biases zero.

    ``init = "normal"`` draws weights from N(0, std^2) (the material: std = 0.01); ``"he"`` uses
    N(0, 2 / fan_in) for W1 and N(0, 1 / fan_in) for W2.
    """
    if init == "normal":
        s1 = s2 = std
    elif init == "he":
        s1, s2 = (2.0 / N_IN) ** 0.5, (1.0 / N_HIDDEN) ** 0.5
    else:
        raise ValueError(f"init must be 'normal' or 'he', got {init!r}")
    kw = {"generator": generator, "dtype": dtype, "device": device}
    return {"W1": torch.randn(N_IN, N_HIDDEN, **kw) * s1, "b1": torch.zeros(N_HIDDEN, dtype=dtype, device=device),
            "W2": torch.randn(N_HIDDEN, N_OUT, **kw) * s2, "b2": torch.zeros(N_OUT, dtype=dtype, device=device)}


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0)."""
    return torch.clamp_min(x, 0.0)


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Row-wise log-softmax with the row maximum subtracted first (log-sum-exp), so no exp overflows."""
    shifted = logits - logits.max(dim=1, keepdim=True).values
    return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy from logits, picking each row's true class: ``-log_softmax[range(n), y]``."""
    logp = log_softmax(logits)
    nll = -logp[torch.arange(logits.shape[0], device=logits.device), y]
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * logp.mean(dim=1)
    return nll.mean()


class Workspace:
    """Buffers the training step writes its ``n x 256`` arrays into (for batches of up to ``rows`` rows), instead
    of asking the allocator for fresh memory three times a step; a vector of ones for the bias gradients.

    The arrays of a :class:`Cache` made with a workspace are overwritten by the next :func:`forward` that uses it.
    """

    def __init__(self, rows: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> None:
        self.rows = rows
        self.h, self.mask, self.dh = (torch.empty(rows, N_HIDDEN, dtype=dtype, device=device) for _ in range(3))
        self.ones = torch.ones(rows, dtype=dtype, device=device)

    def fits(self, x: torch.Tensor) -> bool:
        """Whether a batch ``x`` can use these buffers."""
        return x.shape[0] <= self.rows and x.dtype == self.h.dtype and x.device == self.h.device


@dataclass
class Cache:
    """What the hand backward needs from the forward pass."""

    x: torch.Tensor
    h: torch.Tensor  # after ReLU and dropout
    dropout_scale: float  # 1 / (1 - p) for the kept units (1 without dropout)
    logits: torch.Tensor
    work: Workspace | None = None  # where h lives, and where the backward writes dH


def dropout_mask(like: torch.Tensor, p: float, generator: torch.Generator | None,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """Inverted dropout: 1 / (1 - p) with probability 1 - p, else 0 (uniforms compared in place: about twice as
    fast as ``bernoulli_``); written into ``out`` when given."""
    if out is None:
        mask = torch.rand(like.shape, generator=generator, dtype=like.dtype, device=like.device)
    else:
        mask = torch.rand(like.shape, generator=generator, out=out)
    return mask.lt_(1.0 - p).mul_(1.0 / (1.0 - p))


def forward(params: dict[str, torch.Tensor], x: torch.Tensor, dropout: float = 0.0,
            generator: torch.Generator | None = None, work: Workspace | None = None) -> Cache:
    """Logits for a batch ``x`` (n x 784); with ``dropout > 0`` (training) the hidden units are dropped. With a
    :class:`Workspace`, the hidden layer is written into its buffer."""
    n = x.shape[0]
    if work is not None and not work.fits(x):
        work = None
    if work is None:
        h = torch.addmm(params["b1"], x, params["W1"])
    else:
        h = torch.addmm(params["b1"], x, params["W1"], out=work.h[:n])
    h.clamp_min_(0.0)
    if dropout > 0:
        h.mul_(dropout_mask(h, dropout, generator, None if work is None else work.mask[:n]))
    logits = torch.addmm(params["b2"], h, params["W2"])
    return Cache(x=x, h=h, dropout_scale=1.0 / (1.0 - dropout), logits=logits, work=work)


def _deltas(params: dict[str, torch.Tensor], cache: Cache, y: torch.Tensor, label_smoothing: float):
    """The mean loss, ``D = softmax(logits) - target`` (n x 10) and ``E = (D W2^T) * 1[H > 0]`` (n x 256), by hand.

    The gradients are ``dL/dlogits = D / n`` and ``dL/dZ1 = s E / n`` (``s`` the dropout scale, ``Z1`` the hidden
    pre-activation): the factors ``1 / n`` and ``s`` are left to the callers, which fold them into the scalars of
    their matrix products, so the small arrays are touched as few times as possible.
    """
    logits = cache.logits
    n, k = logits.shape
    shifted = logits - logits.amax(dim=1, keepdim=True)  # log-sum-exp with the row maximum taken out: no overflow
    idx = y[:, None]
    picked = shifted.gather(1, idx)
    smooth = shifted.mean(dim=1, keepdim=True) if label_smoothing else None
    exp = shifted.exp_()  # in place: the shifted logits are not needed any more
    total = exp.sum(dim=1, keepdim=True)
    log_total = total.log()
    nll = log_total - picked  # -log softmax of each row's true class
    if label_smoothing:
        nll = (1 - label_smoothing) * nll + label_smoothing * (log_total - smooth)
    d = exp.div_(total)  # softmax, in place
    d.scatter_(1, idx, -(1 - label_smoothing), reduce="add")  # minus the (smoothed) one-hot target
    if label_smoothing:
        d.sub_(label_smoothing / k)
    work = cache.work
    if work is None:
        dh = d @ params["W2"].t()
        dh.mul_(cache.h.sign())  # ReLU derivative (h >= 0 after the ReLU; a dropped unit has h = 0)
    else:
        dh = torch.mm(d, params["W2"].t(), out=work.dh[:n])
        dh.mul_(torch.sign(cache.h, out=work.mask[:n]))
    return nll.mean(), d, dh


def hand_backward(params: dict[str, torch.Tensor], cache: Cache, y: torch.Tensor,
                  label_smoothing: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The mean loss and its gradients, by hand: softmax minus target, then the matrix products."""
    loss, d, dh = _deltas(params, cache, y, label_smoothing)
    n = d.shape[0]
    s = cache.dropout_scale / n
    return loss, {"W1": (cache.x.t() @ dh).mul_(s), "b1": dh.sum(dim=0).mul_(s),
                  "W2": (cache.h.t() @ d).div_(n), "b2": d.sum(dim=0).div_(n)}


def hand_step(params: dict[str, torch.Tensor], cache: Cache, y: torch.Tensor, lr: float, optimiser: SGD,
              label_smoothing: float = 0.0) -> torch.Tensor:
    """One training step with the hand backward: the same gradients as :func:`hand_backward`, handed to the
    optimiser as factor pairs (the bias gradients as ``E^T 1`` and ``D^T 1``) so that it can fuse each update
    into its matrix product. Returns the loss."""
    loss, d, dh = _deltas(params, cache, y, label_smoothing)
    n = d.shape[0]
    ones = cache.work.ones[:n] if cache.work is not None else torch.ones(n, dtype=d.dtype, device=d.device)
    s = cache.dropout_scale / n
    optimiser.step(params, {"W1": Product(cache.x.t(), dh, s), "b1": Product(dh.t(), ones, s),
                            "W2": Product(cache.h.t(), d, 1.0 / n), "b2": Product(d.t(), ones, 1.0 / n)}, lr)
    return loss


def autograd_backward(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, dropout: float = 0.0,
                      generator: torch.Generator | None = None,
                      label_smoothing: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """The mean loss, its gradients by ``loss.backward()`` (as the material does; same forward, same dropout
    draws as :func:`forward`), and the logits."""
    leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    h = relu(x @ leaves["W1"] + leaves["b1"])
    if dropout > 0:
        h = h * dropout_mask(h, dropout, generator)
    logits = h @ leaves["W2"] + leaves["b2"]
    loss = cross_entropy(logits, y, label_smoothing)
    loss.backward()
    return loss.detach(), {k: v.grad for k, v in leaves.items()}, logits.detach()


def predict_logits(params: dict[str, torch.Tensor], x: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """Logits for many rows, in batches, without dropout."""
    with torch.no_grad():
        return torch.cat([forward(params, x[i:i + batch]).logits for i in range(0, x.shape[0], batch)])


def scores(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Accuracy, the predicted classes and the ``N_OUT x N_OUT`` confusion counts (row: true class, column:
    predicted) of ``logits`` against the labels ``y``."""
    pred = logits.argmax(dim=1)
    counts = torch.bincount(y * N_OUT + pred, minlength=N_OUT * N_OUT).reshape(N_OUT, N_OUT)
    return float((pred == y).float().mean()), pred, counts
