"""The finite-difference checker against closed forms: the five-point stencil's value and error order on a
polynomial and an exponential, the normwise relative error written out, and its refusals."""

import numpy as np
import pytest

from bmnn.gradcheck import check_gradients, numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function_in_every_entry():
    # f = sum(w^3) + 2.5 * b . w[0] + exp(b_1): df/dw = 3 w^2 (+ 2.5 b on row 0), df/db = 2.5 w[0] (+ exp(b_1))
    def f(p):
        w, b = p["w"], p["b"]
        return float(np.sum(w**3) + 2.5 * b @ w[0] + np.exp(b[1]))

    w = np.array([[0.7, -1.3, 2.1], [0.4, 0.9, -0.2]])
    b = np.array([0.3, -0.8, 1.1])
    params = {"w": w.astype(np.float32), "b": b}  # float32 in: float64 copies are used, the inputs are untouched
    g = numerical_gradient(f, params, eps=1e-3)
    dw = 3 * w**2
    dw[0] += 2.5 * b
    db = 2.5 * w[0]
    db[1] += np.exp(b[1])
    assert g["w"].dtype == np.float64 and g["w"].shape == (2, 3)
    w32 = w.astype(np.float32).astype(np.float64)  # the values f actually sees
    np.testing.assert_allclose(g["w"], 3 * w32**2 + np.vstack([2.5 * b, 0 * b]), rtol=1e-9)
    np.testing.assert_allclose(g["b"], 2.5 * w32[0] + np.array([0, np.exp(-0.8), 0]), rtol=1e-9)
    assert np.array_equal(params["w"], w.astype(np.float32)) and np.array_equal(params["b"], b)
    assert relative_error(g["w"], dw) < 1e-6  # the float32 rounding of w, nothing more


def test_the_stencil_is_fourth_order_and_uses_its_step():
    # on exp the five-point error is eps^4 f^(5) / 30: halving eps divides it by 16
    def f(p):
        return float(np.exp(p["x"][0]))

    x = {"x": np.array([0.37])}
    err = [abs(numerical_gradient(f, x, eps)["x"][0] - np.exp(0.37)) for eps in (0.2, 0.1)]
    assert err[0] == pytest.approx(0.2**4 * np.exp(0.37) / 30, rel=0.05)
    assert err[0] / err[1] == pytest.approx(16, rel=0.05)
    # check_gradients passes eps on: a coarse step shows its truncation error
    coarse = check_gradients(f, x, {"x": np.array([np.exp(0.37)])}, eps=0.2)["x"]
    assert coarse == pytest.approx(err[0] / np.exp(0.37), rel=1e-6)


def test_relative_error_is_normwise():
    a = np.array([[1.0, -4.0], [0.0, 2.0]])
    b = np.array([[1.5, -4.0], [0.0, 1.0]])
    assert relative_error(a, b) == 1.0 / 4.0  # largest difference over the largest entry of either
    assert relative_error(b, 3 * b) == 2 * 4.0 / 12.0
    assert relative_error(np.zeros(3), np.full(3, 1e-15)) == 1e-15 / 1e-12  # the floor
    assert relative_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0  # empty arrays
    assert relative_error(np.array([1, 3], dtype=np.int64), np.array([1.0, 2.5])) == 0.5 / 3
    with pytest.raises(ValueError, match=r"shapes differ: \(2,\) and \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


def test_mismatched_keys_are_named():
    with pytest.raises(ValueError, match=r"these differ: \['c', 'w'\]"):
        check_gradients(lambda p: 0.0, {"w": np.zeros(2)}, {"c": np.zeros(2)})


def test_the_default_step_is_small_enough_for_a_curved_function():
    x = np.array([0.3, 1.7, -2.2])
    g = numerical_gradient(lambda p: float(np.sum(np.sin(p["x"]))), {"x": x})  # eps = 1e-3: error ~ eps^4 / 30
    np.testing.assert_allclose(g["x"], np.cos(x), rtol=0, atol=1e-12)


def test_numerical_gradient_never_touches_the_callers_arrays():
    # f reads the caller's array as a constant: d/dw sum(w * a) = a. Were the caller's array perturbed in place,
    # the stencil would see sum(a * a) and return 2 a.
    a = np.array([[0.7, -1.3], [2.1, 0.4]])
    keep = a.copy()
    g = numerical_gradient(lambda p: float(np.sum(p["w"] * a)), {"w": a})
    np.testing.assert_allclose(g["w"], keep, rtol=1e-9)
    np.testing.assert_array_equal(a, keep)


def test_relative_error_of_integer_arrays_does_not_wrap_around():
    a, b = np.array([-128], dtype=np.int8), np.array([-127], dtype=np.int8)
    assert relative_error(a, b) == 1 / 128  # |-128| is 128 in float64, -128 again in int8
    assert relative_error(b, a) == 1 / 128
    c, d = np.array([100], dtype=np.int8), np.array([-100], dtype=np.int8)
    assert relative_error(c, d) == 2.0  # 200 / 100; in int8 the difference wraps to -56
