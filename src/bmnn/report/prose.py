"""Prose as a reader should see it: the maths that the records write in plain text typeset as inline MathML.

The records' statements, answers, table headings and check names are written in plain ASCII so that they stay
readable in code, logs and JSON (``sigma^2``, ``v_n``, ``dL/dW1^{h,m}``, ``||w - w_hat||``, ``tau``). The page
turns each such piece of maths into MathML (the same converter as the displayed formulas), the operators into their
symbols (``<=`` to ≤, ``->`` to →, ``||`` to ‖) and leaves words alone. ``$...$`` spans are LaTeX already and are
converted as they are; text between backticks is a name a reader would type (a setting, a module, a file) and is
shown as code.

What counts as maths is decided conservatively (a word wrongly typeset changes what the page says):

- the name of a Greek letter this material uses as a symbol, standing alone (``sigma``, ``tau``, ``mu``,
  ``lambda``, ``eps``, ``theta``, ``xi``, ``pi``); other Greek names (``beta``, ``gamma``, ``delta`` ...) are also
  English words ("a beta prior", "the delta method") and are maths only with a script (``beta_j``);
- a symbol with a sub- or superscript: a Greek name, one letter, one letter and one digit (``W2``: W with index 2)
  or a number (``10^6``; never the digits after a decimal point), followed by ``_n``, ``_{ij}``, ``^2``, ``^{h,m}``,
  ``^(p-1)``; a lower-case word as a subscript is maths only when it is one of :data:`SUBSCRIPT_WORDS`
  (``w_true``, ``y_hat``), otherwise the whole is a name a reader would type (``x_test``, ``n_samples``) and is
  shown as code, as is every other snake_case name (``init_std``, ``x86_64``);
- Python's power, ``sigma**2``; a derivative ``dL/dW2^h``; ``x bar`` (x, y, z or w with a bar);
- the two-layer network's names ``W1``, ``b2``, ``a2``, ``z1`` (layer as index).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field

GREEK = {"alpha": r"\alpha", "beta": r"\beta", "gamma": r"\gamma", "delta": r"\delta", "eps": r"\varepsilon",
         "epsilon": r"\varepsilon", "eta": r"\eta", "theta": r"\theta", "kappa": r"\kappa", "lambda": r"\lambda",
         "mu": r"\mu", "nu": r"\nu", "xi": r"\xi", "pi": r"\pi", "rho": r"\rho", "sigma": r"\sigma", "tau": r"\tau",
         "phi": r"\phi", "omega": r"\omega", "Sigma": r"\Sigma", "Lambda": r"\Lambda", "sum": r"\sum",
         "prod": r"\prod"}
LETTERS = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "eps": "ε", "epsilon": "ε", "eta": "η",
           "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ",
           "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω", "Sigma": "Σ", "Lambda": "Λ", "sum": "Σ", "prod": "∏"}
#: Greek names that are maths standing alone (the others are English words too)
ALONE = ("sigma", "tau", "mu", "lambda", "eps", "epsilon", "theta", "xi", "pi", "Sigma", "Lambda")
#: lower-case words that are subscripts in this material's notation (any other makes a name to type)
SUBSCRIPT_WORDS = {"true", "hat", "inf", "max", "min", "star", "new", "old", "mean"}

_NAME = "|".join(sorted(GREEK, key=len, reverse=True))
_BASE = rf"(?:{_NAME}|[A-Za-z]\d?|\d+)"
_SCRIPT = r"(?:_\{[^{}]*\}|_[A-Za-z0-9]+|\^\{[^{}]*\}|\^\([^()]*\)|\^-?[A-Za-z0-9]+)"
_START = r"(?<![\w.])"  # a whole word, and never the digits after a decimal point (0.01^2)
_MATH = re.compile(
    rf"(?P<deriv>{_START}d(?P<num>[A-Za-z])/d(?P<den>{_BASE}{_SCRIPT}*)(?![\w^]))"
    rf"|(?P<pow>{_START}{_BASE}\*\*\(?-?\w+\)?)"
    rf"|(?P<scripted>{_START}{_BASE}{_SCRIPT}+(?![\w^]))"
    rf"|(?P<greek>\b(?:{'|'.join(ALONE)})\b)"
    r"|(?P<bar>\b[xyzw] bar\b)"
    r"|(?P<layer>\b[Wbaz][12]\b)"
)
_OPERATORS = [("&lt;=", "≤"), ("&gt;=", "≥"), ("!=", "≠"), ("-&gt;", "→"), ("||", "‖"), ("+/-", "±"),
              (" +- ", " ± "), (" * ", " · ")]
#: a number in Python's scientific notation (1.42e-15, 1e-09), written by the page's rule (1.42 × 10⁻¹⁵)
_SCIENTIFIC = re.compile(r"(?<![\w.])\d+(?:\.\d+)?e[+-]?\d+\b")
_TIMES = re.compile(r"\b([A-Z]|\d+) x ([A-Z]|\d+)\b")  # sizes: H x M, 442 x 10
_LEFT = re.compile(r"\^\(([^()]*)\)|\^(-?[A-Za-z0-9]+)")  # a superscript after a bracket: (2 tau)^-p
_SUBLEFT = re.compile(r"(?<=[\])‖|])_(?:\{([^{}]*)\}|([A-Za-z0-9]+))")  # after a bracket: [X^T r]_j, ‖v‖_inf
_IDENT = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # a snake_case name that is not maths: init_std
_CODE = re.compile(r"`([^`]+)`")
_WORDS = {"plugin_mle": "MLE plug-in", "plugin_map": "MAP plug-in"}


@dataclass
class Symbol:
    """One symbol parsed from plain text: its base, whether it wears a hat, its subscripts and superscripts (each
    as written, braces and brackets dropped)."""

    base: str
    hat: bool = False
    sub: list[str] = field(default_factory=list)
    sup: list[str] = field(default_factory=list)


def parse(token: str) -> Symbol:
    """``W2^h`` -> Symbol("W", sub=["2"], sup=["h"]); ``y_hat`` -> Symbol("y", hat=True); ``sigma**2`` ->
    Symbol("sigma", sup=["2"])."""
    if "**" in token:
        base, power = token.split("**", 1)
        return Symbol(base, sup=[power.strip("()")])
    base = re.match(_BASE, token).group(0)
    rest = token[len(base):]
    sym = Symbol(base)
    m = re.fullmatch(r"([A-Za-z])(\d)", base)
    if m:  # W2: W with the layer's index 2
        sym.base, sym.sub = m.group(1), [m.group(2)]
    for part in re.findall(_SCRIPT, rest):
        body = part[1:]
        braced = body[:1] in "{("
        body = body[1:-1] if braced else body
        if part[0] == "_" and body == "hat":
            sym.hat = True
        elif part[0] == "_":
            sym.sub.append(body if not braced else "{" + body + "}")
        else:
            sym.sup.append(body if not braced else "{" + body + "}")
    return sym


def _is_maths(token: str) -> bool:
    """Whether a scripted token is notation, not a name to type: its lower-case word subscripts are notation's."""
    for part in re.findall(r"_([a-z]{2,})(?![\w{])", token):
        if part not in SUBSCRIPT_WORDS:
            return False
    return True


