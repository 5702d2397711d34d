"""Every file format and location the package reads: files in, arrays out.

Plain lists of numbers (job 1's command line), CSV tables and scikit-learn's bundled data sets (job 2).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

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


def read_csv_xy(path: str | Path, target: str) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """A CSV with a header row: every column but ``target`` becomes X (as given), ``target`` becomes y.

    Raises
    ------
    InputError
        For a missing or unreadable file, an unknown target column, ragged rows, or a cell that is not a finite
        number (naming its row and column).
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise InputError(f"--csv {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--csv {str(p)!r} cannot be read: {exc}") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise InputError(f"--csv {str(p)!r} needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise InputError(f"--target {target!r} is not a column of {str(p)!r}; its columns are {', '.join(header)}")
    if len(header) < 2:
        raise InputError(f"--csv {str(p)!r} needs at least one feature column besides the target")
    data = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{p}, line {i}: {len(row)} fields, but the header has {len(header)}")
        for j, cell in enumerate(row):
            try:
                v = float(cell)
            except ValueError:
                raise InputError(f"{p}, line {i}, column {header[j]!r}: {cell!r} is not a number") from None
            if not math.isfinite(v):
                raise InputError(f"{p}, line {i}, column {header[j]!r}: {cell!r} is not a finite number")
            data[i - 2, j] = v
    k = header.index(target)
    names = [h for j, h in enumerate(header) if j != k]
    return np.delete(data, k, axis=1), data[:, k], names


def load_bundled(name: str) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """A data set that scikit-learn ships (no download): ``diabetes`` or ``breast_cancer``. Returns X, y, names."""
    from sklearn import datasets as skd

    loaders = {"diabetes": skd.load_diabetes, "breast_cancer": skd.load_breast_cancer}
    if name not in loaders:
        raise InputError(f"dataset must be one of {sorted(loaders)}, got {name!r}")
    bunch = loaders[name]()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.float64), list(
        bunch.feature_names)
