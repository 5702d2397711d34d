"""Job 4's training loop: one frozen config, one readable loop, history as JSON, an atomic checkpoint per epoch.

Recipes:

* ``classic`` reproduces the material: weights N(0, 0.01^2), zero biases, pixels scaled to [0, 1], plain SGD with
  lr 0.1, batch 256, 10 epochs, autograd backward.
* ``best`` keeps exactly the 784-256-10 architecture and trains it better: standardised inputs, He initialisation,
  Nesterov momentum, a warm-up then cosine learning-rate schedule, weight decay, label smoothing, dropout on the
  hidden layer, random 1-pixel moves along an axis (the image, or it moved up, down, left or right), the
  hand-written backward, and an exponential moving average of the weights over the second half of training
  (evaluated and saved as the model). Its settings were chosen on a validation
  split carved from the training set (``bmnn train --validation 5000``), never on the test set; the recipe then
  trains on all 60,000 training images.

The checkpoint (``checkpoint.pt``) is a plain dict, loadable with ``torch.load(path, weights_only=True)``:
``W1`` (784 x 256), ``b1`` (256), ``W2`` (256 x 10), ``b2`` (10) as float32 tensors (the model to use: averaged
weights when the recipe averages), ``preprocess`` = {"scale", "mean", "std"} such that a flattened row-major 28 x 28
image of raw pixels ``p`` is fed as ``((p * scale) - mean) / std``, then ``logits = relu(x W1 + b1) W2 + b2``;
``config``, ``epoch``, ``history``, ``format`` (1), and ``resume`` (raw weights, momentum, average, RNG state).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bmnn._checks import BmnnError, InputError
from bmnn.scratch_mlp import model as M

CHECKPOINT_FORMAT = 1


class TrainingDiverged(BmnnError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; saved with the results."""

    recipe: str = "best"  # "classic" or "best": the defaults below are overridden by the recipe
    epochs: int = 10  # passes over the training images
    batch_size: int = 256  # images per SGD step
    lr: float = 0.1  # peak learning rate
    seed: int = 0  # seeds the torch.Generator behind init, shuffling, dropout and augmentation
    init: str = "normal"  # "normal": N(0, init_std^2); "he": He initialisation
    init_std: float = 0.01  # sd of the "normal" initialisation (the material: 0.01)
    standardize: bool = False  # feed (p/255 - mean) / std instead of p/255
    momentum: float = 0.0  # SGD momentum (0: plain SGD)
    nesterov: bool = False  # Nesterov momentum
    weight_decay: float = 0.0  # L2 decay on the weights (not the biases)
    label_smoothing: float = 0.0  # cross-entropy target smoothing
    dropout: float = 0.0  # dropout probability on the hidden layer
    input_dropout: float = 0.0  # dropout probability on the input pixels
    cutout: int = 0  # side of a random square set to the background in each training image (0: off)
    augment: str = "none"  # "none"; "shift": a random shift of up to `shift` pixels down/up and left/right;
    # "cross": the image or one of its four moves of `shift` pixels along an axis; "flip+shift": shift or flip
    shift: int = 1  # the shift, in pixels, of the augmentations
    schedule: str = "constant"  # "constant" or "cosine" (with linear warm-up)
    warmup_epochs: int = 0  # linear warm-up length for "cosine"
    ema_decay: float = 0.0  # weight averaging: decay of the exponential moving average (0: off)
    ema_start: float = 0.0  # fraction of training after which the average is kept
    backward: str = "autograd"  # "autograd" (loss.backward(), as the material) or "hand"
    validation: int = 0  # hold out this many training images for validation (tuning); 0: train on all 60,000
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    threads: int = 0  # torch threads on the CPU (0: torch's default, all cores)


RECIPES: dict[str, dict[str, Any]] = {
    "classic": {"epochs": 10, "batch_size": 256, "lr": 0.1, "init": "normal", "init_std": 0.01},
    "best": {"epochs": 420, "batch_size": 256, "lr": 0.08, "init": "he", "standardize": True, "momentum": 0.9,
             "nesterov": True, "weight_decay": 2e-4, "label_smoothing": 0.05, "dropout": 0.2, "augment": "cross",
             "schedule": "cosine", "warmup_epochs": 3, "ema_decay": 0.998, "ema_start": 0.5, "backward": "hand"},
}


