"""Where derivations and code for this material commonly go wrong, each shown by a small computation."""

from __future__ import annotations

import numpy as np
from scipy import integrate, stats

from bmnn._checks import as_generator
from bmnn.experiments.records import Record, close, holds

SEED = 20261129


def p1_data_model() -> Record:
    """x_i | mu ~ N(0, sigma^2) loses mu; the normality of x bar is exact, not a central-limit result."""
    rng = as_generator(SEED)
    x = rng.normal(1.5, 1.0, size=10)
    mus = np.linspace(-3, 3, 7)
    wrong = [stats.norm.logpdf(x, 0.0, 1.0).sum() for _ in mus]  # N(0, sigma^2): the same for every mu
    right = [stats.norm.logpdf(x, m, 1.0).sum() for m in mus]
    means2 = rng.normal(1.5, 1.0, size=(20_000, 2)).mean(axis=1)  # n = 2: far from any central limit
    p_normal = stats.kstest(means2, stats.norm(1.5, 1 / np.sqrt(2)).cdf).pvalue
    exp2 = rng.exponential(1.0, size=(20_000, 2)).mean(axis=1)
    p_exp = stats.kstest(exp2, stats.norm(1.0, 1 / np.sqrt(2)).cdf).pvalue
    return Record(
        id="P1", title="The data model: N(mu, sigma^2), and exact normality",
        statement="Writing x_i | mu ~ N(0, sigma^2), or calling the normality of x bar a central-limit result.",
        answer=("x_i = mu + eps_i with eps_i ~ N(0, sigma^2) means x_i | mu ~ N(mu, sigma^2); with N(0, sigma^2) the "
                "likelihood does not depend on mu at all, so nothing can be learned. And x bar ~ N(mu, sigma^2/n) "
                "holds exactly for every n (a sum of independent Normals is Normal); the central limit theorem is "
                "needed only for non-Normal noise."),
        values={"log-likelihood range over mu in [-3, 3], wrong model": float(np.ptp(wrong)),
                "the same, right model": float(np.ptp(right)),
                "KS p-value, x bar of n = 2 Normals vs N(mu, sigma^2/2)": float(p_normal),
                "KS p-value, x bar of n = 2 exponentials vs its Normal approximation": float(p_exp)},
        checks=[holds("wrong model: the likelihood is flat in mu", np.ptp(wrong) == 0.0),
                holds("right model: it is not", np.ptp(right) > 1.0),
                holds("n = 2: x bar is Normal (KS p > 0.001, 20,000 draws)", p_normal > 1e-3,
                      value=f"{p_normal:.3f}"),
                holds("n = 2 exponentials: the Normal approximation is rejected (p < 1e-6)", p_exp < 1e-6,
                      value=f"{p_exp:.1e}")],
    )


def p2_squared_variance() -> Record:
    """A log posterior with sigma^4 in the denominator: the argmax of the likelihood survives, the curvature not."""
    rng = as_generator(SEED + 1)
    sigma, n = 2.0, 12
    x = rng.normal(1.0, sigma, size=n)
    # -sum (x - mu)^2 / (2 sigma^2) has curvature n / sigma^2; the slip -sum (x - mu)^2 / (2 sigma^4) has n / sigma^4
    right_var, wrong_var = sigma**2 / n, sigma**4 / n
    grid = np.linspace(-5, 5, 200_001)
    wrong_ll = -((x[:, None] - grid) ** 2).sum(axis=0) / (2 * sigma**4)
    argmax = grid[np.argmax(wrong_ll)]
    return Record(
        id="P2", title="The squared variance in the denominator",
        statement="Writing the log likelihood as -sum (x_i - mu)^2 / (2 sigma^4).",
        answer=("Scaling a log likelihood by a positive constant does not move its maximum, so the MLE still comes "
                "out as x bar and the slip goes unnoticed. The curvature, however, is n/sigma^4 instead of n/sigma^2: "
                "the implied variance of the estimate (and every posterior variance and predictive built on it) is "
                "off by a factor sigma^2. With a prior, the MAP moves too, unless sigma = 1."),
        values={"sigma": sigma, "n": n, "argmax of the wrong log likelihood": float(argmax), "x bar": float(x.mean()),
                "variance from the right curvature": right_var, "variance from the wrong curvature": wrong_var},
        checks=[close("the wrong log likelihood still peaks at x bar (grid step 5e-5)", argmax, x.mean(), atol=5e-5),
                close("the implied variance is off by sigma^2", wrong_var / right_var, sigma**2, rtol=1e-14)],
    )


