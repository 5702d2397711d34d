"""Job 4: the from-scratch MLP. No torch.nn anywhere in the package; the two backward modes agree; the loss is
stable; SGD matches its formula; training is seeded, resumable, and stops on a NaN."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import bmnn.scratch_mlp
from bmnn._checks import InputError
from bmnn.experiments.scratch_mlp import forbidden_torch_uses, package_torch_uses
from bmnn.scratch_mlp import model as M
from bmnn.scratch_mlp.optim import SGD
from bmnn.scratch_mlp.runs import SettingsDiffer
from bmnn.scratch_mlp.train import TrainingDiverged, learning_rate, load_checkpoint, make_config, train

PKG = Path(bmnn.scratch_mlp.__file__).parent


def test_no_torch_nn_or_optim_in_the_package():
    """Parse every module of the package: no import of torch.nn / torch.optim, no attribute use either."""
    assert package_torch_uses() == []
    assert len(list(PKG.glob("*.py"))) >= 3


@pytest.mark.parametrize(
    "snippet",
    ["import torch.nn as nn\n", "from torch import optim\n", "from torch.nn.functional import relu\n",
     "import torch\nw = torch.nn.Parameter(torch.zeros(1))\n", "import torch\nopt = torch.optim.SGD\n"],
)
def test_the_ast_check_catches_each_kind_of_violation(snippet):
    assert len(forbidden_torch_uses(snippet)) == 1
    assert forbidden_torch_uses("import torch\nx = torch.zeros(3).relu()\n") == []


def setup(dtype, seed=0, n=64, dropout=0.0):
    g = torch.Generator().manual_seed(seed)
    params = M.init_params(g, "he", dtype=dtype)
    params["b1"] += 0.1 * torch.randn(256, generator=g, dtype=dtype)
    params["b2"] += 0.1 * torch.randn(10, generator=g, dtype=dtype)
    x = torch.randn(n, 784, generator=g, dtype=dtype)
    y = torch.randint(0, 10, (n,), generator=g)
    return params, x, y


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_hand_backward_equals_autograd(dtype, tol, smoothing, dropout):
    params, x, y = setup(dtype)
    cache = M.forward(params, x, dropout, torch.Generator().manual_seed(7))
    loss_h, g_h = M.hand_backward(params, cache, y, smoothing)
    loss_a, g_a, _ = M.autograd_backward(params, x, y, dropout, torch.Generator().manual_seed(7), smoothing)
    assert abs(float(loss_h - loss_a)) <= tol * max(1.0, abs(float(loss_a)))
    for k in M.PARAMS:
        err = float((g_h[k] - g_a[k]).abs().max() / g_a[k].abs().max())
        assert err <= tol, (k, err)


def test_cross_entropy_indexes_each_rows_true_class_and_is_stable():
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 2.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0, 2])
    ce = M.cross_entropy(logits, y)
    # row 1: its true class dominates by 1000, so it contributes 0; row 2: logsumexp(0, 2, 1) - 1
    expected = (0.0 + (np.log(np.exp(0.0) + np.exp(2.0) + np.exp(1.0)) - 1.0)) / 2
    assert torch.isfinite(ce) and float(ce) == pytest.approx(expected, rel=1e-12)
    # each row's own class is picked: swapping the two labels' roles changes the loss to its own hand value
    ce_other = M.cross_entropy(logits, torch.tensor([2, 1]))
    other = ((0.0 - (-2000.0)) + (np.log(np.exp(0.0) + np.exp(2.0) + np.exp(1.0)) - 2.0)) / 2
    assert float(ce_other) == pytest.approx(other, rel=1e-12)
    ref = torch.logsumexp(logits, dim=1) - logits[torch.arange(2), y]
    assert float(ce) == pytest.approx(float(ref.mean()), rel=1e-14)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 2e-3), (torch.float64, 1e-9)])
def test_hand_loss_and_delta_are_stable_at_huge_logits(dtype, tol):
    """Logits of +-1e4 (exp overflows float64 at 710): finite loss, softmax minus one-hot exact in the limit
    (float32 spacing at 1e4 is 1e-3, which bounds what it can resolve of a logit difference of 1)."""
    logits = torch.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4 - 1.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    params = {"W2": torch.zeros(256, 3, dtype=dtype)}
    cache = M.Cache(x=None, h=torch.ones(3, 256, dtype=dtype), dropout_scale=1.0, logits=logits)
    loss, d, _ = M._deltas(params, cache, torch.tensor([0, 2, 0]), 0.0)
    # row 1: right by 1e4 -> 0; row 2: wrong by 1 -> log(1 + e); row 3: wrong by 2e4 -> 2e4
    expected = (0.0 + np.log1p(np.e) + 2e4) / 3
    assert float(loss) == pytest.approx(expected, rel=tol)
    sm = torch.tensor([[1.0, 0, 0], [0, np.e / (1 + np.e), 1 / (1 + np.e)], [0, 0, 1.0]], dtype=dtype)
    onehot = torch.eye(3, dtype=dtype)[[0, 2, 0]]
    torch.testing.assert_close(d, sm - onehot, rtol=tol, atol=tol)  # softmax minus target (1 / n left out)


def test_sgd_matches_its_formulas():
    w = {"W1": torch.tensor([1.0, -2.0]), "b1": torch.tensor([0.5])}
    g = {"W1": torch.tensor([0.1, 0.2]), "b1": torch.tensor([1.0])}
    opt = SGD(w, momentum=0.9, nesterov=True, weight_decay=0.01)
    opt.step(w, g, lr=0.5)
    gw = torch.tensor([0.1, 0.2]) + 0.01 * torch.tensor([1.0, -2.0])
    v = gw
    torch.testing.assert_close(w["W1"], torch.tensor([1.0, -2.0]) - 0.5 * (gw + 0.9 * v))
    torch.testing.assert_close(w["b1"], torch.tensor([0.5]) - 0.5 * (1.0 + 0.9 * 1.0))  # biases not decayed
    plain = {"W1": torch.tensor([1.0])}
    SGD(plain).step(plain, {"W1": torch.tensor([2.0])}, lr=0.1)
    torch.testing.assert_close(plain["W1"], torch.tensor([0.8]))


def test_same_seed_same_weights():
    a = M.init_params(torch.Generator().manual_seed(3))
    b = M.init_params(torch.Generator().manual_seed(3))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert float(a["W1"].std()) == pytest.approx(0.01, rel=0.02)
    assert a["W1"].shape == (784, 256) and a["b2"].shape == (10,) and float(a["b1"].abs().sum()) == 0.0


def tiny_arrays(n_train=600, n_test=200, seed=0):
    """Synthetic 28 x 28 'images' with a learnable class signal, in the layout of the real data."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 256, size=(10, 784))
    def make(n):
        y = rng.integers(0, 10, size=n)
        x = np.clip(protos[y] + rng.normal(0, 60, size=(n, 784)), 0, 255).astype(np.uint8)
        return x, y.astype(np.uint8)
    xtr, ytr = make(n_train)
    xte, yte = make(n_test)
    return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}


