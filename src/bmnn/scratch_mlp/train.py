"""Job 4's training loop: one frozen config, one readable loop, history as JSON, an atomic checkpoint per epoch.

The loop reads top to bottom like nanoGPT's ``train.py``: set-up (settings, run folder, data, model, optimiser,
resume state), then per epoch the signposted sections *forward, backward, update*, *evaluate and checkpoint*,
*log*, and *stop*. Its parts live beside it: the settings and recipes in :mod:`~bmnn.scratch_mlp.config`, the
augmentation in :mod:`~bmnn.scratch_mlp.augment`, the optimiser in :mod:`~bmnn.scratch_mlp.optim`, the run folder
(lock, atomic files, checkpoint schema) in :mod:`~bmnn.scratch_mlp.runs`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bmnn._checks import BmnnError, InputError
from bmnn.scratch_mlp import model as M
from bmnn.scratch_mlp import runs
from bmnn.scratch_mlp.augment import augmented_views, cutout
from bmnn.scratch_mlp.config import RECIPES, TrainConfig, differences, make_config, parse_setting, validate
from bmnn.scratch_mlp.optim import SGD
from bmnn.scratch_mlp.runs import CHECKPOINT_FORMAT, load_checkpoint

__all__ = ["RECIPES", "CHECKPOINT_FORMAT", "TrainConfig", "TrainingDiverged", "load_checkpoint", "make_config",
           "parse_setting", "check_run_folder", "train"]


class TrainingDiverged(BmnnError):
    """The loss became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (a GPU when there is one)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for, but no CUDA device is available (use cpu or auto)")
    if name != "cpu" and name != "cuda":
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
    x_train = arrays["x_train"].reshape(-1, M.N_IN)
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
        return torch.from_numpy(runs.preprocess(a, pre)).to(device)

    def ty(a):
        return torch.from_numpy(a.astype(np.int64)).to(device)

    return Data(tx(x_train), ty(y_train), tx(arrays["x_test"].reshape(-1, M.N_IN)), ty(arrays["y_test"]),
                None if x_val is None else tx(x_val), None if y_val is None else ty(y_val), pre)


def evaluate(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             confusion: bool = False) -> tuple[float, float] | tuple[float, float, list[list[int]]]:
    """Mean cross-entropy and accuracy, without dropout; with ``confusion``, also the 10 x 10 counts (row: true
    class, column: predicted)."""
    logits = M.predict_logits(params, x)
    accuracy, _, counts = M.scores(logits, y)
    out = float(M.cross_entropy(logits, y)), accuracy
    return (*out, counts.tolist()) if confusion else out


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).clone() for k, v in tensors.items()}


def _step_settings(cfg: TrainConfig) -> str:
    """The settings that set the size of a step, for the divergence message."""
    named = [f"lr = {cfg.lr:g}"]
    named += [f"{k} = {getattr(cfg, k):g}" for k in ("momentum", "weight_decay") if getattr(cfg, k)]
    if cfg.init == "normal":
        named.append(f"init_std = {cfg.init_std:g}")
    if cfg.schedule == "constant" and cfg.lr > 1:
        named.append("schedule = constant (no warm-up)")
    return ", ".join(named)


def check_run_folder(cfg: TrainConfig, out: Path, resume: bool, overwrite: bool, log) -> dict[str, Any] | None:
    """What happens to the run folder ``out`` (call it with the folder's lock held): the checkpoint to resume from,
    or ``None`` for a new run (an old one is removed first with ``overwrite``). Raises
    :class:`~bmnn.scratch_mlp.runs.RunExists` or :class:`~bmnn.scratch_mlp.runs.SettingsDiffer` as :func:`train`
    documents."""
    if resume and overwrite:
        raise InputError("resume and overwrite exclude each other: resume continues the run, overwrite replaces it")
    state = runs.run_state(out)
    if state is None:
        foreign = [name for name in runs.RUN_FILES if os.path.lexists(out / name)]
        if foreign:  # no run here, so these are someone else's files: never written over
            raise InputError(f"{str(out / foreign[0])!r} exists but the folder holds no bmnn run; bmnn would write "
                             "over it, so it is left alone: move it away or use another folder", param="out")
        return None
    if overwrite:
        log(f"overwriting {state} in {out}")
        runs.clear_run(out)
        return None
    if not resume:
        raise runs.RunExists(out, state)
    ck = load_checkpoint(out / runs.CHECKPOINT, resumable=True)
    diff = differences(ck["config"], cfg)
    if diff:
        raise runs.SettingsDiffer(out, diff)
    return ck


