"""The page's prose: the maths the records write in plain text becomes MathML, names a reader would type become
code, and every formula converts to MathML with no LaTeX command left over (each checked on the records of a
quick report's sections and on cases written out here)."""

from __future__ import annotations

import re

import pytest

from bmnn.report import GLOSSARY, mathml, rich_text
from bmnn.report.prose import prose, spoken, symbol_latex


def _latex(text: str) -> str:
    """``prose`` with each piece of maths shown as ``$latex$`` (instead of its MathML)."""
    return prose(text, lambda latex: f"${latex}$")


@pytest.mark.parametrize(("text", "expected"), [
    ("N(mu, sigma^2)", r"N($\mu$, $\sigma^{2}$)"),
    ("v_n and x_1", r"$v_{n}$ and $x_{1}$"),
    ("mu_MAP = x bar", r"$\mu_{\text{MAP}}$ = $\bar{x}$"),
    ("dL/dW1^{h,m}", r"$\partial L/\partial W_{1}^{h,m}$"),
    ("dL/dy_hat", r"$\partial L/\partial \hat{y}$"),
    ("sigma**2", r"$\sigma^{2}$"),
    ("n = 10^6", r"n = $10^{6}$"),
    ("eps_i ~ N(0, tau^-1)", r"$\varepsilon_{i}$ ~ N(0, $\tau^{-1}$)"),
    ("a2 = sum_h W2^h z1^h + b2", r"$a_{2}$ = $\sum_{h}$ $W_{2}^{h}$ $z_{1}^{h}$ + $b_{2}$"),
    ("(2 tau)^-p and (2 tau)^(p-1)", r"(2 $\tau$)<sup>−p</sup> and (2 $\tau$)<sup>p−1</sup>"),
    ("[X^T(y - Xw)]_j", r"[$X^{T}$(y - Xw)]<sub>j</sub>"),
    ("||w_OLS - w_true|| <= 3 -> 0", r"‖$w_{\text{OLS}}$ - $w_{\text{true}}$‖ ≤ 3 → 0"),
    ("set `weight_decay` or init_std", "set <code>weight_decay</code> or <code>init_std</code>"),
    ("plugin_mle coverage", "MLE plug-in coverage"),
    ("a < b & c", "a &lt; b &amp; c"),
    ("Tau is a word; mutual, taut, summary, the sum of", "Tau is a word; mutual, taut, summary, the sum of"),
    # what a reader means in words or names stays words or code
    ("x86_64, Linux", "<code>x86_64</code>, Linux"),
    ("weights N(0, 0.01^2)", "weights N(0, 0.01<sup>2</sup>)"),
    ("a bar chart; b2 bar", r"a bar chart; $b_{2}$ bar"),
    ("a beta prior, a gamma prior, the delta method", "a beta prior, a gamma prior, the delta method"),
    ("beta_j and x_{ij}", r"$\beta_{j}$ and $x_{ij}$"),
    ("x_test, n_samples and p_value", "<code>x_test</code>, <code>n_samples</code> and <code>p_value</code>"),
    ("the key `plugin_mle` is the plugin_mle", "the key <code>plugin_mle</code> is the MLE plug-in"),
    # numbers and operators as the page writes them
    ("certificate 1.42e-15, 0.00e+00, rtol 1e-09, 1e4, nan", "certificate 1.42 × 10⁻¹⁵, 0, rtol 1 × 10⁻⁹, 10000, NaN"),
    ("H x M, 442 x 10, 0.569 +- 0.081, a * b; x and y", "H × M, 442 × 10, 0.569 ± 0.081, a · b; x and y"),
    ("version 2.0e1x and e5 stay", "version 2.0e1x and e5 stay"),
])
def test_plain_maths_becomes_latex(text, expected):
    assert _latex(text) == expected


def test_symbols_and_spoken_forms():
    assert symbol_latex("W2_j") == "W_{2,j}"
    assert symbol_latex("w^T") == "w^{T}"
    assert symbol_latex("x_i_hat") == r"\hat{x}_{i}"
    assert spoken("Var(x | D) and sigma^2 against n, v_n") == "Var(x | D) and σ² against n, vₙ"
    assert spoken("tau* <= x bar") == "τ* ≤ x\u0304"
    assert spoken("tau^(-1/2), sigma_1^2, x_i_hat, w_true, x86_64") == "τ^(-1/2), σ₁², x̂ᵢ, w true, x86_64"


def _texts(sections):
    for s in sections:
        yield s.title
        yield s.setting
        for r in s.records:
            yield from (r.title, r.statement, r.answer, *r.values, *(c.name for c in r.checks))
            yield from (str(c.tolerance) for c in r.checks)
            for t in ([r.table] if r.table else []) + list(r.tables):
                yield from t["columns"]
                yield from (cell for row in t["rows"] for cell in row if isinstance(cell, str))


@pytest.fixture(scope="module")
def sections(quick_report):
    """The quick report's sections (experiments are seeded: the page's texts); its trained runs are reused."""
    from bmnn.experiments import sections as make

    return make(quick=True, runs_dir=str(quick_report.parent / "runs"))


@pytest.mark.slow
def test_every_text_of_the_page_has_no_code_style_maths_left(sections):
    visible = re.compile(r"<math.*?</math>|<code>.*?</code>|<[^>]+>", re.S)
    for text in _texts(sections):
        html = visible.sub(" ", rich_text(text))
        assert not re.search(r"\^|\*\*|\\[A-Za-z]|\b[A-Za-z]\w*_[\w{]", html), (text, html)


@pytest.mark.slow
def test_every_formula_converts_with_no_latex_left(sections):
    for s in sections:
        formulas = list(s.formulas) + [f for r in s.records for f in r.formulas]
        inline = [m for r in s.records for t in (r.statement, r.answer) for m in re.findall(r"\$([^$]+)\$", t)]
        for latex in formulas + inline:
            out = re.sub(r"<[^>]+>", "", mathml(latex))
            assert "\\" not in out, (latex, out)


def test_glossary_terms_are_defined_in_prose_but_not_inside_maths():
    out = rich_text("the MAP is mu_MAP; its ESS")
    assert f'<abbr title="{GLOSSARY["MAP"]}">MAP</abbr>' in out
    assert "<abbr" not in "".join(re.findall(r"<math.*?</math>", out, re.S))
