"""Job 4's training settings, declared once: each field of :class:`TrainConfig` carries its type, its range or
choices and its meaning, and that one declaration drives validation (:func:`validate`), ``--set`` parsing
(:func:`parse_setting`), the command line's choices and its help (:func:`choices`, :func:`describe`).

Recipes:

* ``classic`` reproduces the material: weights N(0, 0.01^2), zero biases, pixels scaled to [0, 1], plain SGD with
  lr 0.1, batch 256, 10 epochs, autograd backward.
* ``best`` keeps exactly the 784-256-10 architecture and trains it better: standardised inputs, He initialisation,
  Nesterov momentum, a warm-up then cosine learning-rate schedule, weight decay, label smoothing, dropout on the
  hidden layer, random 1-pixel moves along an axis (the image, or it moved up, down, left or right), the
  hand-written backward, and an exponential moving average of the weights over the second half of training
  (evaluated and saved as the model). Its settings were chosen on a validation split carved from the training set
  (``bmnn train --validation 5000``), never on the test set; the recipe then trains on all 60,000 training images.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bmnn._checks import WHOLE_NUMBER, InputError, plain_float, plain_int
from bmnn._settings import Setting, check
from bmnn._settings import describe as describe_setting

TRAIN_IMAGES = 60_000  # Fashion-MNIST's training set


#: each recipe's values; a setting a recipe does not name keeps the field's default
RECIPES: dict[str, dict[str, Any]] = {
    "classic": {"epochs": 10, "batch_size": 256, "lr": 0.1, "init": "normal", "init_std": 0.01},
    "best": {"epochs": 420, "batch_size": 256, "lr": 0.08, "init": "he", "standardize": True, "momentum": 0.9,
             "nesterov": True, "weight_decay": 2e-4, "label_smoothing": 0.05, "dropout": 0.2, "augment": "cross",
             "schedule": "cosine", "warmup_epochs": 3, "ema_decay": 0.998, "ema_start": 0.5, "backward": "hand"},
}


def _setting(default: Any, meaning: str, *, choices: tuple[str, ...] | None = None,
             low: float | None = None, high: float | None = None, low_open: bool = False,
             high_open: bool = False) -> Any:
    """A config field with its declaration (:class:`bmnn._settings.Setting`, whose type is the field's): ``choices``
    for a string, ``[low, high]`` for a number (an open end with ``low_open`` or ``high_open``); ``None`` bounds are
    unbounded. Numbers must be finite."""
    return field(default=default, metadata={"meaning": meaning, "choices": choices, "low": low, "high": high,
                                            "low_open": low_open, "high_open": high_open})


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; saved with the results. Build one with :func:`make_config`."""

    recipe: str = _setting("best", "the recipe whose values stand where no other value is given",
                           choices=tuple(RECIPES))
    epochs: int = _setting(10, "passes over the training images", low=1, high=100_000)
    batch_size: int = _setting(256, "images per SGD step (a batch larger than the training set is the whole set)",
                               low=1, high=TRAIN_IMAGES)
    lr: float = _setting(0.1, "peak learning rate", low=0.0, low_open=True)
    seed: int = _setting(0, "seeds the torch.Generator behind init, shuffling, dropout and augmentation",
                         low=0, high=2**63 - 1)
    init: str = _setting("normal", "initialisation: 'normal' N(0, init_std^2), or 'he'", choices=("normal", "he"))
    init_std: float = _setting(0.01, "sd of the 'normal' initialisation (the material: 0.01)", low=0.0, high=1e3,
                               low_open=True)
    standardize: bool = _setting(False, "feed (p/255 - mean) / std instead of p/255")
    momentum: float = _setting(0.0, "SGD momentum (0: plain SGD)", low=0.0, high=1.0, high_open=True)
    nesterov: bool = _setting(False, "Nesterov momentum (needs momentum > 0)")
    weight_decay: float = _setting(0.0, "L2 decay on the weights, not the biases", low=0.0, high=1.0, high_open=True)
    label_smoothing: float = _setting(0.0, "cross-entropy target smoothing", low=0.0, high=1.0, high_open=True)
    dropout: float = _setting(0.0, "dropout probability on the hidden layer", low=0.0, high=1.0, high_open=True)
    input_dropout: float = _setting(0.0, "dropout probability on the input pixels", low=0.0, high=1.0,
                                    high_open=True)
    cutout: int = _setting(0, "side of a random square set to the background in each image (0: off)", low=0, high=28)
    augment: str = _setting("none", "'shift': a random move of up to `shift` pixels along each axis; 'cross': the "
                            "image or one of its four moves of `shift` pixels along an axis; 'flip+shift': shift or "
                            "flip", choices=("none", "shift", "cross", "flip+shift"))
    shift: int = _setting(1, "the move, in pixels, of the augmentations", low=1, high=4)
    schedule: str = _setting("constant", "learning-rate schedule: 'constant', or 'cosine' after a linear warm-up",
                             choices=("constant", "cosine"))
    warmup_epochs: int = _setting(0, "linear warm-up length for 'cosine' (a longer one is cut at the end)", low=0,
                                  high=100_000)
    ema_decay: float = _setting(0.0, "decay of the weights' exponential moving average (0: off)", low=0.0, high=1.0,
                                high_open=True)
    ema_start: float = _setting(0.0, "fraction of training after which the average is kept", low=0.0, high=1.0)
    backward: str = _setting("autograd", "'autograd' (loss.backward(), as the material) or 'hand'",
                             choices=("autograd", "hand"))
    validation: int = _setting(0, "hold out this many training images for validation (0: train on all)", low=0,
                               high=TRAIN_IMAGES - 1)
    device: str = _setting("cpu", "where to train: 'cpu', 'cuda', or 'auto' (a GPU when there is one)",
                           choices=("cpu", "cuda", "auto"))
    threads: int = _setting(0, "torch CPU threads (0: torch's default, all cores)", low=0, high=4096)


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(TrainConfig)}
#: the declaration of every setting, checked by the package's one mechanism (:mod:`bmnn._settings`)
SETTINGS: dict[str, Setting] = {name: Setting(kind=str(f.type), default=f.default, **f.metadata)
                                for name, f in FIELDS.items()}

