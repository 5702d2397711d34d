"""Job 3's sub-questions (3.1, 3.2(a) to (d)), the saturation pitfall, and training on real data.

The hand gradients are proved right three ways: central finite differences (float64), torch.autograd (float64)
on the same parameters, and the algebraic identity of the expanded and simplified output factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmnn import sigmoid_mlp as sm
from bmnn._checks import DataFileError, InputError, as_generator, check_memory, count
from bmnn.experiments.records import (
    Record,
    SaturationData,
    SigmoidTrainingData,
    close,
    holds,
)
from bmnn.gradcheck import check_gradients, relative_error

FD_BOUND = 1e-7  # largest relative error against finite differences
AUTOGRAD_BOUND = 1e-10  # largest relative error against torch.autograd
FD_BUDGET = 2e11  # floating-point operations a gradient check may take


def autograd_gradients(model: sm.SigmoidMLP, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The mean loss's gradients by torch.autograd in float64, on copies of the model's parameters."""
    import torch

    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in model.params.items()}
    xt = torch.tensor(np.atleast_2d(x).reshape(-1, model.n_inputs).T, dtype=torch.float64)
    yt = torch.tensor(np.asarray(y, dtype=np.float64).reshape(-1), dtype=torch.float64)
    a2 = p["W2"] @ torch.sigmoid(p["W1"] @ xt + p["b1"]) + p["b2"]
    loss = (yt * torch.logaddexp(torch.zeros(()), -a2[0]) + (1 - yt) * torch.logaddexp(torch.zeros(()), a2[0])).mean()
    loss.backward()
    return {k: v.grad.numpy() for k, v in p.items()}


def gradient_errors(m: int, h: int, n: int, seed: int) -> dict[str, dict[str, float]]:
    """Largest relative errors per parameter: the batch backward and the four per-point functions against finite
    differences, and the batch backward against autograd.

    The cost is checked before any work: the five-point stencil evaluates the loss four times per parameter, so
    ``P = M H + 2 H + 1`` parameters on ``N`` points take about ``8 P N (M + 1) H`` floating-point operations.
    """
    m, h, n = count("inputs", m), count("hidden", h), count("batch", n)
    n_params = m * h + 2 * h + 1
    check_memory(8.0 * (n * (m + 6 * h + 4) + 8 * n_params),
                 f"inputs x hidden x batch = {m} x {h} x {n} (the data, the activations and the gradients)")
    ops = 8.0 * n_params * n * (m + 1) * h
    if ops > FD_BUDGET:
        raise InputError(f"finite differences over P = {n_params} parameters on N = {n} points need about {ops:.2g} "
                         f"floating-point operations (the budget is {FD_BUDGET:.0g}, a minute or two); use fewer "
                         "inputs, hidden units or points", param="inputs")
    rng = as_generator(seed)
    model = sm.SigmoidMLP(m, h, seed=rng)
    for k in model.params:  # non-zero biases, so every term of the chain rule is exercised
        model.params[k] = model.params[k] + 0.3 * rng.normal(size=model.params[k].shape)
    x = rng.normal(size=(n, m))
    y = rng.integers(0, 2, size=n).astype(float)
    _, cache = model.forward(x)
    batch = model.backward(cache, y)
    fd = check_gradients(lambda p: model.loss(x, y, p), model.params, batch)
    point = sm.point_gradients(model, x[:1].T, y[0])
    fd_point = check_gradients(lambda p: model.loss(x[:1].T, y[:1], p), model.params, point)
    auto = autograd_gradients(model, x, y)
    return {"finite_differences": {k: max(fd[k], fd_point[k]) for k in fd},
            "autograd": {k: relative_error(batch[k], auto[k]) for k in batch}}


@dataclass(frozen=True)
class SigmoidConfig:
    """Settings of every job-3 record."""

    seed: int = 20261128  # seeds every draw of this job
    grad_cases: tuple[tuple[int, int, int], ...] = ((3, 2, 1), (5, 4, 7), (12, 6, 20), (30, 16, 64))  # (M, H, N)
    cancer_epochs: int = 100  # breast-cancer training epochs
    fashion_epochs: int = 30  # T-shirt/top vs Shirt training epochs
    fashion_hidden: int = 64  # H for the Fashion-MNIST pair


QUICK = SigmoidConfig(grad_cases=((3, 2, 1), (5, 4, 7), (12, 6, 20)), cancer_epochs=60, fashion_epochs=5)


