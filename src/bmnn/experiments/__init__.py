"""The material's sub-questions answered by computation: one module per job, functions return records."""

from __future__ import annotations

from bmnn.experiments.records import Section


def sections(quick: bool = False, data_dir=None, runs_dir="runs", log=None, replicates: int | None = None,
             client=None) -> list[Section]:
    """Every job's section, in the material's order. Job 4's training runs live in (and are reused from)
    ``runs_dir``; ``replicates`` and ``client`` set the 2.5 simulation study's size and where its blocks run."""
    from bmnn.experiments import gaussian, laplace, pitfalls, scratch_mlp, sigmoid_mlp

    return [
        Section(
            job=1,
            title="Problem 1 — MLE, MAP and the full posterior predictive",
            setting=("x = mu + eps with eps ~ N(0, sigma^2), sigma known; prior mu ~ N(0, tau^2); data "
                     "D = {x_1, ..., x_n} i.i.d. The material gives the full posterior predictive below."),
            formulas=[r"x\mid D \sim \mathcal{N}\left(\frac{\sum_i x_i}{n+\sigma^2/\tau^2},\; "
                      r"\left(\frac{n}{\sigma^2}+\frac{1}{\tau^2}\right)^{-1}+\sigma^2\right)"],
            records=gaussian.run(quick=quick, client=client),
        ),
        Section(
            job=2,
            title="Problem 2 — Bayesian linear regression with a Laplace prior",
            setting=("y_i = w^T x_i + eps_i with eps_i ~ N(0, sigma^2) i.i.d., sigma known; independent Laplace priors "
                     "on the weights with location mu and scale tau. In p dimensions the prior's normaliser is "
                     "(2 tau)^-p."),
            formulas=[r"p(w) = \prod_{j=1}^{p}\frac{1}{2\tau}\exp\left(-\frac{|w_j-\mu_j|}{\tau}\right) = "
                      r"(2\tau)^{-p}\exp\left(-\frac{\lVert w-\mu\rVert_1}{\tau}\right)"],
            records=laplace.run(quick=quick, replicates=replicates, client=client),
        ),
        Section(
            job=3,
            title="Problem 3 — backpropagation by hand",
            setting=("A two-layer network for binary classification, y_hat = sigmoid(W2 sigmoid(W1 x + b1) + b2), with "
                     "x a column vector of M inputs, H hidden units and one output; biases are not merged into the "
                     "weights. The loss for one data point is the cross-entropy below."),
            formulas=[r"a_1 = W_1x+b_1,\; z_1=\sigma(a_1),\; a_2 = W_2z_1+b_2,\; \hat y = z_2 = \sigma(a_2),\quad "
                      r"L = -\left(y\log\hat y + (1-y)\log(1-\hat y)\right)"],
            records=sigmoid_mlp.run(quick=quick, data_dir=data_dir),
        ),
        Section(
            job=4,
            title="Problem 4 — an MLP from scratch in PyTorch",
            setting=("784 inputs, 256 hidden ReLU units, 10 softmax outputs, cross-entropy, SGD; weights N(0, 0.01^2) "
                     "and zero biases; no torch.nn, torch.nn.functional or torch.optim. The classic exercise uses "
                     "lr 0.1, batch 256 and 10 epochs."),
            formulas=[r"H = \max(XW_1 + b_1, 0),\quad \text{logits} = HW_2 + b_2,\quad L = \frac1n\sum_i "
                      r"\left(\log\sum_k e^{\text{logits}_{ik}} - \text{logits}_{i y_i}\right)"],
            records=scratch_mlp.run(quick=quick, data_dir=data_dir, runs_dir=runs_dir, log=log),
        ),
        Section(
            job=5,
            title="Pitfalls, each proved by computation",
            setting=("Places where derivations and code for this material commonly go wrong. Each is shown with a "
                     "small computation whose result is checked."),
            records=pitfalls.run(),
        ),
    ]
