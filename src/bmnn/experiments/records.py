"""The plain records that experiments return and that plots and the report read.

A :class:`Record` answers one sub-question of the material: the quantities, what theory says they should be,
whether each check held (with its numbers and tolerance), and the data its figure needs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Check:
    """One verification: ``value`` compared with ``expected`` under ``tolerance``; ``held`` is the verdict."""

    name: str
    value: Any
    expected: Any
    tolerance: str
    held: bool


@dataclass
class Record:
    """One sub-question answered by computation.

    Attributes
    ----------
    id : str
        The material's id, e.g. ``"1.2(e)"``.
    title, statement : str
        A short title and the question in the report's own words.
    answer : str
        The answer in words (plain text; may hold inline LaTeX between ``$...$``).
    formulas : list of str
        LaTeX, rendered as MathML by the report.
    values : dict
        Named computed values, shown as a table.
    checks : list of Check
    table : dict or None
        ``{"columns": [...], "rows": [[...], ...]}`` for a tabular answer.
    figure : str or None
        The name of the function in :mod:`bmnn.plots` that draws this record (``plots.FIGURES``).
    data : dict
        What that figure needs (arrays or lists).
    """

    id: str
    title: str
    statement: str
    answer: str = ""
    formulas: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    table: dict[str, Any] | None = None
    figure: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        """Whether every check held."""
        return all(c.held for c in self.checks)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly view without the figure data."""
        out = asdict(self)
        out.pop("data")
        return out


def close(name: str, value: float, expected: float, *, rtol: float = 0.0, atol: float = 0.0) -> Check:
    """``|value - expected| <= atol + rtol * |expected|``."""
    value, expected = float(value), float(expected)
    ok = math.isfinite(value) and abs(value - expected) <= atol + rtol * abs(expected)
    parts = [f"rtol {rtol:g}" if rtol else "", f"atol {atol:g}" if atol else ""]
    return Check(name, value, expected, " + ".join(p for p in parts if p) or "exact", ok)


def within_se(name: str, value: float, expected: float, se: float, *, k: float = 4.0) -> Check:
    """A Monte-Carlo estimate within ``k`` standard errors of its target."""
    value, expected, se = float(value), float(expected), float(se)
    z = (value - expected) / se if se > 0 else math.inf
    return Check(name, value, expected, f"|z| <= {k:g} (se {se:.3g}, z {z:+.2f})", abs(z) <= k)


def holds(name: str, ok: bool, value: Any = True, expected: Any = True, tolerance: str = "exact") -> Check:
    """A logical check."""
    return Check(name, value, expected, tolerance, bool(ok))


@dataclass
class Section:
    """One job of the material: its title, setting, formulas and its records in the material's order."""

    job: int
    title: str
    setting: str
    records: list[Record]
    formulas: list[str] = field(default_factory=list)
