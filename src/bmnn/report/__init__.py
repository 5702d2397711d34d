"""Render records and figures into one self-contained HTML page. It computes nothing.

Figures are embedded as base64 PNG and formulas are converted to MathML, so the page needs no network. The
interactive views (:mod:`bmnn.report.interactive`) are Vega-Lite specifications embedded as JSON, drawn by the
Vega JavaScript inlined once. The page is written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path
from typing import Any

import jinja2
import latex2mathml.converter
import numpy as np
from markupsafe import Markup

from bmnn import __version__
from bmnn._files import atomic_write, refuse_foreign
from bmnn._numbers import MAX_DECIMALS, MAX_DIGITS, exact  # noqa: F401 (the page's rule, read by tests)
from bmnn._numbers import interval as _interval
from bmnn._numbers import sig as _sig
from bmnn._numbers import supported as _supported
from bmnn.experiments.records import Interval, Sampled, Section

PAGE = "index.html"
#: marks of a page bmnn wrote: the generator tag, or the title every earlier release gave its page (``make clean``
#: looks for the same two)
_MARKS = (b'<meta name="generator" content="bmnn ', b"<title>bmnn report: Bayesian Methods and Neural Networks")


def is_bmnn_page(path: str | Path) -> bool:
    """Whether the file at ``path`` is a report page bmnn wrote (one of its marks in the first 4 KB)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return any(mark in head for mark in _MARKS)


def check_page_is_ours(out_dir: str | Path) -> None:
    """Refuse (naming the file) to go on where ``out_dir/index.html`` exists and is not a page bmnn wrote: bmnn
    replaces only its own pages, as git refuses to overwrite an untracked file."""
    refuse_foreign(Path(out_dir) / PAGE, is_bmnn_page)


def mathml(latex: str, display: str = "block") -> str:
    """LaTeX to MathML."""
    return latex2mathml.converter.convert(latex, display=display)


_INLINE = re.compile(r"\$([^$]+)\$")

#: the terms the page uses without deriving them: each is defined where it is used (a hover title) and in the
#: glossary at the end of the page
GLOSSARY: dict[str, str] = {
    "ESS": "effective sample size: how many independent draws the correlated draws of a Markov chain are worth",
    "R-hat": "the potential scale reduction factor: compares the spread within and between chains; values near 1 "
             "(below about 1.01) say the chains agree",
    "MCSE": "Monte Carlo standard error: the standard error of a mean estimated from correlated draws",
    "NUTS": "the No-U-Turn Sampler, an adaptive Hamiltonian Monte Carlo method (here NumPyro's), the usual "
            "general-purpose sampler",
    "Gibbs": "a Gibbs sampler draws each block of unknowns from its exact distribution given all the others, in turn",
    "KKT": "the Karush-Kuhn-Tucker optimality conditions; the certificate is how far the computed MAP is from "
           "satisfying them, relative to λ",
    "ABC": "approximate Bayesian computation: draw a parameter from the prior, simulate data, keep the draw when "
           "the simulated data match the observed ones",
    "MAP": "maximum a posteriori estimate: the mode of the posterior",
    "MLE": "maximum-likelihood estimate",
    "MSE": "mean squared error",
    "OLS": "ordinary least squares: the estimate that minimises the squared residuals, with no prior",
    "KS": "the Kolmogorov-Smirnov test: compares a sample's empirical distribution function with a given one",
    "CDF": "cumulative distribution function: the probability of a value at or below x",
    "SGD": "stochastic gradient descent: a step against the gradient of the loss on a small batch of the data",
    "MLP": "multilayer perceptron: a feed-forward neural network of fully connected layers",
    "bcm": "Bhattacharya, Chakraborty and Mallick's exact draw of the Gaussian conditional through an n × n system, "
           "the cheaper one when p > n",
}
_TERMS = re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(GLOSSARY, key=len, reverse=True)) + r")\b")


def _terms(escaped: str) -> str:
    """Every glossary term in escaped text wrapped in ``<abbr>`` with its definition as the title."""
    return _TERMS.sub(lambda m: f'<abbr title="{html.escape(GLOSSARY[m.group(1)])}">{m.group(1)}</abbr>', escaped)


def rich_text(text: str) -> str:
    """Escape plain text, rendering ``$...$`` spans and the maths written in plain text (:mod:`bmnn.report.prose`)
    as inline MathML and defining the glossary's terms in place."""
    out, last = [], 0
    for m in _INLINE.finditer(text):
        out.append(_prose(text[last:m.start()]))
        out.append(_inline(m.group(1)))
        last = m.end()
    out.append(_prose(text[last:]))
    return "".join(out)


def _inline(latex: str) -> str:
    return mathml(latex, display="inline")