def q3_1_shapes(cfg: SigmoidConfig = SigmoidConfig()) -> Record:
    """3.1: the shapes, checked against the arrays a real forward pass produces."""
    m, h = 5, 4
    model = sm.SigmoidMLP(m, h, seed=cfg.seed)
    x = as_generator(cfg.seed).normal(size=(m, 1))
    y_hat, cache = model.forward(x)
    actual = {"x": cache.x.shape, "a1": cache.a1.shape, "z1": cache.z1.shape, "a2": cache.a2.shape,
              "z2": y_hat.shape, **{k: v.shape for k, v in model.params.items()}}
    table = model.shapes()
    symbolic = {"x": "M x 1", "W1": "H x M", "b1": "H x 1", "a1": "H x 1", "z1": "H x 1", "W2": "1 x H",
                "b2": "1 x 1", "a2": "1 x 1", "z2": "1 x 1"}
    _, bcache = model.forward(np.ones((7, m)))
    return Record(
        id="3.1", title="Dimensions",
        statement="Give the dimensions of every parameter and intermediate, consistent with the operations.",
        answer=("W1 maps M inputs to H hidden units, so it is H x M and b1 is H x 1; the output has one unit, so W2 "
                "is 1 x H and b2 is 1 x 1. For a batch of N points stacked as columns, every intermediate gains N "
                "columns (x: M x N, a1 and z1: H x N, a2 and z2: 1 x N) while the parameters keep their shapes."),
        formulas=[r"a_1 = \underbrace{W_1}_{H\times M}\underbrace{x}_{M\times 1} + \underbrace{b_1}_{H\times 1},\quad"
                  r" a_2 = \underbrace{W_2}_{1\times H}\underbrace{z_1}_{H\times 1} + \underbrace{b_2}_{1\times 1}"],
        table={"columns": ["quantity", "shape", f"forward pass, M = {m}, H = {h}"],
               "rows": [[k, symbolic[k], f"{actual[k][0]} x {actual[k][1]}"] for k in symbolic]},
        checks=[holds("shapes() equals the arrays of a real forward pass", all(table[k] == actual[k] for k in table)),
                holds("a batch of N = 7 gives z1: H x 7 and a2: 1 x 7",
                      bcache.z1.shape == (h, 7) and bcache.a2.shape == (1, 7))],
    )


_GRADS = {
    "b2": ("3.2(a)", "dL/db2", r"\frac{\partial L}{\partial b_2} = \frac{\partial L}{\partial \hat y}"
           r"\frac{\partial \hat y}{\partial a_2}\frac{\partial a_2}{\partial b_2} = \hat y - y",
           "The derivative of the cross-entropy through the sigmoid collapses: dL/dy_hat * y_hat (1 - y_hat) = "
           "y_hat - y, and a2 depends on b2 with slope 1."),
    "W2": ("3.2(b)", "dL/dW2^h", r"\frac{\partial L}{\partial W_2^{h}} = (\hat y - y)\, z_1^{h}",
           "a2 = sum_h W2^h z1^h + b2, so the slope of a2 in W2^h is the hidden activation z1^h."),
    "b1": ("3.2(c)", "dL/db1^h", r"\frac{\partial L}{\partial b_1^{h}} = (\hat y - y)\, W_2^{h}\, z_1^{h}"
           r"(1 - z_1^{h})",
           "Back through W2 (slope W2^h) and the hidden sigmoid (slope z1^h (1 - z1^h)); a1^h depends on b1^h "
           "with slope 1."),
    "W1": ("3.2(d)", "dL/dW1^{h,m}", r"\frac{\partial L}{\partial W_1^{h,m}} = (\hat y - y)\, W_2^{h}\, z_1^{h}"
           r"(1 - z_1^{h})\, x^{m}",
           "As (c), times the slope of a1^h in W1^{h,m}, which is the input x^m."),
}


