"""Job 4's optimiser, written by hand (the material forbids PyTorch's optimiser package): SGD with optional momentum
(heavy-ball or Nesterov) and weight decay, and :class:`Product`, a gradient kept as a factor pair so that an update
is one fused matrix product. A leaf: it imports only torch.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Product(NamedTuple):
    """A gradient kept as ``scale * (a @ b)`` (``b`` a matrix or a vector), so that an update can fuse it into
    one matrix product (``w.addmm_(a, b, alpha=-lr * scale)``, or ``addmv_``) instead of writing the gradient out
    and then subtracting it."""

    a: torch.Tensor
    b: torch.Tensor
    scale: float = 1.0


class SGD:
    """Stochastic gradient descent written by hand: optional momentum (heavy-ball or Nesterov) and weight decay.

    With momentum ``m`` and decay ``wd``: ``g = grad + wd * w``; ``v = m v + g``; the step is ``v`` (or
    ``g + m v`` for Nesterov); ``w -= lr * step``. Biases are not decayed.
    """

    def __init__(self, params: dict[str, torch.Tensor], momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.velocity = {k: torch.zeros_like(v) for k, v in params.items()} if momentum else {}

    def step(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor | Product], lr: float) -> None:
        """Update ``params`` in place, without temporaries (every operation writes into an existing tensor).

        A gradient given as a :class:`Product` is fused into the update's matrix product. Nesterov's step
        ``g + wd w + m v_new`` uses the gradient twice, so it is rewritten to use it once: with
        ``t = m v + wd w``, ``v_new = t + g`` and ``w_new = (1 - lr wd) w + lr t - lr (1 + m) v_new``.
        """
        m = self.momentum
        with torch.no_grad():
            for k, w in params.items():
                g = grads[k]
                wd = self.weight_decay if k.startswith("W") else 0.0
                if not m:  # plain SGD
                    if wd:
                        w.mul_(1.0 - lr * wd)
                    _add(w, g, -lr)
                    continue
                v = self.velocity[k].mul_(m)  # t = m v + wd w, with the weights before the step
                if wd:
                    v.add_(w, alpha=wd)
                if self.nesterov:
                    if wd:
                        w.mul_(1.0 - lr * wd)
                    w.add_(v, alpha=lr)
                    _add(v, g, 1.0)
                    w.sub_(v, alpha=lr * (1.0 + m))
                else:  # heavy ball: the step is v_new = t + g
                    _add(v, g, 1.0)
                    w.sub_(v, alpha=lr)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The momentum buffers."""
        return {k: v.clone() for k, v in self.velocity.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the momentum buffers."""
        for k in self.velocity:
            self.velocity[k].copy_(state[k])


def _add(target: torch.Tensor, g: torch.Tensor | Product, alpha: float) -> None:
    """``target += alpha * g`` in place; a factor pair goes through one fused matrix (or matrix-vector) product."""
    if isinstance(g, Product):
        if g.b.dim() == 1:
            target.addmv_(g.a, g.b, alpha=alpha * g.scale)
        else:
            target.addmm_(g.a, g.b, alpha=alpha * g.scale)
    else:
        target.add_(g, alpha=alpha)