#: the settings that shape the numbers a run produces; ``device`` and ``threads`` only say where it runs
RESULT_SETTINGS = tuple(name for name in FIELDS if name not in ("device", "threads"))


def choices(name: str) -> tuple[str, ...]:
    """The allowed values of a string setting (for the command line's ``choices``)."""
    return SETTINGS[name].choices or ()


def describe(name: str) -> str:
    """One line of help for a setting: its meaning and its allowed values."""
    return describe_setting(name, SETTINGS[name])


def _check(name: str, value: Any) -> Any:
    """``value`` for setting ``name`` checked against its declaration; returned in the field's type."""
    return check(name, SETTINGS[name], value)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every setting against its declaration, and the rules that join settings. Returns ``cfg``."""
    for name in FIELDS:
        _check(name, getattr(cfg, name))
    if cfg.nesterov and cfg.momentum == 0:
        raise InputError("nesterov needs momentum > 0 (Nesterov momentum without momentum is plain SGD)")
    return cfg


def make_config(recipe: str = "best", **overrides: Any) -> TrainConfig:
    """The recipe's config with ``overrides`` (``None`` values are ignored) applied on top, validated."""
    _check("recipe", recipe)
    unknown = sorted(set(overrides) - set(FIELDS) | ({"recipe"} & set(overrides)))
    if unknown:
        raise InputError(f"unknown training setting {unknown[0]!r}; known: {', '.join(sorted(FIELDS))}")
    values = {"recipe": recipe, **RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
    return validate(TrainConfig(**{k: _check(k, v) for k, v in values.items()}))


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse_setting(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(key, value)`` for a :class:`TrainConfig` field, the value converted to the field's
    type and checked against its declaration (``true``/``false`` for switches)."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip().replace("-", "_"), raw.strip()
    if not sep or not key:
        raise InputError(f"expected KEY=VALUE, got {text!r}")
    if key not in FIELDS or key == "recipe":
        raise InputError(f"unknown training setting {key!r}; known: {', '.join(n for n in FIELDS if n != 'recipe')}")
    kind = FIELDS[key].type
    if kind == "bool":
        if raw.lower() not in _TRUE + _FALSE:
            raise InputError(f"{key} must be true or false, got {raw!r}")
        return key, raw.lower() in _TRUE
    if kind == "str":
        return key, _check(key, raw)
    try:
        value = plain_int(raw) if kind == "int" and WHOLE_NUMBER.fullmatch(raw) else plain_float(raw)
    except ValueError:
        raise InputError(f"{key} must be {'a whole number' if kind == 'int' else 'a number'}, got {raw!r}") from None
    return key, _check(key, value)


def differences(saved: dict[str, Any], cfg: TrainConfig, settings: tuple[str, ...] = RESULT_SETTINGS) -> list[str]:
    """``"name: saved -> new"`` for every setting in ``settings`` whose value differs between a saved config
    (a dict) and ``cfg``."""
    new = dataclasses.asdict(cfg)
    return [f"{k}: {saved.get(k, '(absent)')!r} -> {new[k]!r}" for k in settings if saved.get(k, _MISSING) != new[k]]


_MISSING = object()