def q3_2_gradients(cfg: SigmoidConfig = SigmoidConfig()) -> list[Record]:
    """3.2(a)-(d): each gradient's formula, checked by finite differences and autograd over several shapes."""
    errs = [((m, h, n), gradient_errors(m, h, n, cfg.seed + i)) for i, (m, h, n) in enumerate(cfg.grad_cases)]
    out = []
    for key in ("b2", "W2", "b1", "W1"):
        rid, title, formula, answer = _GRADS[key]
        fd = max(e["finite_differences"][key] for _, e in errs)
        au = max(e["autograd"][key] for _, e in errs)
        out.append(Record(
            id=rid, title=title,
            statement=f"For one data point and the cross-entropy loss, derive {title}.",
            answer=answer + " Over a batch the gradient of the mean loss averages these per-point terms.",
            formulas=[formula],
            table={"columns": ["M, H, N", "vs finite differences", "vs torch.autograd"],
                   "rows": [[f"{m}, {h}, {n}", f"{e['finite_differences'][key]:.2e}", f"{e['autograd'][key]:.2e}"]
                            for (m, h, n), e in errs]},
            checks=[close(f"largest relative error of {key} vs central finite differences", fd, 0.0, atol=FD_BOUND),
                    close(f"largest relative error of {key} vs torch.autograd (float64)", au, 0.0,
                          atol=AUTOGRAD_BOUND)],
        ))
    return out


def saturation(cfg: SigmoidConfig = SigmoidConfig()) -> Record:
    """The expanded output factor breaks at saturation; y_hat - y does not."""
    rows, checks = [], []
    cases = [(0.0, 1), (5.0, 0), (20.0, 0), (40.0, 0), (40.0, 1), (-800.0, 1), (-800.0, 0)]
    for a2, y in cases:
        y_hat = float(sm.sigmoid(a2))
        expanded = float(sm.expanded_output_factor(y_hat, y))
        simple = y_hat - y
        loss = float(sm.bce_from_logit(a2, y))
        # 1 - y_hat is exact for y_hat >= 1/2 (Sterbenz): it shows how close the sigmoid is to rounding to 1
        rows.append([a2, y, y_hat, 1.0 - y_hat, expanded if np.isfinite(expanded) else "NaN", simple, loss])
        if np.isfinite(expanded) and abs(simple) > 0:
            checks.append(close(f"a2 = {a2:g}, y = {y}: expanded = simplified where finite", expanded, simple,
                                rtol=1e-6))
    checks += [
        holds("a2 = 40 (y_hat rounds to 1), y = 0: the expanded factor is not finite",
              not np.isfinite(sm.expanded_output_factor(sm.sigmoid(40.0), 0))),
        holds("a2 = -800 (y_hat underflows to 0), y = 1: the expanded factor is not finite",
              not np.isfinite(sm.expanded_output_factor(sm.sigmoid(-800.0), 1))),
        holds("y_hat - y is finite in every case", all(np.isfinite(r[5]) for r in rows)),
        close("loss from the logit at a2 = 1e4, y = 0 is exactly 1e4", sm.bce_from_logit(1e4, 0), 1e4, rtol=1e-15),
        close("loss from the logit at a2 = -1e4, y = 1 is exactly 1e4", sm.bce_from_logit(-1e4, 1), 1e4, rtol=1e-15),
    ]
    tables = {y: sm.output_gradient_table(EXPLORE_A2, y) for y in (0, 1)}
    brk = saturation_breaks(tables[0])
    return Record(
        id="3.S", title="Pitfall: the expanded output gradient at saturation",
        statement=("The factor dL/da2 can be written expanded, -(y/y_hat + (1 - y)/(y_hat - 1)) y_hat (1 - y_hat), "
                   "or simplified, y_hat - y. Are they interchangeable in floating point?"),
        answer=(f"Algebraically equal, numerically not: once the sigmoid rounds to exactly 1 (a2 >= {brk['64'][1]:g} "
                f"in float64, a2 >= {brk['32'][1]:g} in float32) or gets so small that dividing by it overflows "
                f"(a2 <= {brk['64'][0]:g} in float64, a2 <= {brk['32'][0]:g} in float32), the expanded form gives NaN, "
                "which then poisons every gradient. The simplified form, and a loss computed from the logit with "
                "log-sigmoid, stay finite."),
        formulas=[r"-\left(\frac{y}{\hat y} + \frac{1-y}{\hat y - 1}\right)\hat y(1-\hat y) = \hat y - y"],
        table={"columns": ["a2", "y", "y_hat (float64)", "1 - y_hat", "expanded", "y_hat - y", "loss from logit"],
               "rows": rows},
        checks=checks,
        data=SaturationData(tables=tables, breaks=brk),
    )


