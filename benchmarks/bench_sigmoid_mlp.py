"""Job 3's speed: our batch forward + hand backward against torch.autograd (float64, CPU), in one run.

Batch of 1,024 inputs of 784 features, H = 256. Both sides compute the same forward pass, the mean loss from
the logits and the four gradients; the best of 30 repeats is kept. Measured with one thread and with all threads
(numpy's BLAS limited by threadpoolctl, torch by set_num_threads). Last line: "backward: <ratio>x torch.autograd"
for all threads.
"""

from __future__ import annotations

import os
import platform

import numpy as np
import torch
from _common import best_of, save
from threadpoolctl import threadpool_limits

from bmnn import sigmoid_mlp as sm

N, M, H = 1024, 784, 256


def main() -> None:
    rng = np.random.default_rng(0)
    model = sm.SigmoidMLP(M, H, seed=rng)
    x = rng.normal(size=(N, M))
    y = rng.integers(0, 2, size=N).astype(np.float64)

    def ours():
        _, cache = model.forward(x)
        return model.backward(cache, y)

    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in model.params.items()}
    xt = torch.tensor(x.T.copy(), dtype=torch.float64)  # columns are data points, as in the material
    yt = torch.tensor(y)
    zero = torch.zeros((), dtype=torch.float64)

    def autograd():
        for p in params.values():
            p.grad = None
        a2 = params["W2"] @ torch.sigmoid(params["W1"] @ xt + params["b1"]) + params["b2"]
        loss = (yt * torch.logaddexp(zero, -a2[0]) + (1 - yt) * torch.logaddexp(zero, a2[0])).mean()
        loss.backward()
        return {k: p.grad for k, p in params.items()}

    g_ours, g_auto = ours(), autograd()
    worst = max(float(np.max(np.abs(g_ours[k] - g_auto[k].numpy())) / np.max(np.abs(g_ours[k]))) for k in g_ours)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "N": N, "M": M, "H": H,
              "max_relative_difference": worst}
    all_threads = torch.get_num_threads()
    w1, d1 = model.params["W1"], rng.normal(size=(H, N))
    print(f"N = {N}, M = {M}, H = {H}, float64; gradients agree to {worst:.1e}")
    for label, threads in (("1 thread", 1), ("all threads", all_threads)):
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            t_ours = best_of(ours, repeat=30)
            t_auto = best_of(autograd, repeat=30)
            t_floor = best_of(lambda: (w1 @ x.T, d1 @ x), repeat=30)  # numpy's two big products, nothing else
        result[label] = {"threads": threads, "ours_s": t_ours, "autograd_s": t_auto, "ratio": t_ours / t_auto,
                         "numpy_matmul_floor_s": t_floor}
        print(f"{label} ({threads}): ours (forward + hand backward) {t_ours * 1e3:.2f} ms, torch.autograd "
              f"{t_auto * 1e3:.2f} ms: {t_ours / t_auto:.2f}x; numpy's two products alone {t_floor * 1e3:.2f} ms "
              f"(ours is {t_ours / t_floor:.2f}x that floor)")
    save("sigmoid_mlp", result)
    print(f"backward: {result['all threads']['ratio']:.2f}x torch.autograd")


if __name__ == "__main__":
    main()