def train(cfg: TrainConfig, arrays: dict[str, np.ndarray], out: str | Path, resume: bool = False,
          overwrite: bool = False, log=print, progress: bool | None = None) -> dict[str, Any]:
    """Train, writing ``checkpoint.pt`` and ``history.json`` in ``out`` after every epoch; return the final
    checkpoint dict.

    A folder that already holds a run is refused (:class:`~bmnn.scratch_mlp.runs.RunExists`) unless ``resume``
    (continue it, to the same final weights as an uninterrupted run; its settings must be the same, bar ``device``
    and ``threads``) or ``overwrite`` (replace it). The folder is locked for the whole run.
    """
    validate(cfg)
    device = resolve_device(cfg.device)
    with runs.run_lock(out) as out:
        previous = check_run_folder(cfg, out, resume, overwrite, log)
        if previous is not None and previous["epoch"] >= cfg.epochs:
            log(f"the run in {out} is finished ({previous['epoch']} of {cfg.epochs} epochs): nothing to train")
            return previous
        return _loop(cfg, arrays, out, previous, device, log, progress)


def _loop(cfg: TrainConfig, arrays: dict[str, np.ndarray], out: Path, previous: dict[str, Any] | None,
          device: torch.device, log, progress: bool | None) -> dict[str, Any]:
    # ---- set-up: data, model, optimiser, and the state of an interrupted run ---------------------------------------
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ck_path = out / runs.CHECKPOINT
    data = prepare_data(arrays, cfg, device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    params = M.init_params(gen, cfg.init, cfg.init_std, device=device)
    opt = SGD(params, cfg.momentum, cfg.nesterov, cfg.weight_decay)
    ema: dict[str, torch.Tensor] | None = None
    history: list[dict[str, float]] = []
    start_epoch = 0
    if previous is not None:
        r = previous["resume"]
        for k in params:
            params[k].copy_(r["params"][k].to(device))
        opt.load_state_dict({k: v.to(device) for k, v in (r["momentum"] or {}).items()})
        ema = None if r["ema"] is None else {k: v.to(device) for k, v in r["ema"].items()}
        gen.set_state(r["generator"])
        history, start_epoch = list(previous["history"]), int(previous["epoch"])
        log(f"resuming {ck_path} after epoch {start_epoch}")
    n = data.x_train.shape[0]
    steps = math.ceil(n / cfg.batch_size)
    background = (0.0 - data.preprocess["mean"]) / data.preprocess["std"]
    views = None if cfg.augment == "none" else augmented_views(
        data.x_train, background, flips=cfg.augment == "flip+shift", radius=cfg.shift, cross=cfg.augment == "cross")
    work = M.Workspace(min(cfg.batch_size, n), data.x_train.dtype, device)
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
        bar = _progress_bar(steps, epoch, cfg.epochs) if progress else None
        for step in range(steps):
            # ---- forward, backward, update ----------------------------------------------------------------------
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
            # ---- stop on divergence, keeping the last good checkpoint -------------------------------------------
            if not torch.isfinite(loss):
                kept = (f"the last good checkpoint (epoch {history[-1]['epoch']}) is kept in {ck_path}" if history
                        else "no checkpoint was written yet")
                raise TrainingDiverged(f"the loss became {float(loss)} at epoch {epoch + 1}, step {step + 1}; {kept}; "
                                       f"the step size is set by {_step_settings(cfg)}: try a smaller lr")
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

        # ---- evaluate and checkpoint ------------------------------------------------------------------------------
        model = ema if ema is not None else params
        # training loss and accuracy: running averages over the epoch's steps, on the images as trained on
        # (augmented, with dropout, with the weights of the moment), as is usual for training curves
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": float(loss_sum) / n, "train_acc": float(correct) / n}
        row["test_loss"], row["test_acc"], confusion = evaluate(model, data.x_test, data.y_test, confusion=True)
        if data.x_val is not None:
            row["val_loss"], row["val_acc"] = evaluate(model, data.x_val, data.y_val)
        row["seconds"] = time.perf_counter() - t0
        row["test_confusion"] = confusion  # per epoch, for the report's epoch slider
        history.append(row)
        if not all(math.isfinite(v) for k, v in row.items() if k != "test_confusion"):
            raise TrainingDiverged(f"the model's outputs became NaN or infinite at epoch {epoch + 1} (test loss "
                                   f"{row['test_loss']}); the step size is set by {_step_settings(cfg)}")
        config = dataclasses.asdict(cfg)
        runs.save_checkpoint({"format": CHECKPOINT_FORMAT, **_cpu(model), "preprocess": data.preprocess,
                              "config": config, "epoch": epoch + 1, "history": history,
                              "resume": {"params": _cpu(params), "momentum": _cpu(opt.state_dict()),
                                         "ema": None if ema is None else _cpu(ema), "generator": gen.get_state()}},
                             ck_path)
        runs.write_history(config, history, out / runs.HISTORY)

        # ---- log ------------------------------------------------------------------------------------------------
        log(f"epoch {epoch + 1:4d}/{cfg.epochs}  lr {lr:.4f}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f}  test loss {row['test_loss']:.4f} acc {row['test_acc']:.4f}"
            + (f"  val acc {row['val_acc']:.4f}" if "val_acc" in row else "") + f"  {row['seconds']:.1f}s")
    return load_checkpoint(ck_path, resumable=True)


def _progress_bar(steps: int, epoch: int, epochs: int):
    from tqdm import tqdm

    return tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False, unit="step")