def quiet(*_):
    pass


def test_resume_gives_the_same_final_weights(tmp_path):
    arrays = tiny_arrays()
    cfg = make_config("best", epochs=4, batch_size=64, ema_start=0.25, threads=1)
    full = train(cfg, arrays, tmp_path / "full", log=quiet, progress=False)

    class Crash(Exception):
        pass

    def crash_in_epoch_3(line):  # epoch 3's log line comes after its checkpoint: epoch 3 is the last on disk
        if line.startswith("epoch    3/"):
            raise Crash

    with pytest.raises(Crash):
        train(cfg, arrays, tmp_path / "cut", log=crash_in_epoch_3, progress=False)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 3
    resumed = train(cfg, arrays, tmp_path / "cut", resume=True, log=quiet, progress=False)
    for k in M.PARAMS:
        assert torch.equal(full[k], resumed[k]), k
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3, 4]
    with pytest.raises(SettingsDiffer, match=r"was started with other settings \(lr: 0.08 -> 0.01\)"):
        train(dataclasses.replace(cfg, lr=0.01), arrays, tmp_path / "cut", resume=True, log=quiet, progress=False)


def test_checkpoint_format_is_plain_and_numpy_evaluable(tmp_path):
    arrays = tiny_arrays()
    cfg = make_config("classic", epochs=2, threads=1)
    train(cfg, arrays, tmp_path, log=quiet, progress=False)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["W1"].dtype == torch.float32 and tuple(ck["W1"].shape) == (784, 256)
    pre = ck["preprocess"]
    x = (arrays["x_test"].astype(np.float64) * pre["scale"] - pre["mean"]) / pre["std"]
    logits = np.maximum(x @ ck["W1"].numpy() + ck["b1"].numpy(), 0) @ ck["W2"].numpy() + ck["b2"].numpy()
    acc = float(np.mean(logits.argmax(1) == arrays["y_test"]))
    assert acc == pytest.approx(ck["history"][-1]["test_acc"], abs=1e-6)
    hist = json.loads((tmp_path / "history.json").read_text())
    assert {"epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"} <= set(hist["history"][0])