def p3_laplace_normaliser() -> Record:
    """The p-dimensional Laplace prior needs (2 tau)^-p."""
    tau = 0.3
    rows, checks = [], []
    for p in (1, 2, 3):
        one_d = integrate.quad(lambda w: np.exp(-abs(w) / tau), -np.inf, np.inf)[0]  # = 2 tau
        mass_right = (one_d / (2 * tau)) ** p
        mass_wrong = one_d**p / (2 * tau)
        rows.append([p, float(mass_right), float(mass_wrong)])
        checks.append(close(f"p = {p}: with (2 tau)^-p the prior integrates to 1", mass_right, 1.0, atol=1e-10))
        if p > 1:
            checks.append(holds(f"p = {p}: with (2 tau)^-1 it integrates to (2 tau)^(p-1) = {(2 * tau) ** (p - 1):g}",
                                abs(mass_wrong - (2 * tau) ** (p - 1)) < 1e-9))
    return Record(
        id="P3", title="The normaliser of the p-dimensional Laplace prior",
        statement="Normalising prod_j exp(-|w_j - mu_j| / tau) with (2 tau)^-1 instead of (2 tau)^-p.",
        answer=("The prior is a product of p one-dimensional Laplace densities, each with its own 1/(2 tau): the "
                "normaliser is (2 tau)^-p. The slip does not move the MAP (a constant), but it breaks the evidence, "
                "any comparison across tau, and the log posterior's value."),
        table={"columns": ["p", "mass with (2 tau)^-p", "mass with (2 tau)^-1"], "rows": rows},
        checks=checks,
    )


def p4_subgradient() -> Record:
    """The L1 optimality condition is a subgradient inclusion, not a gradient equation."""
    from bmnn.laplace import map_estimate

    rng = as_generator(SEED + 2)
    X = rng.normal(size=(30, 6))
    y = X @ np.array([2.0, 0, 0, -1.0, 0, 0.5]) + rng.normal(size=30)
    res = map_estimate(X, y, 1.0, 0.2)
    g = X.T @ (y - X @ res.coef)
    zero = res.coef == 0
    # the "gradient equation" X^T(y - Xw) = lambda sign(w - mu), with sign(0) = 0, fails at the zero coordinates
    grad_eq_residual = np.abs(g - res.lam * np.sign(res.coef))
    return Record(
        id="P4", title="A subgradient condition, not a gradient equation",
        statement="Treating X^T (y - X w) = lambda sign(w - mu) as an equation to solve for w_MAP.",
        answer=("|w_j - mu_j| has no derivative at w_j = mu_j, exactly where the MAP tends to sit. There the "
                "condition is an inclusion: [X^T(y - X w)]_j may be anything in [-lambda, lambda]. Reading sign(0) "
                "as 0 turns it into an equation that the true MAP does not satisfy."),
        values={"lambda": res.lam, "coordinates at mu": int(zero.sum()),
                "|X^T(y - Xw)| at those coordinates": np.abs(g[zero]).round(4).tolist(),
                "certificate of the inclusion": res.max_violation},
        checks=[holds("the MAP has coordinates exactly at mu", zero.sum() >= 1, value=int(zero.sum())),
                holds("there, the 'gradient equation' is violated", bool(np.all(grad_eq_residual[zero] > 1e-6)),
                      value=f"{grad_eq_residual[zero].min():.3g}", expected="> 0"),
                holds("while the subgradient inclusion holds (certificate <= 1e-8)", res.max_violation <= 1e-8,
                      value=f"{res.max_violation:.1e}")],
    )