def _prose(text: str) -> str:
    from bmnn.report.prose import prose

    return prose(text, _inline, _terms)


def _check_value(value: Any, se: float | None) -> str:
    """A check's value: a Monte Carlo one (``se`` given) to the digits its standard error supports."""
    if se is not None and isinstance(value, (float, np.floating)):
        return _supported(float(value), float(se))
    return _cell(value)


def _cell(value: Any) -> str:
    """A table cell or value: a number by the page's rule (:func:`_fmt`), a text as prose."""
    return Markup(rich_text(value)) if isinstance(value, str) else _fmt(value)


def _fmt(value: Any) -> str:
    """One rule for every number on the page: about six significant digits, scientific notation (``1.5 × 10⁻⁵``)
    below 1e-3 and from 1e6 on, yes / no for truth values, lists item by item; whole numbers and text as they
    are."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, Sampled):
        se = float(value.se)
        if not (math.isfinite(se) and se > 0):  # exact (0), or the error unknown: see _supported
            return _supported(float(value.value), se)
        return f"{_supported(float(value.value), se)} ± {_sig(se, 2, strip=False)}"
    if isinstance(value, Interval):  # compact: the errors fix the digits and are not written out
        ends = _interval(float(value.lo.value), float(value.lo.se), float(value.hi.value), float(value.hi.se))
        return ends if value.mean is None else f"{_supported(float(value.mean.value), float(value.mean.se))} {ends}"
    if isinstance(value, (float, np.floating)):
        return exact(float(value))
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_fmt(x) for x in value) + "]"
    return str(value)


def _png_size(png: bytes) -> tuple[int, int]:
    """A PNG's width and height in pixels (its header)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("a figure is not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _page_script() -> str:
    """The page's own script (``page.js``): draws and fits the views, writes their readouts, marks scrolling
    boxes."""
    from importlib.resources import files

    return files("bmnn.report").joinpath("page.js").read_text(encoding="utf-8").replace("</", "<\\/")


def _anchor(rec_id: str) -> str:
    return "q" + re.sub(r"[^0-9a-zA-Z]+", "-", rec_id).strip("-")


def _script_json(spec: dict[str, Any]) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(spec, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")


def render(sections: list[Section], figures: dict[str, bytes], provenance: dict[str, Any], out_dir: Path,
           benchmarks: list[list[str]] | None = None, interactive: bool = True) -> Path:
    """Write ``out_dir/index.html`` and return its path.

    Parameters
    ----------
    sections : list of Section
    figures : dict
        Record id -> PNG bytes.
    provenance : dict
        Shown at the top: version, seeds, library versions, machine, date, run time.
    benchmarks : list of rows, optional
        ``[what, ratio, details]`` from the benchmarks' latest result files.
    interactive : bool
        Embed the interactive views (and the Vega script) where records carry their grids.
    """
    from bmnn.plots import PAGE_DPI, describe
    from bmnn.report import interactive as iv
    from bmnn.report.prose import spoken

    views = iv.views(sections) if interactive else {}
    env = jinja2.Environment(loader=jinja2.PackageLoader("bmnn", "report"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.globals["glossary"] = GLOSSARY
    env.filters.update(spoken=spoken, check_value=_check_value, terms=lambda s: Markup(rich_text(str(s))), fmt=_cell,
                       rich=lambda s: jinja2.utils.markupsafe.Markup(rich_text(s)),
                       math=lambda s: jinja2.utils.markupsafe.Markup(mathml(s)), anchor=_anchor)
    records = [r for s in sections for r in s.records]
    checks = [c for r in records for c in r.checks]
    page = env.get_template("page.html.j2").render(
        generator=f"bmnn {__version__}",
        sections=sections,
        figures={k: base64.b64encode(v).decode("ascii") for k, v in figures.items()},
        sizes={k: _png_size(v) for k, v in figures.items()},
        alts={r.id: describe(r) for r in records},
        figure_numbers={r.id: i + 1 for i, r in enumerate(r for r in records if r.id in figures)},
        provenance=provenance,
        n_checks=len(checks),
        n_held=sum(c.held for c in checks),
        failed=[(r.id, c) for r in records for c in r.checks if not c.held],
        benchmarks=benchmarks or [],
        views={k: {"id": v.id, "caption": v.caption, "watch": v.watch, "description": v.spec.get("description", ""),
                   "rows": v.rows,
                   "shown": json.dumps(v.shown or {}, ensure_ascii=False), "spec": Markup(_script_json(v.spec))}
               for k, v in views.items()},
        page_script=Markup(_page_script()),
        density=PAGE_DPI / 110,
        vega=Markup(iv.script()) if views else "",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    return atomic_write(out_dir / PAGE, page, owned=is_bmnn_page)