def test_nan_stops_with_epoch_and_step_and_keeps_checkpoint(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    with pytest.raises(TrainingDiverged, match=r"the loss became (nan|inf) at epoch 1, step \d+; no checkpoint"):
        train(make_config("classic", epochs=3, lr=1e38, threads=1), arrays, tmp_path / "a", log=quiet,
              progress=False)
    # a run that is fine for one epoch, then blows up: epoch 1's checkpoint must survive untouched
    import bmnn.scratch_mlp.train as T

    real = T.learning_rate
    monkeypatch.setattr(T, "learning_rate", lambda cfg, e, s, n: real(cfg, e, s, n) if e == 0 else 1e38)
    with pytest.raises(TrainingDiverged, match=r"at epoch 2, step \d+; the last good checkpoint \(epoch 1\)"):
        train(make_config("classic", epochs=3, threads=1), arrays, tmp_path / "b",
              log=quiet, progress=False)
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["epoch"] == 1


def test_config_validation():
    with pytest.raises(InputError, match="recipe must be one of"):
        make_config("fast")
    with pytest.raises(InputError, match=r"lr must be in \(0, inf\), got -1"):
        make_config("classic", lr=-1.0)
    with pytest.raises(InputError, match="dropout must be in"):
        make_config("best", dropout=1.0)


def test_learning_rate_schedule():
    cfg = make_config("best", epochs=10, warmup_epochs=2)
    assert learning_rate(cfg, 0, 0, 100) == pytest.approx(cfg.lr * 0.01 / 2)
    assert learning_rate(cfg, 2, 0, 100) == pytest.approx(cfg.lr)
    assert learning_rate(cfg, 9, 99, 100) < 0.01 * cfg.lr


def test_augmented_views_are_flips_and_one_pixel_shifts():
    from bmnn.scratch_mlp.augment import augmented_views

    x = torch.arange(2 * 784, dtype=torch.float32).view(2, 784)
    v = augmented_views(x, -1.0).view(18, 2, 28, 28)
    img = x.view(2, 28, 28)
    assert torch.equal(v[4], img)  # no flip, no shift
    assert torch.equal(v[13], img.flip(2))  # flipped, no shift
    assert torch.equal(v[0][:, 1:, 1:], img[:, :27, :27]) and bool((v[0][:, 0, :] == -1).all())  # down-right
    assert torch.equal(v[8][:, :27, :27], img[:, 1:, 1:]) and bool((v[8][:, 27, :] == -1).all())  # up-left


def test_augmented_views_with_a_larger_shift():
    from bmnn.scratch_mlp.augment import augmented_views

    x = torch.arange(3 * 784, dtype=torch.float32).view(3, 784)
    v = augmented_views(x, -1.0, flips=False, radius=2).view(25, 3, 28, 28)
    img = x.view(3, 28, 28)
    assert torch.equal(v[12], img)  # the centre view is the image
    assert torch.equal(v[0][:, 2:, 2:], img[:, :26, :26]) and bool((v[0][:, :2, :] == -1).all())  # 2 down, 2 right
    assert torch.equal(v[24][:, :26, :26], img[:, 2:, 2:]) and bool((v[24][:, 26:, :] == -1).all())  # 2 up, 2 left
    assert torch.equal(v[13][:, :, :27], img[:, :, 1:])  # 1 left
    c = augmented_views(x, -1.0, flips=False, cross=True).view(5, 3, 28, 28)
    assert torch.equal(c[2], img) and torch.equal(c[0][:, 1:], img[:, :27]) and torch.equal(c[4][:, :27], img[:, 1:])
    assert torch.equal(c[1][:, :, 1:], img[:, :, :27]) and torch.equal(c[3][:, :, :27], img[:, :, 1:])
    assert bool((c[1][:, :, 0] == -1).all()) and bool((c[4][:, 27] == -1).all())
    with pytest.raises(InputError, match="shift must be"):
        make_config("best", shift=5)


@pytest.mark.parametrize(("momentum", "nesterov", "wd"), [(0.0, False, 0.0), (0.0, False, 0.1), (0.9, False, 0.1),
                                                           (0.9, True, 0.1), (0.5, True, 0.0)])
def test_sgd_against_a_direct_transcription(momentum, nesterov, wd):
    """Three steps against the textbook update written out with temporaries."""
    g = torch.Generator().manual_seed(0)
    w = {"W1": torch.randn(5, generator=g), "b1": torch.randn(3, generator=g)}
    ref = {k: v.clone() for k, v in w.items()}
    vel = {k: torch.zeros_like(v) for k, v in w.items()}
    opt = SGD(w, momentum, nesterov, wd)
    for lr in (0.1, 0.05, 0.2):
        grads = {k: torch.randn(v.shape, generator=g) for k, v in w.items()}
        opt.step(w, grads, lr)
        for k in ref:
            step = grads[k] + (wd * ref[k] if k.startswith("W") else 0.0)
            if momentum:
                vel[k] = momentum * vel[k] + step
                step = step + momentum * vel[k] if nesterov else vel[k]
            ref[k] = ref[k] - lr * step
    for k in w:
        torch.testing.assert_close(w[k], ref[k], rtol=1e-6, atol=1e-7)


def test_cutout_blanks_one_square_per_image():
    from bmnn.scratch_mlp.augment import cutout

    x = torch.zeros(200, 784)
    out = cutout(x, 8, torch.Generator().manual_seed(0), -1.0).view(200, 28, 28)
    for img in out:
        rows, cols = torch.nonzero(img == -1, as_tuple=True)
        if rows.numel():  # a square (clipped at the edges): its bounding box is exactly filled
            h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
            assert h <= 8 and w <= 8 and rows.numel() == h * w
    full = (out == -1).sum(dim=(1, 2))
    assert int(full.max()) == 64 and float((full > 0).float().mean()) > 0.95


@pytest.mark.parametrize(("momentum", "nesterov", "wd"), [(0.0, False, 0.0), (0.0, False, 0.01), (0.9, False, 0.01),
                                                           (0.9, True, 0.01)])
def test_fused_hand_step_equals_backward_then_step(momentum, nesterov, wd):
    params, x, y = setup(torch.float64, n=32)
    twin = {k: v.clone() for k, v in params.items()}
    opt, opt2 = SGD(params, momentum, nesterov, wd), SGD(twin, momentum, nesterov, wd)
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    for lr in (0.1, 0.05):
        loss = M.hand_step(params, M.forward(params, x, 0.2, g1), y, lr, opt, 0.1)
        loss2, grads = M.hand_backward(twin, M.forward(twin, x, 0.2, g2), y, 0.1)
        opt2.step(twin, grads, lr)
        assert float(loss) == pytest.approx(float(loss2), rel=1e-14)
    for k in params:
        torch.testing.assert_close(params[k], twin[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize(("momentum", "nesterov"), [(0.0, False), (0.9, True)])
def test_step_with_a_workspace_equals_the_step_without(dropout, momentum, nesterov):
    """Same draws, same updates, whether the arrays are fresh or written into reused buffers (a batch larger than
    the buffers falls back to fresh arrays); the cache's hidden layer lives in the workspace."""
    params, x, y = setup(torch.float64, n=48)
    twin = {k: v.clone() for k, v in params.items()}
    opt, opt2 = SGD(params, momentum, nesterov, 0.01), SGD(twin, momentum, nesterov, 0.01)
    work = M.Workspace(40, torch.float64)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for rows in (40, 32, 48, 40):
        cache = M.forward(params, x[:rows], dropout, g1, work)
        assert (cache.work is work) == (rows <= 40)
        if rows <= 40:
            assert cache.h.data_ptr() == work.h.data_ptr()
        loss = M.hand_step(params, cache, y[:rows], 0.05, opt, 0.1)
        loss2 = M.hand_step(twin, M.forward(twin, x[:rows], dropout, g2), y[:rows], 0.05, opt2, 0.1)
        assert float(loss) == float(loss2)
    for k in params:
        torch.testing.assert_close(params[k], twin[k], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("p", [0.2, 0.35])
def test_dropout_mask_keeps_units_at_rate_one_minus_p_and_scales_them(p):
    """A statistical test of the keep rate against its binomial sd, independent of the training paths."""
    like = torch.empty(400, 500)
    mask = M.dropout_mask(like, p, torch.Generator().manual_seed(3))
    kept = mask != 0
    n = mask.numel()
    rate = float(kept.float().mean())
    assert abs(rate - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    assert torch.allclose(mask[kept], torch.full_like(mask[kept], 1 / (1 - p)))  # inverted dropout: E[mask] = 1
    out = torch.empty(400, 500)
    again = M.dropout_mask(like, p, torch.Generator().manual_seed(3), out=out)
    assert again.data_ptr() == out.data_ptr() and torch.equal(again, mask)


# ---- tests written against surviving mutants (docs/mutation.md) ---------------------------------------------------

def test_cutout_is_reproducible_and_covers_every_pixel_row_equally():
    from bmnn.scratch_mlp.augment import cutout

    n, side = 20_000, 9
    x = torch.ones(n, 784, dtype=torch.float64)
    a = cutout(x, side, torch.Generator().manual_seed(5), background=0.0)
    b = cutout(x, side, torch.Generator().manual_seed(5), background=0.0)
    assert torch.equal(a, b) and a.dtype == torch.float64
    cut = (a == 0).reshape(n, 28, 28)
    # top and left are uniform on -side+1 .. 27 (27 + side values), so each row and each column is covered by
    # exactly side of them: probability side / (27 + side) everywhere, the edges included
    p = side / (27 + side)
    rows = cut.any(dim=2).double().mean(dim=0)
    cols = cut.any(dim=1).double().mean(dim=0)
    tol = 4.5 * np.sqrt(p * (1 - p) / n)
    assert torch.all((rows - p).abs() < tol) and torch.all((cols - p).abs() < tol)
    # every square overlaps the image (none falls off it entirely) and is at most side x side
    area = cut.sum(dim=(1, 2))
    assert int(area.min()) >= 1 and int(area.max()) == side * side


def test_augmented_views_keep_the_dtype_and_the_background():
    from bmnn.scratch_mlp.augment import augmented_views, shift_offsets

    x = torch.arange(2 * 784, dtype=torch.float64).reshape(2, 784) / 1000
    v = augmented_views(x, background=-0.5, flips=False, radius=2)
    assert v.dtype == torch.float64 and v.shape == (25 * 2, 784)
    k = shift_offsets(2).index((2, 0))  # two rows down: the top two rows are background
    img = v[k * 2].reshape(28, 28)
    assert torch.all(img[:2] == -0.5) and torch.equal(img[2:], x[0].reshape(28, 28)[:-2])
    assert shift_offsets() == [(dy, dx) for dy in (1, 0, -1) for dx in (1, 0, -1)]


def test_sgd_default_is_plain_gradient_descent():
    from bmnn.scratch_mlp.optim import SGD

    w = {"W1": torch.tensor([[1.0, -2.0]], dtype=torch.float64), "b1": torch.tensor([0.5], dtype=torch.float64)}
    g = {"W1": torch.tensor([[0.3, 0.1]], dtype=torch.float64), "b1": torch.tensor([-0.2], dtype=torch.float64)}
    opt = SGD(w)
    for _ in range(3):  # three steps of the same gradient: 3 lr g, whatever momentum would have added
        opt.step(w, g, lr=0.1)
    np.testing.assert_allclose(w["W1"].numpy(), [[1.0 - 0.09, -2.0 - 0.03]], rtol=1e-15)
    np.testing.assert_allclose(w["b1"].numpy(), [0.5 + 0.06], rtol=1e-15)


def test_predict_logits_in_batches_covers_every_row():
    p = M.init_params(torch.Generator().manual_seed(0), std=0.05)
    x = torch.rand(1000, 784, generator=torch.Generator().manual_seed(1))
    whole = M.forward(p, x).logits
    batched = M.predict_logits(p, x, batch=300)
    assert batched.shape == (1000, 10) and torch.allclose(batched, whole, rtol=1e-5, atol=1e-6)


def test_defaults_are_plain_cross_entropy_and_rows_of_very_different_scale_stay_finite():
    """Against torch.nn.functional.cross_entropy (the test may use it; the package may not): the hand loss and
    gradients, the fused step and autograd's, all without label smoothing by default; and the hand loss's
    log-sum-exp takes out each row's own maximum, so a row far below another does not underflow to log 0."""
    import torch.nn.functional as F

    params, x, y = setup(torch.float64, seed=3, n=6)
    x[0] *= 4000.0  # row 0's logits reach thousands; row 1 stays near 0
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    ref = F.cross_entropy(torch.relu(x @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"], y)
    ref.backward()
    cache = M.forward(params, x)
    assert float(cache.logits[0].abs().max()) > 800 and float(cache.logits[1].abs().max()) < 50
    loss, grads = M.hand_backward(params, cache, y)
    assert torch.isfinite(loss) and float(loss) == pytest.approx(float(ref.detach()), rel=1e-12)
    for k in M.PARAMS:
        torch.testing.assert_close(grads[k], leaves[k].grad, rtol=1e-10, atol=1e-12)
    loss_a, grads_a, _ = M.autograd_backward(params, x, y)
    assert float(loss_a) == pytest.approx(float(ref.detach()), rel=1e-12)
    torch.testing.assert_close(grads_a["W2"], leaves["W2"].grad, rtol=1e-10, atol=1e-12)
    stepped = {k: v.clone() for k, v in params.items()}
    M.hand_step(stepped, M.forward(stepped, x), y, 0.01, SGD(stepped))
    for k in M.PARAMS:
        torch.testing.assert_close(stepped[k], params[k] - 0.01 * leaves[k].grad, rtol=1e-10, atol=1e-12)


def test_every_tensor_follows_the_device_it_is_given():
    """PyTorch's meta device (shapes, no data) stands in for a GPU on a machine without one: a tensor created on the
    CPU by mistake either refuses to mix with the others or shows up as a CPU result."""
    from bmnn.scratch_mlp.augment import augmented_views, cutout

    params = M.init_params(torch.Generator().manual_seed(0), "he", dtype=torch.float32, device="meta")
    ws = M.Workspace(8, torch.float32, "meta")
    x = torch.zeros(5, 784, device="meta")
    y = torch.zeros(5, dtype=torch.long, device="meta")
    out = [*params.values(), ws.h, ws.mask, ws.dh, ws.ones]
    out.append(M.hand_step(params, M.forward(params, x, 0.2, None, ws), y, 0.1, SGD(params, momentum=0.9), 0.1))
    out.append(M.hand_step(params, M.forward(params, x), y, 0.1, SGD(params)))
    loss, grads = M.hand_backward(params, M.forward(params, x, 0.3), y, 0.1)
    out += [loss, *grads.values(), *params.values()]
    loss, grads, logits = M.autograd_backward(params, x, y, 0.2, None, 0.1)
    out += [loss, *grads.values(), logits, M.cross_entropy(logits, y, 0.1), M.dropout_mask(logits, 0.5, None)]
    out += [augmented_views(x, 0.0), cutout(x, 5, torch.Generator().manual_seed(1), 0.0)]
    assert [t.device.type for t in out] == ["meta"] * len(out)


def test_he_initialisation_has_the_documented_spread():
    p = M.init_params(torch.Generator().manual_seed(11), "he", dtype=torch.float64)
    assert float(p["W1"].std()) == pytest.approx((2 / 784) ** 0.5, rel=0.02)  # 200,704 draws: sd known to 0.2%
    assert float(p["W2"].std()) == pytest.approx((1 / 256) ** 0.5, rel=0.06)  # 2,560 draws: to 1.4%
    assert float(p["W1"].mean()) == pytest.approx(0.0, abs=1e-4) and not p["b1"].any() and not p["b2"].any()


def test_momentum_without_nesterov_is_the_heavy_ball_by_default():
    w0 = torch.tensor([1.5, -0.25], dtype=torch.float64)
    grads = [torch.tensor([0.3, -0.7], dtype=torch.float64), torch.tensor([-0.2, 0.4], dtype=torch.float64),
             torch.tensor([0.05, 0.1], dtype=torch.float64)]
    params = {"W": w0.clone()}
    opt = SGD(params, momentum=0.8)
    w, v = w0.clone(), torch.zeros(2, dtype=torch.float64)
    for g in grads:  # v = m v + g; w -= lr v
        opt.step(params, {"W": g}, 0.1)
        v = 0.8 * v + g
        w = w - 0.1 * v
    torch.testing.assert_close(params["W"], w, rtol=1e-14, atol=1e-15)