def _body_latex(body: str) -> str:
    """A script's body: a braced one as written (indices, with Greek names), an upright word (MAP, true) as
    text, anything else as it is."""
    if body.startswith("{"):
        return re.sub(r"[A-Za-z]+", lambda m: GREEK.get(m.group(0), m.group(0)), body[1:-1])
    if len(body) > 1 and body.isalpha() and body not in GREEK:
        return rf"\text{{{body}}}"
    return GREEK.get(body, body)


def symbol_latex(token: str) -> str:
    """One symbol in plain text (``W2^h``, ``mu_MAP``, ``y_hat``, ``sigma**2``) as LaTeX."""
    sym = parse(token)
    out = GREEK.get(sym.base, sym.base)
    if sym.hat:
        out = rf"\hat{{{out}}}"
    if sym.sub:
        out += "_{" + ",".join(_body_latex(b) for b in sym.sub) + "}"
    if sym.sup:
        out += "^{" + ",".join(_body_latex(b) for b in sym.sup) + "}"
    return out


def _latex(m: re.Match) -> str:
    if m.group("bar"):
        return rf"\bar{{{m.group(0)[0]}}}"
    if m.group("deriv"):
        return rf"\partial {m.group('num')}/\partial {symbol_latex(m.group('den'))}"
    return symbol_latex(m.group(0))