def make_config(recipe: str = "best", **overrides: Any) -> TrainConfig:
    """The recipe's config with ``overrides`` (``None`` values are ignored) applied on top."""
    if recipe not in RECIPES:
        raise InputError(f"recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise InputError(f"unknown training settings: {sorted(unknown)}")
    values = {"recipe": recipe, **RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
    cfg = TrainConfig(**values)
    _validate(cfg)
    return cfg


def parse_setting(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(key, value)`` for a :class:`TrainConfig` field, the value converted to the field's
    type (``true``/``false`` for switches)."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip().replace("-", "_"), raw.strip()
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if not sep or not key:
        raise InputError(f"--set expects KEY=VALUE, got {text!r}")
    if key not in fields or key == "recipe":
        known = ", ".join(sorted(set(fields) - {"recipe"}))
        raise InputError(f"--set: unknown training setting {key!r}; known: {known}")
    kind = type(fields[key].default)
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return key, raw.lower() in ("true", "1")
        return key, kind(raw)
    except ValueError:
        raise InputError(f"--set {key}: expected {kind.__name__}, got {raw!r}") from None


def _validate(cfg: TrainConfig) -> None:
    if cfg.epochs < 1:
        raise InputError(f"epochs must be >= 1, got {cfg.epochs}")
    if cfg.batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {cfg.batch_size}")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise InputError(f"lr must be a finite number > 0, got {cfg.lr}")
    if not 0 <= cfg.dropout < 1:
        raise InputError(f"dropout must be in [0, 1), got {cfg.dropout}")
    if not 0 <= cfg.cutout <= 28:
        raise InputError(f"cutout must be a side length in [0, 28], got {cfg.cutout}")
    if not 0 <= cfg.input_dropout < 1:
        raise InputError(f"input dropout must be in [0, 1), got {cfg.input_dropout}")
    if cfg.backward not in ("autograd", "hand"):
        raise InputError(f"backward must be 'autograd' or 'hand', got {cfg.backward!r}")
    if cfg.augment not in ("none", "shift", "flip+shift", "cross"):
        raise InputError(f"augment must be 'none', 'shift', 'cross' or 'flip+shift', got {cfg.augment!r}")
    if not 1 <= cfg.shift <= 4:
        raise InputError(f"shift must be 1, 2, 3 or 4 pixels, got {cfg.shift}")
    if cfg.schedule not in ("constant", "cosine"):
        raise InputError(f"schedule must be 'constant' or 'cosine', got {cfg.schedule!r}")
    if not 0 <= cfg.validation < 60_000:
        raise InputError(f"validation must be in [0, 60000), got {cfg.validation}")


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (a GPU when there is one)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but no CUDA device is available (use cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise InputError(f"device must be cpu, cuda or auto, got {name!r}")
    return torch.device(name)


def learning_rate(cfg: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    """The learning rate at a step: constant, or linear warm-up then cosine decay to zero."""
    if cfg.schedule == "constant":
        return cfg.lr
    t = epoch + step / steps_per_epoch
    if t < cfg.warmup_epochs:
        return cfg.lr * (t + 1 / steps_per_epoch) / cfg.warmup_epochs
    progress = (t - cfg.warmup_epochs) / max(cfg.epochs - cfg.warmup_epochs, 1e-12)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


@dataclass
class Data:
    """Preprocessed tensors on the training device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    preprocess: dict[str, float]


def prepare_data(arrays: dict[str, np.ndarray], cfg: TrainConfig, device: torch.device) -> Data:
    """Scale (and standardise) the pixels, split off the validation images, move everything to ``device``."""
    x_train = arrays["x_train"].reshape(-1, 784)
    y_train = arrays["y_train"]
    x_val = y_val = None
    if cfg.validation:
        perm = np.random.default_rng(12345).permutation(x_train.shape[0])  # a fixed split, the same for every run
        val, keep = perm[:cfg.validation], perm[cfg.validation:]
        x_val, y_val = x_train[val], y_train[val]
        x_train, y_train = x_train[keep], y_train[keep]
    scale = 1.0 / 255.0
    if cfg.standardize:
        pix = x_train.astype(np.float64) * scale
        mean, std = float(pix.mean()), float(pix.std())
    else:
        mean, std = 0.0, 1.0
    pre = {"scale": scale, "mean": mean, "std": std}

    def tx(a):
        return torch.from_numpy(((a.astype(np.float32) * scale - mean) / std).astype(np.float32)).to(device)

    def ty(a):
        return torch.from_numpy(a.astype(np.int64)).to(device)

    return Data(tx(x_train), ty(y_train), tx(arrays["x_test"].reshape(-1, 784)), ty(arrays["y_test"]),
                None if x_val is None else tx(x_val), None if y_val is None else ty(y_val), pre)


def shift_offsets(radius: int = 1, cross: bool = False) -> list[tuple[int, int]]:
    """The ``(down, right)`` pixel shifts of the augmentation: every shift of at most ``radius`` in each direction
    (a ``(2 radius + 1)^2`` square, diagonal moves included), or with ``cross`` only the image itself and its four
    moves of ``radius`` pixels along an axis."""
    if cross:
        return [(radius, 0), (0, radius), (0, 0), (0, -radius), (-radius, 0)]
    return [(dy, dx) for dy in range(radius, -radius - 1, -1) for dx in range(radius, -radius - 1, -1)]


def augmented_views(x: torch.Tensor, background: float, flips: bool = True, radius: int = 1,
                    cross: bool = False) -> torch.Tensor:
    """Every view of every image: each shift of :func:`shift_offsets` (uncovered pixels filled with the
    background), and with ``flips`` each of them also horizontally flipped; shaped ``(views * n, 784)``, view-major.
    Built once, so an epoch's augmentation is a single gather, fused with the shuffle."""
    n, offsets = x.shape[0], shift_offsets(radius, cross)
    views = torch.empty(((2 if flips else 1) * len(offsets), n, 784), dtype=x.dtype, device=x.device)
    padded = torch.full((n, 28 + 2 * radius, 28 + 2 * radius), background, dtype=x.dtype, device=x.device)
    for f in range(2 if flips else 1):
        img = x.view(n, 28, 28)
        padded[:, radius:radius + 28, radius:radius + 28] = img.flip(2) if f else img
        for i, (dy, dx) in enumerate(offsets):  # a view shifted down by dy shows the padded image from row -dy
            top, left = radius - dy, radius - dx
            views[f * len(offsets) + i] = padded[:, top:top + 28, left:left + 28].reshape(n, 784)
    return views.view(-1, 784)


def cutout(x: torch.Tensor, side: int, generator: torch.Generator, background: float) -> torch.Tensor:
    """Set a random ``side x side`` square of each image (rows of ``x``) to the background; the square may hang
    over the edge, as in the usual cutout."""
    n = x.shape[0]
    top = torch.randint(-side + 1, 28, (n, 1, 1), generator=generator, device=x.device)
    left = torch.randint(-side + 1, 28, (n, 1, 1), generator=generator, device=x.device)
    pos = torch.arange(28, device=x.device)
    rows = (pos[None, :, None] >= top) & (pos[None, :, None] < top + side)
    cols = (pos[None, None, :] >= left) & (pos[None, None, :] < left + side)
    return x.masked_fill((rows & cols).view(n, 784), background)


def evaluate(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy, without dropout."""
    logits = M.predict_logits(params, x)
    return float(M.cross_entropy(logits, y)), float((logits.argmax(dim=1) == y).float().mean())


def _atomic_save(obj: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_text(text: str, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).clone() for k, v in tensors.items()}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a checkpoint written by :func:`train` (``weights_only=True``: no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--checkpoint {str(path)!r} does not exist")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise InputError(f"--checkpoint {str(path)!r} is not a readable checkpoint: {exc}") from None
    shapes = {"W1": (784, 256), "b1": (256,), "W2": (256, 10), "b2": (10,)}
    for k, shape in shapes.items():
        if not isinstance(ck.get(k), torch.Tensor) or tuple(ck[k].shape) != shape:
            raise InputError(f"--checkpoint {str(path)!r} has no {k} of shape {shape}")
    return ck


def train(cfg: TrainConfig, arrays: dict[str, np.ndarray], out: str | Path, resume: bool = False,
          log=print, progress: bool | None = None) -> dict[str, Any]:
    """Train, writing ``history.json`` and ``checkpoint.pt`` in ``out`` after every epoch; return the final
    checkpoint dict. With ``resume``, continue from ``out/checkpoint.pt`` (same config required) to the same final
    weights as an uninterrupted run."""
    _validate(cfg)
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ck_path = out / "checkpoint.pt"
    data = prepare_data(arrays, cfg, device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    params = M.init_params(gen, cfg.init, cfg.init_std, device=device)
    opt = M.SGD(params, cfg.momentum, cfg.nesterov, cfg.weight_decay)
    ema: dict[str, torch.Tensor] | None = None
    history: list[dict[str, float]] = []
    start_epoch = 0
    if resume and ck_path.exists():
        ck = load_checkpoint(ck_path)
        if ck.get("config") != dataclasses.asdict(cfg):
            raise InputError(f"--resume: {ck_path} was written with other settings; use the same flags or a new --out")
        r = ck["resume"]
        for k in params:
            params[k].copy_(r["params"][k].to(device))
        opt.load_state_dict({k: v.to(device) for k, v in r["momentum"].items()})
        ema = None if r["ema"] is None else {k: v.to(device) for k, v in r["ema"].items()}
        gen.set_state(r["generator"])
        history, start_epoch = list(ck["history"]), int(ck["epoch"])
        log(f"resuming {ck_path} after epoch {start_epoch}")
    n = data.x_train.shape[0]
    steps = math.ceil(n / cfg.batch_size)
    background = (0.0 - data.preprocess["mean"]) / data.preprocess["std"]
    views = None if cfg.augment == "none" else augmented_views(
        data.x_train, background, flips=cfg.augment == "flip+shift", radius=cfg.shift, cross=cfg.augment == "cross")
    work = M.Workspace(cfg.batch_size, data.x_train.dtype, device)
    ema_from = int(cfg.ema_start * cfg.epochs * steps)
    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen, device=device)
        source, rows = data.x_train, order
        if views is not None:  # a random view of each image, in the shuffled order
            source = views
            rows = torch.randint(0, views.shape[0] // n, (n,), generator=gen, device=device) * n + order
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, unit="step")
        for step in range(steps):
            batch = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
            xb = source[rows[batch]]  # gathered per batch, so it is still in cache for the matrix products
            yb = data.y_train[order[batch]]
            if cfg.cutout:
                xb = cutout(xb, cfg.cutout, gen, background)
            if cfg.input_dropout:
                xb = xb * M.dropout_mask(xb, cfg.input_dropout, gen)
            lr = learning_rate(cfg, epoch, step, steps)
            if cfg.backward == "hand":  # backward and update in one: the optimiser fuses the weight products
                cache = M.forward(params, xb, cfg.dropout, gen, work)
                loss = M.hand_step(params, cache, yb, lr, opt, cfg.label_smoothing)
                logits = cache.logits
            else:
                loss, grads, logits = M.autograd_backward(params, xb, yb, cfg.dropout, gen, cfg.label_smoothing)
                opt.step(params, grads, lr)
            if not torch.isfinite(loss):
                kept = f"the last good checkpoint (epoch {start_epoch if not history else history[-1]['epoch']}) " \
                       f"is kept in {ck_path}" if ck_path.exists() else "no checkpoint was written yet"
                raise TrainingDiverged(f"the loss became {float(loss)} at epoch {epoch + 1}, step {step + 1}; "
                                       f"{kept}; try a smaller --lr")
            global_step = epoch * steps + step
            if cfg.ema_decay and global_step >= ema_from:
                if ema is None:
                    ema = {k: v.clone() for k, v in params.items()}
                else:
                    for k in ema:
                        ema[k].lerp_(params[k], 1 - cfg.ema_decay)
            loss_sum += loss.detach() * yb.shape[0]
            correct += (logits.argmax(dim=1) == yb).sum()
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
        model = ema if ema is not None else params
        # training loss and accuracy: running averages over the epoch's steps, on the images as trained on
        # (augmented, with dropout, with the weights of the moment), as is usual for training curves
        train_loss, train_acc = float(loss_sum) / n, float(correct) / n
        test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
               "test_loss": test_loss, "test_acc": test_acc, "seconds": time.perf_counter() - t0}
        if data.x_val is not None:
            row["val_loss"], row["val_acc"] = evaluate(model, data.x_val, data.y_val)
        history.append(row)
        log(f"epoch {epoch + 1:4d}/{cfg.epochs}  lr {lr:.4f}  train loss {train_loss:.4f} acc {train_acc:.4f}  "
            f"test loss {test_loss:.4f} acc {test_acc:.4f}"
            + (f"  val acc {row['val_acc']:.4f}" if "val_acc" in row else "") + f"  {row['seconds']:.1f}s")
        ck = {"format": CHECKPOINT_FORMAT, **_cpu(model), "preprocess": data.preprocess,
              "config": dataclasses.asdict(cfg), "epoch": epoch + 1, "history": history,
              "resume": {"params": _cpu(params), "momentum": _cpu(opt.state_dict()),
                         "ema": None if ema is None else _cpu(ema), "generator": gen.get_state()}}
        _atomic_save(ck, ck_path)
        _atomic_write_text(json.dumps({"config": dataclasses.asdict(cfg), "history": history}, indent=1),
                           out / "history.json")
    return load_checkpoint(ck_path)