#: the logits of the report's a2 slider: whole numbers across the points where the expanded form breaks (float32:
#: about +17 and -89; float64: about +37 and -710; :func:`saturation_breaks` finds them)
EXPLORE_A2 = np.arange(-760.0, 61.0)


def saturation_breaks(table: dict) -> dict[str, list[float]]:
    """Per precision (``"64"``, ``"32"``), where the expanded output factor of ``output_gradient_table`` stops being
    finite: ``[the largest negative a2, the smallest positive a2]`` at which it is NaN or infinite."""
    a2 = np.asarray(table["a2"])
    out = {}
    for tag in ("64", "32"):
        bad = ~np.isfinite(np.asarray(table[f"expanded{tag}"], dtype=np.float64))
        out[tag] = [float(a2[bad & (a2 < 0)].max()), float(a2[bad & (a2 > 0)].min())]
    return out


def _standardise(train, test):
    mean, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (train - mean) / sd, (test - mean) / sd


def training(cfg: SigmoidConfig = SigmoidConfig(), data_dir=None) -> Record:
    """Mini-batch gradient descent with the hand gradients on breast cancer and on T-shirt/top vs Shirt."""
    from sklearn.model_selection import train_test_split

    from bmnn.datasets import load_bundled, load_fashion_mnist

    X, y, _ = load_bundled("breast_cancer")
    xtr, xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=cfg.seed % 2**31)
    xtr, xte = _standardise(xtr, xte)
    _, hist_c = sm.train(xtr, ytr, xte, yte, sm.TrainConfig(n_hidden=16, lr=0.5, epochs=cfg.cancer_epochs,
                                                            batch_size=32, seed=cfg.seed))
    checks = [holds("breast cancer: test accuracy >= 0.95", hist_c["test_acc"][-1] >= 0.95,
                    value=f"{hist_c['test_acc'][-1]:.4f}", expected=">= 0.95")]
    values = {"breast cancer: train / test points": f"{len(ytr)} / {len(yte)}",
              "breast cancer: test accuracy": hist_c["test_acc"][-1]}
    fashion = None
    try:
        fm = load_fashion_mnist(data_dir)
    except DataFileError as exc:  # the real data set is optional for this record: say so instead of failing
        values["Fashion-MNIST T-shirt/top vs Shirt"] = f"not run: {exc}"
    else:
        pick_tr = np.isin(fm["y_train"], (0, 6))
        pick_te = np.isin(fm["y_test"], (0, 6))
        ftr, fte = fm["x_train"][pick_tr] / 255.0, fm["x_test"][pick_te] / 255.0
        ltr, lte = (fm["y_train"][pick_tr] == 6).astype(float), (fm["y_test"][pick_te] == 6).astype(float)
        ftr, fte = _standardise(ftr, fte)
        _, hist_f = sm.train(ftr, ltr, fte, lte, sm.TrainConfig(n_hidden=cfg.fashion_hidden, lr=0.1,
                                                                epochs=cfg.fashion_epochs, batch_size=64,
                                                                seed=cfg.seed))
        values["Fashion-MNIST T-shirt/top vs Shirt: train / test images"] = f"{len(ltr)} / {len(lte)}"
        values["Fashion-MNIST T-shirt/top vs Shirt: test accuracy"] = hist_f["test_acc"][-1]
        checks.append(holds("T-shirt/top vs Shirt: better than chance by a wide margin (> 0.75)",
                            hist_f["test_acc"][-1] > 0.75, value=f"{hist_f['test_acc'][-1]:.4f}"))
        fashion = hist_f
    return Record(
        id="3.T", title="Beyond the material: training with the hand gradients",
        statement=("Train the network by mini-batch gradient descent using only the hand-derived gradients (no "
                   "autograd): scikit-learn's breast-cancer data (standardised, stratified 80/20 split) and the "
                   "hardest pair of Fashion-MNIST classes, T-shirt/top against Shirt."),
        answer="The gradients drive the loss down on real data; the curves below are per epoch.",
        values=values, checks=checks, data=SigmoidTrainingData(cancer=hist_c, fashion=fashion),
    )


def run(quick: bool = False, data_dir=None) -> list[Record]:
    """Every job-3 record, in the material's order."""
    cfg = QUICK if quick else SigmoidConfig()
    return [q3_1_shapes(cfg), *q3_2_gradients(cfg), saturation(cfg), training(cfg, data_dir)]