def p5_tau_star() -> Record:
    """w_MAP reaches mu exactly at tau* and below, not only in the limit."""
    from bmnn.laplace import map_estimate, tau_star

    rng = as_generator(SEED + 3)
    X = rng.normal(size=(25, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(size=25)
    mu = np.array([0.5, 0.5, 0.5, 0.5])
    ts = tau_star(X, y, 1.0, mu)
    at = map_estimate(X, y, 1.0, ts, mu).coef
    return Record(
        id="P5", title="The MAP reaches mu at a finite tau",
        statement="Saying w_MAP approaches mu only in the limit tau -> 0.",
        answer=(f"Once lambda = sigma^2/tau is at least ||X^T(y - X mu)||_inf, w = mu satisfies the subgradient "
                f"condition, so the MAP is exactly mu for every tau <= tau* (here {ts:.5g}), not only in the limit."),
        values={"tau*": ts, "w_MAP at tau*": at.tolist()},
        checks=[holds("w_MAP = mu exactly at tau*", bool(np.array_equal(at, mu)))],
    )


def p6_sigmoid_gradient() -> Record:
    """The expanded sigmoid-output gradient divides by zero at saturation (see 3.S for the full table)."""
    from bmnn import sigmoid_mlp as sm

    exp40 = float(sm.expanded_output_factor(sm.sigmoid(40.0), 0.0))
    return Record(
        id="P6", title="The expanded output gradient",
        statement="Coding dL/da2 as -(y/y_hat + (1 - y)/(y_hat - 1)) y_hat (1 - y_hat).",
        answer="At a2 = 40 the sigmoid rounds to 1 in float64 and the expanded form is 0/0; y_hat - y is exact.",
        values={"expanded, a2 = 40, y = 0": str(exp40), "y_hat - y": float(sm.sigmoid(40.0))},
        checks=[holds("the expanded form is NaN at a2 = 40", np.isnan(exp40)),
                holds("y_hat - y is finite", np.isfinite(sm.sigmoid(40.0) - 0.0))],
    )


def p7_softmax() -> Record:
    """A softmax without max-subtraction overflows; y_hat[range(n)] is not y_hat[range(n), y]."""
    import torch

    from bmnn.scratch_mlp import model as M

    logits = torch.tensor([[100.0, 0.0, -5.0], [3.0, 1.0, 0.0]])
    y = torch.tensor([0, 2])
    naive = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    naive_ce = float(-torch.log(naive[range(2), y]).mean())
    ours = float(M.cross_entropy(logits, y))
    ref = float((torch.logsumexp(logits.double(), 1) - logits.double()[torch.arange(2), y]).mean())
    probs = torch.softmax(logits.double(), 1)
    wrong_shape = tuple(probs[range(2)].shape)
    return Record(
        id="P7", title="Softmax overflow, and indexing the true class",
        statement="exp(logits) / sum exp(logits) without subtracting the maximum; and -log(y_hat[range(n)]).",
        answer=("exp(100) overflows float32 to inf and inf/inf is NaN. Subtracting each row's maximum first "
                "(log-sum-exp) changes nothing mathematically and everything numerically. And the cross-entropy "
                "must pick each row's true class, y_hat[range(n), y]; y_hat[range(n)] takes whole rows, an n x K "
                "array, and silently averages the wrong numbers."),
        values={"naive cross-entropy (float32)": str(naive_ce), "ours (float32)": ours, "reference (float64)": ref,
                "shape of y_hat[range(n)]": str(wrong_shape), "shape of y_hat[range(n), y]": "(2,)"},
        checks=[holds("the naive softmax gives NaN", np.isnan(naive_ce)),
                close("log-sum-exp cross-entropy matches float64", ours, ref, rtol=1e-6),
                holds("y_hat[range(n)] is n x K, not n", wrong_shape == (2, 3))],
    )


def p8_training_loop() -> Record:
    """A loop that reads an undefined global and never evaluates on held-out data."""
    from bmnn import sigmoid_mlp as sm

    code = "def train(net):\n    for epoch in range(epochs):\n        pass\n"
    ns: dict = {}
    exec(code, ns)  # noqa: S102 - a fixed snippet, to show the failure
    try:
        ns["train"](None)
        error = "none"
    except NameError as exc:
        error = str(exc)
    rng = as_generator(SEED + 4)
    X = rng.normal(size=(400, 20))
    y = (X[:, 0] + 0.8 * rng.normal(size=400) > 0).astype(float)
    _, hist = sm.train(X[:40], y[:40], X[40:], y[40:], sm.TrainConfig(n_hidden=64, lr=1.0, epochs=400, batch_size=8))
    return Record(
        id="P8", title="Undefined globals, and no held-out evaluation",
        statement="A training loop that reads a global epochs it never defines, and reports training accuracy only.",
        answer=("The first fails at run time (or, worse, silently picks up a stale value in a notebook). The second "
                "measures memorisation: a network that fits 40 noisy points perfectly can do much worse on new data. "
                "bmnn's loop takes every setting from one config object and evaluates on held-out data every epoch."),
        values={"error raised": error, "training accuracy (40 points)": hist["train_acc"][-1],
                "held-out accuracy (360 points)": hist["test_acc"][-1]},
        checks=[holds("the undefined global raises NameError", "epochs" in error, value=error),
                holds("training accuracy overstates held-out accuracy by > 0.05",
                      hist["train_acc"][-1] - hist["test_acc"][-1] > 0.05,
                      value=f"{hist['train_acc'][-1]:.3f} vs {hist['test_acc'][-1]:.3f}")],
    )


def run() -> list[Record]:
    """Every pitfall record."""
    return [p1_data_model(), p2_squared_variance(), p3_laplace_normaliser(), p4_subgradient(), p5_tau_star(),
            p6_sigmoid_gradient(), p7_softmax(), p8_training_loop()]
