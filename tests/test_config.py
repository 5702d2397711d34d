"""The settings table: one declaration per setting drives validation, --set parsing, the CLI's choices and help."""

import dataclasses
import re

import pytest

from bmnn._checks import InputError
from bmnn.cli import build_parser
from bmnn.scratch_mlp import config as C


def test_every_setting_is_declared_with_a_meaning_and_a_constraint():
    for name, f in C.FIELDS.items():
        meta = f.metadata
        assert meta["meaning"], name
        assert f.type in ("int", "float", "str", "bool"), name
        if f.type == "str":
            assert meta["choices"] and f.default in meta["choices"], name
        if f.type in ("int", "float"):
            assert meta["low"] is not None, name
        C._check(name, f.default)  # every default obeys its own declaration


def test_recipes_use_only_declared_settings_and_valid_values():
    assert C.choices("recipe") == tuple(C.RECIPES)
    for recipe, values in C.RECIPES.items():
        assert set(values) <= set(C.FIELDS)
        cfg = C.make_config(recipe)
        for k, v in values.items():
            assert getattr(cfg, k) == v


@pytest.mark.parametrize("name", [n for n, f in C.FIELDS.items() if f.type in ("int", "float")])
def test_numeric_bounds_come_from_the_declaration(name):
    meta = C.FIELDS[name].metadata
    kind = int if C.FIELDS[name].type == "int" else float
    low, high = meta["low"], meta["high"]
    step = 1 if kind is int else 1e-9
    if meta["low_open"]:
        with pytest.raises(InputError, match=f"{name} must be in \\("):
            C._check(name, kind(low))
        assert C._check(name, kind(low) + step) == kind(low) + step
    else:
        assert C._check(name, kind(low)) == kind(low)
        with pytest.raises(InputError, match=f"{name} must be in \\["):
            C._check(name, kind(low) - step)
    if high is not None:
        if meta["high_open"]:
            with pytest.raises(InputError, match=f"{name} must be in .*{re.escape(format(high, 'g'))}\\)"):
                C._check(name, kind(high))
        else:
            assert C._check(name, kind(high)) == kind(high)
            with pytest.raises(InputError, match=f"{name} must be in .*{re.escape(format(high, 'g'))}\\]"):
                C._check(name, kind(high) + step)


def test_parse_setting_converts_by_the_declared_type():
    assert C.parse_setting("dropout=0.25") == ("dropout", 0.25)
    assert C.parse_setting(" ema-decay = 0.9 ") == ("ema_decay", 0.9)
    assert C.parse_setting("epochs=3e2") == ("epochs", 300)
    assert C.parse_setting("nesterov=Off") == ("nesterov", False)
    assert C.parse_setting("standardize=yes") == ("standardize", True)
    assert C.parse_setting("augment=cross") == ("augment", "cross")
    for text, message in [("epochs=2.5", "epochs must be a whole number"), ("lr=1,5", "lr must be a number"),
                          ("lr=nan", "lr must be a number"), ("lr=1e999", "lr must be a finite number"),
                          ("recipe=best", "unknown training setting 'recipe'"), ("=3", "expected KEY=VALUE")]:
        with pytest.raises(InputError, match=message):
            C.parse_setting(text)


def test_cross_setting_rule_and_unknown_override():
    with pytest.raises(InputError, match="nesterov needs momentum > 0"):
        C.make_config("classic", nesterov=True)
    assert C.make_config("classic", nesterov=True, momentum=0.5).nesterov
    with pytest.raises(InputError, match="unknown training setting 'dropuot'"):
        C.make_config("best", dropuot=0.1)


def test_differences_name_each_result_setting_but_not_where_it_ran():
    cfg = C.make_config("classic")
    saved = dataclasses.asdict(cfg) | {"lr": 0.3, "threads": 7, "device": "cuda"}
    assert C.differences(saved, cfg) == ["lr: 0.3 -> 0.1"]
    assert C.differences({k: v for k, v in dataclasses.asdict(cfg).items() if k != "seed"}, cfg) == [
        "seed: '(absent)' -> 0"]


def test_cli_choices_and_help_come_from_the_table(capsys):
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    by_dest = {a.dest: a for a in train._actions}
    assert tuple(by_dest["recipe"].choices) == C.choices("recipe")
    assert tuple(by_dest["backward"].choices) == C.choices("backward")
    assert tuple(by_dest["device"].choices) == C.choices("device")
    for name in ("momentum", "ema_decay", "augment", "label_smoothing"):
        assert f"{name}: {C.describe(name)}" in by_dest["set"].help
    assert C.describe("momentum") == "SGD momentum (0: plain SGD) (float, 0 <= momentum < 1)"
    assert C.describe("lr") == "peak learning rate (float, 0 < lr)"
