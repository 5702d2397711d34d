"""Every file format and location the package reads: files in, arrays out.

So far: plain lists of numbers (job 1's command line).
"""

from __future__ import annotations

import math
import re

import numpy as np
from numpy.typing import NDArray

from bmnn._checks import InputError

_SPLIT = re.compile(r"[\s,;]+")


def parse_numbers(text: str, source: str = "<input>") -> NDArray[np.float64]:
    """Numbers separated by white space, newlines or commas; a one-column CSV's header line is skipped.

    Raises
    ------
    InputError
        For a token that is not a number (naming its line and the token) or a NaN / inf value.
    """
    values: list[float] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = [t for t in _SPLIT.split(line.strip()) if t]
        for tok in tokens:
            try:
                v = float(tok)
            except ValueError:
                if not values and len(tokens) == 1 and lineno == _first_nonblank(text):
                    break  # a CSV header such as "x"
                raise InputError(f"{source}, line {lineno}: {tok!r} is not a number") from None
            if not math.isfinite(v):
                raise InputError(f"{source}, line {lineno}: {tok!r} is not a finite number (NaN and inf are refused)")
            values.append(v)
    return np.asarray(values, dtype=np.float64)


def _first_nonblank(text: str) -> int:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            return lineno
    return 0
