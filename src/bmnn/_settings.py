"""One mechanism for declared settings, shared by job 4's training config and job 2's sampler settings.

A setting is declared once, with its type (``int``, ``float``, ``bool``, ``str``), its range or choices, whether
``None`` is allowed, its default and its meaning; that declaration drives validation (:func:`check`), the help text
(:func:`describe`) and, through the tables that use it, the command line's defaults and choices. (The spirit of
scikit-learn's ``_parameter_constraints``, with the meaning written beside the constraint.) A leaf: it imports only
``_checks``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bmnn._checks import InputError


@dataclass(frozen=True)
class Setting:
    """One declared setting: ``kind`` is ``"int"``, ``"float"``, ``"bool"`` or ``"str"``; ``choices`` for a string,
    ``[low, high]`` for a number (an open end with ``low_open`` / ``high_open``; ``None``: unbounded); ``optional``
    lets ``None`` stand for "learned" or "chosen for you"."""

    kind: str
    default: Any
    meaning: str
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    def interval(self) -> str:
        """The allowed range as an interval, e.g. ``(-1, 0]``."""
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low:g}"
        high = "inf)" if self.high is None else f"{self.high:g}{')' if self.high_open else ']'}"
        return f"{low}, {high}"


def check(name: str, setting: Setting, value: Any) -> Any:
    """``value`` for the setting ``name`` checked against its declaration; returned in the setting's type. The
    message names the setting, what is allowed and what was given."""
    if value is None and setting.optional:
        return None
    if setting.kind == "bool":
        if not isinstance(value, bool):
            raise InputError(f"{name} must be true or false, got {value!r:.80}", param=name)
        return value
    if setting.kind == "str":
        if value not in (setting.choices or ()):
            raise InputError(f"{name} must be one of {', '.join(setting.choices or ())}"
                             f"{' or None' if setting.optional else ''}; got {value!r:.80}", param=name)
        return value
    if setting.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            elif hasattr(value, "__index__") and not isinstance(value, bool):  # a numpy integer
                value = int(value)
            else:
                raise InputError(f"{name} must be a whole number, got {value!r:.80}", param=name)
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
            raise InputError(f"{name} must be a number, got {value!r:.80}", param=name)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a number, got {value!r:.80}", param=name) from None
        if not math.isfinite(value):
            raise InputError(f"{name} must be a finite number, got {value!r}", param=name)
    low, high = setting.low, setting.high
    too_high = high is not None and (value >= high if setting.high_open else value > high)
    too_low = low is not None and (value <= low if setting.low_open else value < low)
    if too_low or too_high:
        raise InputError(f"{name} must be in {setting.interval()}, got {value!r}", param=name)
    return value


def describe(name: str, setting: Setting) -> str:
    """One line of help: the setting's meaning and its allowed values."""
    if setting.choices:
        allowed = "one of " + ", ".join(setting.choices)
    elif setting.kind == "bool":
        allowed = "true or false"
    else:
        low = "" if setting.low is None else f"{setting.low:g} {'<' if setting.low_open else '<='} "
        high = "" if setting.high is None else f" {'<' if setting.high_open else '<='} {setting.high:g}"
        allowed = f"{setting.kind}, {low}{name}{high}"
    return f"{setting.meaning} ({allowed})"
