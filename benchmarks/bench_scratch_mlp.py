"""Job 4's speed: seconds per training epoch (60,000 images, batch 256, float32) of our from-scratch step with
each backward mode, against an idiomatic torch.nn + torch.optim model of the same architecture and against the
floor: the same five matrix products per step and nothing else. One thread, then all threads; each figure is the
best of seven epochs, the four steps taking turns.

torch.nn appears here only as the reference to compare against. Last line (one thread):
"hand backward: <a>x torch.nn, <b>x floor".
"""

from __future__ import annotations

import os
import platform
import time

import torch
from _common import save

from bmnn.scratch_mlp import model as M

N, B = 60_000, 256


def epoch_time(step) -> float:
    """Seconds for one full epoch of ``step``."""
    t = time.perf_counter()
    for i in range(0, N, B):
        step(i)
    return time.perf_counter() - t


def best_times(steps: dict, repeat: int = 7) -> dict[str, float]:
    """Best of ``repeat`` epochs of each step, the steps taking turns (one epoch each per round), so that a slow
    spell of a shared machine lands on all of them rather than on whichever ran at that moment."""
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeat):
        for name, fn in steps.items():
            best[name] = min(best[name], epoch_time(fn))
    return best


def main() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 784, generator=g)
    y = torch.randint(0, 10, (N,), generator=g)
    params = M.init_params(torch.Generator().manual_seed(1), "he")
    opt = M.SGD(params)
    work = M.Workspace(B)

    def hand(i):
        M.hand_step(params, M.forward(params, x[i:i + B], work=work), y[i:i + B], 0.1, opt)

    def autograd(i):
        _, grads, _ = M.autograd_backward(params, x[i:i + B], y[i:i + B])
        opt.step(params, grads, 0.1)

    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()

    def reference(i):
        sgd.zero_grad()
        loss_fn(net(x[i:i + B]), y[i:i + B]).backward()
        sgd.step()

    w1, w2 = params["W1"].clone(), params["W2"].clone()
    h = torch.randn(B, 256, generator=g)
    d = torch.randn(B, 10, generator=g)

    def floor(i):
        xb = x[i:i + B]
        hb, db = h[:xb.shape[0]], d[:xb.shape[0]]
        xb @ w1, hb @ w2, hb.t() @ db, db @ w2.t(), xb.t() @ hb  # noqa: B018 (the five products of one step)

    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "images": N, "batch": B}
    all_threads = torch.get_num_threads()
    for label, threads in (("1 thread", 1), ("all threads", all_threads)):
        torch.set_num_threads(threads)
        t = best_times({"hand": hand, "autograd": autograd, "torch.nn": reference, "floor": floor})
        result[label] = {"threads": threads, "seconds_per_epoch": t, "hand_over_torch_nn": t["hand"] / t["torch.nn"],
                         "hand_over_floor": t["hand"] / t["floor"]}
        print(f"{label} ({threads}): s/epoch hand {t['hand']:.3f}, autograd {t['autograd']:.3f}, "
              f"torch.nn {t['torch.nn']:.3f}, floor {t['floor']:.3f} "
              f"(hand {t['hand'] / t['torch.nn']:.2f}x torch.nn, {t['hand'] / t['floor']:.2f}x floor)")
    save("scratch_mlp", result)
    one = result["1 thread"]
    print(f"hand backward: {one['hand_over_torch_nn']:.2f}x torch.nn, {one['hand_over_floor']:.2f}x floor")


if __name__ == "__main__":
    main()