def _sci(m: re.Match) -> str:
    from bmnn.report import _fmt

    return _fmt(float(m.group(0)))


def _plain(text: str, terms: Callable[[str], str]) -> str:
    text = _SCIENTIFIC.sub(_sci, text)
    text = re.sub(r"\bnan\b", "NaN", text)
    text = _TIMES.sub(r"\1 × \2", text)
    out = html.escape(text, quote=False)
    out = _IDENT.sub(lambda m: f"<code>{m.group(0)}</code>", out)
    for a, b in _OPERATORS:
        out = out.replace(a, b)
    out = _SUBLEFT.sub(lambda m: f"<sub>{m.group(1) or m.group(2)}</sub>", out)
    out = _LEFT.sub(lambda m: f"<sup>{(m.group(1) or m.group(2)).replace('-', '−')}</sup>", out)
    return terms(out)


def _words(text: str) -> str:
    for word, said in _WORDS.items():
        text = re.sub(rf"\b{word}\b", said, text)
    return text


def prose(text: str, mathml: Callable[[str], str], terms: Callable[[str], str] = lambda s: s) -> str:
    """Plain text as HTML: escaped, its maths as inline MathML (``mathml(latex)``), its operators as symbols and
    ``terms`` applied to the words between (the glossary's definitions)."""
    out = []
    for i, piece in enumerate(_CODE.split(text)):
        if i % 2:  # between backticks: a name a reader would type, as it is
            out.append(f"<code>{html.escape(piece, quote=False)}</code>")
            continue
        piece, last = _words(piece), 0
        for m in _MATH.finditer(piece):
            if m.group("scripted") and not _is_maths(m.group(0)):
                continue  # a name to type (x_test): left to the plain text, which shows it as code
            out.append(_plain(piece[last:m.start()], terms))
            out.append(mathml(_latex(m)))
            last = m.end()
        out.append(_plain(piece[last:], terms))
    return "".join(out)


_SUP = dict(zip("0123456789-+()Tnhimpj=", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺⁽⁾ᵀⁿʰⁱᵐᵖʲ⁼", strict=True))
_SUB = dict(zip("0123456789-+()ijnmhk", "₀₁₂₃₄₅₆₇₈₉₋₊₍₎ᵢⱼₙₘₕₖ", strict=True))


def _script_text(body: str, table: dict[str, str], mark: str) -> str:
    body = body.strip("{}")
    body = "".join(LETTERS.get(p, p) for p in re.split(r"([A-Za-z]+)", body))
    if all(c in table for c in body):
        return "".join(table[c] for c in body)
    if body.isalpha():  # a word: w_true -> "w true"
        return " " + body
    return f"{mark}({body})" if len(body) > 1 else f"{mark}{body}"


def spoken(text: str) -> str:
    """Plain text for an attribute (an image's alt text, a chart's label): the same maths in Unicode letters, with
    sub- and superscripts as Unicode where it has them (``_(MAP)``, ``^(1/2)`` where it has not)."""
    def one(m: re.Match) -> str:
        if m.group("bar"):
            return m.group(0)[0] + "\u0304"
        if m.group("scripted") and not _is_maths(m.group(0)):
            return m.group(0)
        if m.group("deriv"):
            return f"∂{m.group('num')}/∂" + one_symbol(m.group("den"))
        return one_symbol(m.group(0))

    def one_symbol(token: str) -> str:
        sym = parse(token)
        out = LETTERS.get(sym.base, sym.base) + ("\u0302" if sym.hat else "")
        out += "".join(_script_text(b, _SUB, "_") for b in sym.sub)
        return out + "".join(_script_text(b, _SUP, "^") for b in sym.sup)

    text = _words(text.replace("`", ""))
    return _MATH.sub(one, text).replace("<=", "≤").replace(">=", "≥").replace("->", "→").replace("||", "‖")
