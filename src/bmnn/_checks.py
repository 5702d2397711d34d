"""Input validation at the package boundary, and the package's exception types.

Every message names the parameter, what was expected and what was given, e.g.
``tau must be > 0 (the prior scale), got -1.0``. This module is a leaf: it imports no sibling.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: the one reading of a number, for every file, flag and setting: a plain ASCII decimal (no ``_`` separators, no
#: ``nan``/``inf`` words, no hexadecimal, no other scripts' digits)
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+", re.ASCII)
#: a column whose sd is at most this fraction of its size is constant up to rounding (two float64 epsilons, a few
#: units in the last place: 1e15 with a spread of 1, eight units there, is not constant; 0.1 + 0.2 against 0.3 is)
CONSTANT_TOL = 2 * float(np.finfo(np.float64).eps)
#: no number needs more characters than this; a longer token is refused before it is converted
MAX_NUMBER_CHARS = 1000


def plain_float(text: str) -> float:
    """``text`` read as a plain decimal number (:data:`NUMBER`); ``ValueError`` for anything else."""
    if len(text) > MAX_NUMBER_CHARS or not NUMBER.fullmatch(text):
        raise ValueError(text)
    return float(text)


def plain_int(text: str) -> int:
    """``text`` read as a whole number of at most 30 digits; ``ValueError`` for anything else."""
    if len(text) > 31 or not WHOLE_NUMBER.fullmatch(text):
        raise ValueError(text)
    return int(text)



class BmnnError(Exception):
    """Base class of the errors bmnn raises for a user's mistake (the CLI turns them into one line, exit 2)."""


class InputError(BmnnError, ValueError):
    """A parameter or an input array is not what the function accepts.

    ``param`` names the parameter at fault, in the raising function's words, so that a caller such as the command
    line can say which of its own options it was.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class DataFileError(BmnnError, OSError):
    """A data file is missing, unreadable, truncated or not the format it claims to be."""


class NotFittedError(BmnnError, AttributeError):
    """An estimator was used before ``fit``."""


def _describe(value: Any) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(arr.item()) if arr.dtype.kind in "biufcUS" else repr(value)
    return f"an array of shape {arr.shape}"


def _holds_text(value: Any) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    kind = getattr(value, "dtype", None)
    if kind is None and isinstance(value, (list, tuple)):
        try:
            kind = np.asarray(value).dtype
        except (ValueError, TypeError):  # ragged: refused as not numbers by the conversion that follows
            return False
    if kind is None:
        return False
    if kind.kind in "US":
        return True
    return kind.kind == "O" and any(isinstance(v, (str, bytes)) for v in np.asarray(value, dtype=object).flat)


def as_real_array(name: str, value: ArrayLike, *, what: str = "") -> NDArray[np.float64]:
    """``value`` as a float64 array of real numbers (infinities and NaN pass: the caller decides)."""
    label = f"{name} ({what})" if what else name
    if np.iscomplexobj(value):  # numpy would drop the imaginary parts with only a warning
        raise InputError(f"{label} must be real numbers, got complex values", param=name)
    if _holds_text(value):  # text is never read as numbers
        raise InputError(f"{label} must be numbers, got text {value!r:.80}", param=name)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{label} must be numbers, got {value!r:.80}", param=name) from exc


def as_float_array(name: str, value: ArrayLike, *, what: str = "") -> NDArray[np.float64]:
    """``value`` as a float64 array whose entries are all finite."""
    label = f"{name} ({what})" if what else name
    arr = as_real_array(name, value, what=what)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].flat[0]
        raise InputError(f"{label} must be finite, got {bad} among its values", param=name)
    return arr


def positive(name: str, value: ArrayLike, *, what: str = "") -> NDArray[np.float64]:
    """``value`` (a scalar or an array) as float64, every entry finite and > 0."""
    label = f"{name} ({what})" if what else name
    arr = np.asarray(value, dtype=np.float64) if _is_numeric(value) else None
    if arr is None:
        raise InputError(f"{label} must be a number > 0, got {value!r:.80}")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if np.any(bad):
        shown = arr if arr.ndim == 0 else arr[bad].flat[0]
        raise InputError(f"{label} must be a finite number > 0, got {float(shown)!r}")
    return arr


def positive_scalar(name: str, value: Any, *, what: str = "") -> float:
    """``value`` as a Python float, finite and > 0."""
    arr = positive(name, value, what=what)
    if arr.ndim != 0:
        raise InputError(f"{name} must be a single number, got {_describe(value)}")
    return float(arr)


def finite_scalar(name: str, value: Any, *, what: str = "") -> float:
    """``value`` as a finite Python float."""
    arr = as_float_array(name, value, what=what)
    if arr.ndim != 0:
        raise InputError(f"{name} must be a single number, got {_describe(value)}")
    return float(arr)


def check_level(value: Any, name: str = "level") -> float:
    """A probability level strictly between 0 and 1 (an interval's coverage), as a float."""
    try:
        lv = float("nan") if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        lv = float("nan")
    if not 0.0 < lv < 1.0:
        raise InputError(f"{name} must be in (0, 1), got {value!r:.80}")
    return lv


def count(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools and non-integral floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
            value = int(value)
        else:
            raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _is_numeric(value: Any) -> bool:
    try:
        np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed, or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer or a numpy Generator, got {seed!r}")
    return np.random.default_rng(seed)


def _human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} EB"  # pragma: no cover


def available_memory() -> int:
    """Bytes of memory this process can still get: Linux's MemAvailable, else the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def check_memory(nbytes: float, what: str) -> None:
    """Refuse, before allocating, a request whose arrays cannot fit in the memory that is available.

    ``what`` names the request in the caller's words, e.g. ``"draws x chains x p = 1e12 x 16 x 10 float64 values"``.
    """
    avail = available_memory()
    if nbytes > avail:
        raise InputError(f"{what} need {_human_bytes(nbytes)} of memory, but {_human_bytes(avail)} are available")
