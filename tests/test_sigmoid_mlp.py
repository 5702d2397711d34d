"""Job 3: the hand gradients proved right three ways, the stable loss, shapes, and training."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bmnn import sigmoid_mlp as sm
from bmnn._checks import InputError
from bmnn.experiments.sigmoid_mlp import AUTOGRAD_BOUND, FD_BOUND, autograd_gradients, gradient_errors
from bmnn.gradcheck import check_gradients


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 9), st.integers(1, 7), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_gradients_against_finite_differences_and_autograd(m, h, n, seed):
    errs = gradient_errors(m, h, n, seed)
    assert max(errs["finite_differences"].values()) <= FD_BOUND, errs
    assert max(errs["autograd"].values()) <= AUTOGRAD_BOUND, errs


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([0.0, 1.0]))
def test_named_point_gradients_equal_batch_backward_for_one_point(seed, y):
    rng = np.random.default_rng(seed)
    model = sm.SigmoidMLP(4, 3, seed=rng)
    x = rng.normal(size=(4, 1))
    _, cache = model.forward(x)
    batch = model.backward(cache, [y])
    point = sm.point_gradients(model, x, y)
    for k in batch:
        np.testing.assert_allclose(point[k], batch[k], rtol=1e-13, atol=1e-16)


def test_a_wrong_gradient_is_caught(rng):
    model = sm.SigmoidMLP(3, 2, seed=rng)
    x, y = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1.0])
    _, cache = model.forward(x)
    grads = model.backward(cache, y)
    grads["b1"] = grads["b1"] * 1.01  # a 1% slip
    errs = check_gradients(lambda p: model.loss(x, y, p), model.params, grads)
    assert errs["b1"] > 1e-3 and errs["W1"] < FD_BOUND


def test_stable_loss_matches_high_precision_and_is_finite_at_huge_logits():
    import mpmath as mp

    mp.mp.dps = 50
    a = np.array([-1e4, -800.0, -40.0, -1.0, 0.0, 2.0, 40.0, 800.0, 1e4])
    for y in (0.0, 1.0):
        ours = sm.bce_from_logit(a, y)
        # L = log(1 + exp(-a)) for y = 1 and log(1 + exp(a)) for y = 0, in 50 digits
        ref = np.array([float(mp.log1p(mp.exp(-mp.mpf(v) if y == 1 else mp.mpf(v)))) for v in a])
        np.testing.assert_allclose(ours, ref, rtol=1e-14, atol=0)
        assert np.all(np.isfinite(ours))
        torch_ref = torch.nn.functional.binary_cross_entropy_with_logits(
            torch.tensor(a, dtype=torch.float64), torch.full((a.size,), y, dtype=torch.float64), reduction="none")
        np.testing.assert_allclose(ours, torch_ref.numpy(), rtol=1e-14, atol=1e-17)
    assert sm.bce_from_logit(1e4, 0.0) == 1e4 and sm.bce_from_logit(-1e4, 1.0) == 1e4


def test_expanded_factor_breaks_at_saturation_but_agrees_elsewhere():
    for a2, y in ((40.0, 0.0), (-800.0, 1.0)):
        assert not np.isfinite(sm.expanded_output_factor(sm.sigmoid(a2), y))
    for a2 in (-5.0, -0.3, 0.0, 1.7, 6.0):
        for y in (0.0, 1.0):
            y_hat = sm.sigmoid(a2)
            assert sm.expanded_output_factor(y_hat, y) == pytest.approx(y_hat - y, rel=1e-12)


def test_shapes_table_matches_forward_pass():
    model = sm.SigmoidMLP(6, 5, seed=0)
    y_hat, cache = model.forward(np.ones((6, 1)))
    shapes = model.shapes()
    assert shapes["x"] == cache.x.shape and shapes["a1"] == cache.a1.shape and shapes["z1"] == cache.z1.shape
    assert shapes["a2"] == cache.a2.shape and shapes["z2"] == y_hat.shape
    assert all(shapes[k] == v.shape for k, v in model.params.items())
    y_batch, bc = model.forward(np.ones((9, 6)))
    assert y_batch.shape == (9,) and bc.z1.shape == (5, 9)


def test_bad_inputs():
    model = sm.SigmoidMLP(3, 2, seed=0)
    with pytest.raises(InputError, match=r"x must be a column vector \(3 x 1\) or a batch \(N x 3\), got shape \(4,\)"):
        model.forward(np.ones(4))
    with pytest.raises(InputError, match="y must hold labels 0 or 1"):
        model.loss(np.ones((2, 3)), [0, 2])
    with pytest.raises(InputError, match="n_hidden must be an integer >= 1, got 0"):
        sm.SigmoidMLP(3, 0)


def test_training_reaches_095_on_breast_cancer():
    from bmnn.experiments.sigmoid_mlp import QUICK, training

    rec = training(QUICK, data_dir="/nonexistent-so-fashion-is-skipped")
    assert rec.data.cancer["test_acc"][-1] >= 0.95
    assert rec.data.cancer["train_loss"][-1] < rec.data.cancer["train_loss"][0]
    assert "not run" in rec.values["Fashion-MNIST T-shirt/top vs Shirt"]


def test_autograd_helper_on_one_point():
    model = sm.SigmoidMLP(2, 2, seed=1)
    x = np.array([[0.5], [-1.0]])
    _, cache = model.forward(x)
    ours = model.backward(cache, [1.0])
    auto = autograd_gradients(model, x.T, np.array([1.0]))
    for k in ours:
        np.testing.assert_allclose(ours[k], auto[k], rtol=1e-12)


def test_output_gradient_table_in_both_precisions():
    from bmnn.sigmoid_mlp import output_gradient_table

    a2 = np.array([-800.0, -120.0, -3.7, 0.0, 2.3, 17.0, 40.0])
    for y in (0, 1):
        t = output_gradient_table(a2, y)
        assert t["y_hat64"].dtype == np.float64 and t["y_hat32"].dtype == np.float32
        with np.errstate(over="ignore"):
            exact = 1.0 / (1.0 + np.exp(-a2))  # the sigmoid written out (exp(800) overflows to inf: y_hat = 0)
        np.testing.assert_allclose(t["y_hat64"], exact, rtol=1e-15)
        np.testing.assert_allclose(t["simplified64"], exact - y, rtol=1e-15, atol=1e-300)
        np.testing.assert_allclose(t["y_hat32"], exact.astype(np.float32), rtol=2e-7)
        np.testing.assert_array_equal(t["simplified32"], t["y_hat32"] - np.float32(y))
        mid = slice(2, 5)  # away from saturation both forms agree
        np.testing.assert_allclose(t["expanded64"][mid], t["simplified64"][mid], rtol=1e-12)
        np.testing.assert_allclose(t["expanded32"][mid], t["simplified32"][mid], rtol=1e-5)
    t0 = output_gradient_table(a2, 0)
    # y = 0: the expanded form breaks where y_hat rounds to 1 (float32 by 17, float64 by 40) or underflows to 0
    assert np.isnan(t0["expanded32"][5]) and np.isfinite(t0["expanded64"][5]) and np.isnan(t0["expanded64"][6])
    assert np.isnan(t0["expanded64"][0]) and np.all(np.isfinite(t0["simplified64"]))


# ---- tests written against surviving mutants (docs/mutation.md) ---------------------------------------------------

def test_training_loop_equals_minibatch_steps_with_autograd_gradients(rng):
    # the loop replayed by hand: the same seed stream (initial weights, then one permutation per epoch), batches
    # of batch_size in that order, each step with torch.autograd's gradient of the mean cross-entropy
    import torch

    from bmnn.sigmoid_mlp import SigmoidMLP, TrainConfig, train

    x = rng.normal(size=(45, 3))
    y = (x[:, 0] - 0.5 * x[:, 2] > 0).astype(np.int64)
    cfg = TrainConfig(n_hidden=4, lr=0.3, epochs=3, batch_size=8, seed=17)
    model, hist = train(x, y, x[:10], y[:10], cfg)
    g = np.random.default_rng(17)
    ref = SigmoidMLP(3, 4, seed=g).params
    p = {k: torch.tensor(v, requires_grad=True) for k, v in ref.items()}
    for _ in range(3):
        order = g.permutation(45)
        for start in range(0, 45, 8):
            idx = order[start:start + 8]
            xb, yb = torch.tensor(x[idx].T), torch.tensor(y[idx], dtype=torch.float64)
            a2 = (p["W2"] @ torch.sigmoid(p["W1"] @ xb + p["b1"]) + p["b2"])[0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(a2, yb)
            grads = torch.autograd.grad(loss, list(p.values()))
            with torch.no_grad():
                for w, gk in zip(p.values(), grads, strict=True):
                    w -= 0.3 * gk
    for k in ref:
        np.testing.assert_allclose(model.params[k], p[k].detach().numpy(), rtol=1e-10, atol=1e-12)
    assert len(hist["train_loss"]) == 3 and hist["test_acc"][-1] == float(np.mean(model.predict(x[:10]) == y[:10]))
    other, _ = train(x, y, x[:10], y[:10], TrainConfig(n_hidden=4, lr=0.3, epochs=3, batch_size=8, seed=18))
    assert not np.allclose(other.params["W1"], model.params["W1"])  # the seed is used


def test_predict_thresholds_the_logit_at_zero():
    from bmnn.sigmoid_mlp import SigmoidMLP

    m = SigmoidMLP(2, 3, seed=0)
    for k in m.params:
        m.params[k] = np.zeros_like(m.params[k])
    x = np.array([[0.3, -1.0], [2.0, 0.5]])
    assert m.predict(x).dtype == np.int64 and m.predict(x).tolist() == [0, 0]  # a2 = 0 exactly: class 0
    m.params["b2"][:] = 0.4  # a2 = 0.4, inside (0, 1): class 1
    assert m.predict(x).tolist() == [1, 1]


def test_expanded_factor_computes_in_the_precision_asked():
    from bmnn.sigmoid_mlp import expanded_output_factor

    y_hat = np.float32(0.3)
    out = expanded_output_factor(y_hat, 1)
    assert out.dtype == np.float64
    assert float(out) == pytest.approx(float(np.float64(np.float32(0.3))) - 1.0, rel=1e-15)
    assert expanded_output_factor(np.float64(0.3), 0, np.float32).dtype == np.float32


def test_initial_weights_have_the_documented_spread_and_a_single_point_is_a_column():
    from bmnn.sigmoid_mlp import SigmoidMLP

    m = SigmoidMLP(400, 300, seed=4)  # W1: N(0, 1/M), W2: N(0, 1/H), biases zero
    w1, w2 = m.params["W1"], m.params["W2"]
    assert w1.shape == (300, 400) and w2.shape == (1, 300)
    assert abs(w1.mean()) < 4 * np.sqrt(1 / 400 / w1.size) and w1.std() == pytest.approx(1 / 20, rel=0.01)
    assert abs(w2.mean()) < 4 * np.sqrt(1 / 300 / w2.size) and w2.std() == pytest.approx(1 / np.sqrt(300), rel=0.1)
    assert not m.params["b1"].any() and not m.params["b2"].any()
    small = SigmoidMLP(3, 2, seed=0)
    x = np.array([0.4, -1.2, 0.7])
    y_hat, cache = small.forward(x)  # a 1-d point of length M is one column: y_hat is 1 x 1
    assert y_hat.shape == (1, 1) and cache.x.shape == (3, 1)
    y_b, _ = small.forward(x[None])
    assert y_b.shape == (1,) and float(y_b[0]) == float(y_hat[0, 0])


def test_log_sigmoid_and_loss_of_float32_inputs_are_computed_in_float64():
    from scipy.special import log_expit

    a = np.array([-30.5, -2.25, 0.1, 3.3, 41.0], dtype=np.float32)
    y = np.array([1, 0, 1, 1, 0], dtype=np.float32)
    a64 = a.astype(np.float64)
    np.testing.assert_allclose(sm.log_sigmoid(a), log_expit(a64), rtol=1e-15)
    assert sm.log_sigmoid(a).dtype == np.float64
    bce = sm.bce_from_logit(a, y)
    np.testing.assert_allclose(bce, -(y * log_expit(a64) + (1 - y) * log_expit(-a64)), rtol=1e-15)
    assert bce.dtype == np.float64
    y32 = np.array([0.3], dtype=np.float32)  # a soft label held in float32 is used at float64
    ref = -(np.float64(y32[0]) * log_expit(2.0) + (1 - np.float64(y32[0])) * log_expit(-2.0))
    assert sm.bce_from_logit(np.array([2.0]), y32)[0] == pytest.approx(ref, rel=1e-15)


def test_output_gradient_table_computes_its_float32_columns_in_float32():
    t = sm.output_gradient_table(np.array([-120.0, -20.0, 0.5, 20.0], dtype=np.float32), 1)
    assert t["a2"].dtype == np.float64
    yh32 = (1 / (1 + np.exp(-t["a2"]))).astype(np.float32)
    np.testing.assert_array_equal(t["expanded32"], sm.expanded_output_factor(yh32, 1, np.float32))
    assert t["expanded32"].dtype == np.float32 and not np.isfinite(t["expanded32"][0])
    assert np.isfinite(t["expanded64"][1])


def test_backward_takes_labels_in_any_shape_and_the_params_it_is_given(rng):
    model = sm.SigmoidMLP(3, 4, seed=2)
    x = rng.normal(size=(6, 3))
    y = np.array([1, 0, 0, 1, 1, 0])
    _, cache = model.forward(x)
    flat = model.backward(cache, y)
    for shaped in (y[:, None], y[None, :]):
        got = model.backward(cache, shaped)
        for k in flat:
            np.testing.assert_array_equal(got[k], flat[k])
    other = {k: v + 0.3 * rng.normal(size=v.shape) for k, v in model.params.items()}
    _, c2 = model.forward(x, other)
    grads = model.backward(c2, y, other)
    fd = check_gradients(lambda p: model.loss(x, y, p), other, grads)
    assert max(fd.values()) < 1e-8, fd


def test_per_point_gradients_refuse_a_batch_cache(rng):
    model = sm.SigmoidMLP(2, 3, seed=0)
    _, cache = model.forward(rng.normal(size=(4, 2)))
    with pytest.raises(InputError, match="one data point, got 4"):
        sm.dL_db2(cache, 1.0)


def test_training_refuses_bad_data_and_settings_and_accepts_lists(rng):
    X = rng.standard_normal((24, 3))
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    cfg = sm.TrainConfig(n_hidden=4, epochs=2, batch_size=5, lr=0.3, seed=1)
    bad = [
        ((X, y, X, y, sm.TrainConfig(lr=-0.5)), "lr (the step size) must be a finite number > 0, got -0.5"),
        ((X, y, X, y, sm.TrainConfig(lr=float("nan"))), "lr (the step size) must be a finite number > 0, got nan"),
        ((X, y, X, y, sm.TrainConfig(batch_size=0)), "batch_size must be an integer >= 1, got 0"),
        ((X, y, X, y, sm.TrainConfig(epochs=-1)), "epochs must be an integer >= 0, got -1"),
        ((X, y[:-1], X, y, cfg), "y_train must hold one label per row of x_train (24), got shape (23,)"),
        ((X[:0], y[:0], X, y, cfg), "x_train must be N x M with N, M >= 1, got shape (0, 3)"),
        ((X[:, 0], y, X, y, cfg), "x_train must be N x M with N, M >= 1, got shape (24,)"),
        ((X, y, X[:, :2], y, cfg), "x_test must have the 3 columns of x_train, got 2"),
        ((X, y, X, y + 1, cfg), "y must hold labels 0 or 1"),
    ]
    for args, message in bad:
        with pytest.raises(InputError) as err:
            sm.train(*args)
        assert str(err.value) == message
    model, hist = sm.train(X.tolist(), y.tolist(), X.tolist(), y.tolist(), cfg)  # lists are arrays too
    ref_model, ref = sm.train(X, y, X, y, cfg)
    assert hist == ref and all(np.array_equal(model.params[k], ref_model.params[k]) for k in sm.PARAMS)


def test_parameters_labels_and_steps_given_by_hand_are_checked(rng):
    m = sm.SigmoidMLP(3, 4, seed=0)
    x = rng.standard_normal((5, 3))
    with pytest.raises(InputError, match=r"params must be a dict with keys \['W1', 'b1', 'W2', 'b2'\], got \['W1'\]"):
        m.forward(x, params={"W1": np.ones((4, 3))})
    wrong = {k: v.copy() for k, v in m.params.items()} | {"W2": np.ones((4, 1))}
    with pytest.raises(InputError, match=r"params\['W2'\] must have shape \(1, 4\), got \(4, 1\)"):
        m.loss(x, [0, 1, 0, 1, 1], params=wrong)
    _, cache = m.forward(x[0])
    with pytest.raises(InputError, match="params"):
        m.backward(cache, 1, params={k: np.full_like(v, np.nan) for k, v in m.params.items()})
    same = {k: v.tolist() for k, v in m.params.items()}  # nested lists: the same parameters
    assert m.loss(x, [0, 1, 0, 1, 1], params=same) == m.loss(x, [0, 1, 0, 1, 1])
    with pytest.raises(InputError, match="y must hold labels 0 or 1"):
        sm.point_gradients(m, x[0], 3)
    with pytest.raises(InputError, match="y must hold labels 0 or 1"):
        sm.output_gradient_table(np.array([0.3, -2.0]), 2)
    with pytest.raises(InputError, match="a must be numbers"):
        sm.sigmoid("large")
    from bmnn.gradcheck import numerical_gradient

    for eps in (0.0, -1e-3, float("nan"), "small"):
        with pytest.raises(InputError, match="eps must be a finite number > 0"):
            numerical_gradient(lambda p: float(np.sum(p["a"] ** 2)), {"a": np.ones(2)}, eps=eps)


def test_training_set_refusals_name_the_argument_and_one_row_or_one_column_is_enough(rng):
    X = rng.standard_normal((6, 2))
    y = np.array([0, 1, 1, 0, 1, 0])
    cfg = sm.TrainConfig(n_hidden=3, epochs=1, batch_size=2)
    cases = [
        ((X[:, 0], y, X, y), "x_train", "x_train must be N x M with N, M >= 1, got shape (6,)"),
        ((X, y, X[:0], y[:0]), "x_test", "x_test must be N x M with N, M >= 1, got shape (0, 2)"),
        ((X, y, X, y[:3]), "y_test", "y_test must hold one label per row of x_test (6), got shape (3,)"),
        ((X, y[:, None], X, y), "y_train", "y_train must hold one label per row of x_train (6), got shape (6, 1)"),
        ((X, y, X[:, :1], y), "x_test", "x_test must have the 2 columns of x_train, got 1"),
        ((X, y, np.where(X > 0, np.inf, X), y), "x_test", "x_test (the test inputs) must be finite, got inf among "
                                                          "its values"),
        ((X, [0, 1, "a", 0, 1, 0], X, y), "y_train", "y_train (the train labels) must be numbers, got text [0, 1, 'a', "
                                                     "0, 1, 0]"),
    ]
    for args, param, message in cases:
        with pytest.raises(InputError) as err:
            sm.train(*args, cfg)
        assert (str(err.value), err.value.param) == (message, param)
    with pytest.raises(InputError) as err:
        sm.train(X, y, X, y, sm.TrainConfig(n_hidden=0))
    assert str(err.value) == "n_hidden must be an integer >= 1, got 0"
    model, hist = sm.train(X[:1], y[:1], X[:1], y[:1], cfg)  # one training row
    assert len(hist["train_loss"]) == 1 and np.isfinite(hist["train_loss"][0])
    model, hist = sm.train(X[:, :1], y, X[:, :1], y, cfg)  # one input column
    assert model.n_inputs == 1 and np.isfinite(hist["test_loss"][0])


def test_parameter_and_step_refusals_name_the_argument(rng):
    m = sm.SigmoidMLP(3, 4, seed=0)
    x = rng.standard_normal((2, 3))
    for bad, got in (([1, 2], "list"), ({"W1": 1}, "['W1']")):
        with pytest.raises(InputError) as err:
            m.forward(x, params=bad)
        assert (str(err.value), err.value.param) == (
            f"params must be a dict with keys ['W1', 'b1', 'W2', 'b2'], got {got}", "params")
    wrong = {k: v.copy() for k, v in m.params.items()} | {"b1": np.zeros((1, 4))}
    with pytest.raises(InputError) as err:
        m.forward(x, params=wrong)
    assert (str(err.value), err.value.param) == ("params['b1'] must have shape (4, 1), got (1, 4)", "params")
    from bmnn.gradcheck import numerical_gradient

    with pytest.raises(InputError) as err:
        numerical_gradient(lambda p: 0.0, {"a": np.ones(2)}, eps=-0.5)
    assert (str(err.value), err.value.param) == (
        "eps must be a finite number > 0 (the finite-difference step), got -0.5", "eps")


def test_output_gradient_table_one_minus_y_hat_is_exact_in_each_precision():
    """1 - y_hat, in the table's own precision, equals the exact difference (Sterbenz: y_hat >= 1/2), and so tells
    a sigmoid a few ulps below 1 from one that rounded to 1."""
    from fractions import Fraction

    t = sm.output_gradient_table(np.array([0.7, 5.3, 16.2, 17.0, 36.4, 37.0]), 0)
    for tag, dt in (("64", np.float64), ("32", np.float32)):
        assert t[f"one_minus{tag}"].dtype == dt
        for y_hat, one_minus in zip(t[f"y_hat{tag}"], t[f"one_minus{tag}"], strict=True):
            assert Fraction(float(one_minus)) == 1 - Fraction(float(y_hat))
    assert t["one_minus64"][4] > 0 and t["one_minus64"][5] == 0  # float64 rounds to 1 between 36.4 and 37
    assert t["one_minus32"][2] > 0 and t["one_minus32"][3] == 0  # float32 between 16.2 and 17
