"""Render records and figures into one self-contained HTML page. It computes nothing.

Figures are embedded as base64 PNG and formulas are converted to MathML, so the page needs no network. The
interactive views (:mod:`bmnn.report.interactive`) are Vega-Lite specifications embedded as JSON, drawn by the
Vega JavaScript inlined once. The page is written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

import jinja2
import latex2mathml.converter
from markupsafe import Markup

from bmnn import __version__
from bmnn._files import atomic_write, refuse_foreign
from bmnn.experiments.records import Section

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


def rich_text(text: str) -> str:
    """Escape plain text, rendering ``$...$`` spans as inline MathML."""
    out, last = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        out.append(mathml(m.group(1), display="inline"))
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


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
    from bmnn.report import interactive as iv

    views = iv.views(sections) if interactive else {}
    env = jinja2.Environment(loader=jinja2.PackageLoader("bmnn", "report"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(fmt=_fmt, rich=lambda s: jinja2.utils.markupsafe.Markup(rich_text(s)),
                       math=lambda s: jinja2.utils.markupsafe.Markup(mathml(s)), anchor=_anchor)
    records = [r for s in sections for r in s.records]
    checks = [c for r in records for c in r.checks]
    page = env.get_template("page.html.j2").render(
        generator=f"bmnn {__version__}",
        sections=sections,
        figures={k: base64.b64encode(v).decode("ascii") for k, v in figures.items()},
        provenance=provenance,
        n_checks=len(checks),
        n_held=sum(c.held for c in checks),
        failed=[(r.id, c) for r in records for c in r.checks if not c.held],
        benchmarks=benchmarks or [],
        views={k: {"id": v.id, "caption": v.caption, "spec": Markup(_script_json(v.spec))} for k, v in views.items()},
        vega=Markup(iv.script()) if views else "",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    return atomic_write(out_dir / PAGE, page, owned=is_bmnn_page)
