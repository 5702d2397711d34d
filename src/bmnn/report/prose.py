"""Prose as a reader should see it: the maths that the records write in plain text typeset as inline MathML.

The records' statements, answers, table headings and check names are written in plain ASCII so that they stay
readable in code, logs and JSON (``sigma^2``, ``v_n``, ``dL/dW1^{h,m}``, ``||w - w_hat||``, ``tau``). The page
turns each such piece of maths into MathML (the same converter as the displayed formulas), the operators into their
symbols (``<=`` to ≤, ``->`` to →, ``||`` to ‖) and leaves words alone. ``$...$`` spans are LaTeX already and are
converted as they are; text between backticks is a name a reader would type (a setting, a module, a file) and is
shown as code.

What counts as maths (each a whole word):

- a Greek letter's name (``sigma``, ``tau``, ``mu``, ``lambda``, ``eps`` ...), and ``sum``, ``prod`` with an index;
- a symbol with a sub- or superscript: ``v_n``, ``w_MAP``, ``x_{i}``, ``sigma^2``, ``W2^h`` (a letter and digits is
  a name with an index: W with subscript 2), ``10^6``, ``y_hat`` (a hat);
- Python's power, ``sigma**2``;
- a derivative ``dL/dW2^h`` (partial derivatives);
- a letter with a bar, ``x bar``;
- the two-layer network's names ``W1``, ``b2``, ``a2``, ``z1`` (layer as index).

A snake_case name that is none of these (``init_std``) is a name a reader would type and is shown as code.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

GREEK = {"alpha": r"\alpha", "beta": r"\beta", "gamma": r"\gamma", "delta": r"\delta", "eps": r"\varepsilon",
         "epsilon": r"\varepsilon", "eta": r"\eta", "theta": r"\theta", "kappa": r"\kappa", "lambda": r"\lambda",
         "mu": r"\mu", "nu": r"\nu", "xi": r"\xi", "pi": r"\pi", "rho": r"\rho", "sigma": r"\sigma", "tau": r"\tau",
         "phi": r"\phi", "omega": r"\omega", "Sigma": r"\Sigma", "Lambda": r"\Lambda", "sum": r"\sum",
         "prod": r"\prod"}

_NAME = "|".join(sorted(GREEK, key=len, reverse=True))
#: the names that are maths on their own; "sum" and "prod" are also English words, maths only with an index (sum_h)
_LETTER = "|".join(sorted(set(GREEK) - {"sum", "prod"}, key=len, reverse=True))
#: a symbol: a Greek name, a letter with optional digits (W2: W with index 2), or a number (10 in 10^6)
_BASE = rf"(?:{_NAME}|[A-Za-z]\d*|\d+)"
_SCRIPT = r"(?:_\{[^{}]*\}|_[A-Za-z0-9]+|\^\{[^{}]*\}|\^\([^()]*\)|\^-?[A-Za-z0-9]+)"
_MATH = re.compile(
    rf"(?P<deriv>\bd(?P<num>[A-Za-z])/d(?P<den>{_BASE}{_SCRIPT}*)(?![\w^]))"
    rf"|(?P<pow>\b{_BASE}\*\*\(?-?\w+\)?)"
    rf"|(?P<scripted>\b{_BASE}{_SCRIPT}+(?![\w^]))"
    rf"|(?P<greek>\b(?:{_LETTER})\b)"
    r"|(?P<bar>\b[a-z] bar\b)"
    r"|(?P<layer>\b[Wbaz][12]\b)"
)
_OPERATORS = [("&lt;=", "≤"), ("&gt;=", "≥"), ("!=", "≠"), ("-&gt;", "→"), ("||", "‖"), ("+/-", "±")]
_LEFT = re.compile(r"\^\(([^()]*)\)|\^(-?[A-Za-z0-9]+)")  # a superscript after a bracket: (2 tau)^-p
_SUBLEFT = re.compile(r"(?<=[\])‖|])_(?:\{([^{}]*)\}|([A-Za-z0-9]+))")  # after a bracket: [X^T r]_j, ‖v‖_inf
_CODE = re.compile(r"`([^`]+)`")
_WORDS = {"plugin_mle": "MLE plug-in", "plugin_map": "MAP plug-in"}


def _script(body: str) -> str:
    """A sub- or superscript's body in LaTeX: braces dropped, a word (MAP, true, OLS) as upright text."""
    body = body.strip("{}()")
    if len(body) > 1 and body.isalpha() and body not in GREEK:
        return rf"\text{{{body}}}"
    return " ".join(GREEK.get(part, part) for part in re.split(r"(?<=\w)(?=[^\w])|(?<=[^\w])(?=\w)", body))


def _base(text: str) -> str:
    if text in GREEK:
        return GREEK[text]
    m = re.fullmatch(r"([A-Za-z])(\d+)", text)
    return f"{m.group(1)}_{{{m.group(2)}}}" if m else text


def symbol_latex(token: str) -> str:
    """One symbol in plain text (``W2^h``, ``mu_MAP``, ``y_hat``, ``sigma**2``) as LaTeX."""
    if "**" in token:
        base, power = token.split("**", 1)
        return f"{_base(base)}^{{{_script(power)}}}"
    m = re.match(_BASE, token)
    base, rest = m.group(0), token[m.end():]
    out, sub, sup = _base(base), [], []
    for part in re.findall(_SCRIPT, rest):
        body = part[1:]
        if part[0] == "_" and body == "hat":
            out = rf"\hat{{{out}}}"
        elif part[0] == "_":
            sub.append(_script(body))
        else:
            sup.append(_script(body))
    if sub and "_{" in out:  # W2_j: the index and the subscript together
        out = out[:-1] + "," + ",".join(sub) + "}"
        sub = []
    return out + (f"_{{{','.join(sub)}}}" if sub else "") + (f"^{{{','.join(sup)}}}" if sup else "")


def _latex(m: re.Match) -> str:
    if m.group("bar"):
        return rf"\bar{{{m.group(0)[0]}}}"
    if m.group("deriv"):
        return rf"\partial {m.group('num')}/\partial {symbol_latex(m.group('den'))}"
    return symbol_latex(m.group(0))


_IDENT = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # a snake_case name that is not maths: init_std


def _plain(text: str, terms: Callable[[str], str]) -> str:
    out = html.escape(text, quote=False)
    out = _IDENT.sub(lambda m: f"<code>{m.group(0)}</code>", out)
    for a, b in _OPERATORS:
        out = out.replace(a, b)
    out = _SUBLEFT.sub(lambda m: f"<sub>{m.group(1) or m.group(2)}</sub>", out)
    out = _LEFT.sub(lambda m: f"<sup>{(m.group(1) or m.group(2)).replace('-', '−')}</sup>", out)
    return terms(out)


def prose(text: str, mathml: Callable[[str], str], terms: Callable[[str], str] = lambda s: s) -> str:
    """Plain text as HTML: escaped, its maths as inline MathML (``mathml(latex)``), its operators as symbols and
    ``terms`` applied to the words between (the glossary's definitions)."""
    for word, said in _WORDS.items():
        text = re.sub(rf"\b{word}\b", said, text)
    out = []
    for i, piece in enumerate(_CODE.split(text)):
        if i % 2:  # between backticks: a name a reader would type
            out.append(f"<code>{html.escape(piece, quote=False)}</code>")
            continue
        last = 0
        for m in _MATH.finditer(piece):
            out.append(_plain(piece[last:m.start()], terms))
            out.append(mathml(_latex(m)))
            last = m.end()
        out.append(_plain(piece[last:], terms))
    return "".join(out)


_LETTERS = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "eps": "ε", "epsilon": "ε", "eta": "η",
            "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ",
            "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω", "Sigma": "Σ", "Lambda": "Λ", "sum": "Σ",
            "prod": "∏"}
_SUP = str.maketrans("0123456789-+Tnhimpj", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺ᵀⁿʰⁱᵐᵖʲ")
_SUB = str.maketrans("0123456789ijnmh", "₀₁₂₃₄₅₆₇₈₉ᵢⱼₙₘₕ")


def spoken(text: str) -> str:
    """Plain text for an attribute (an image's alt text): the same maths in Unicode letters, with sub- and
    superscripts as Unicode where it has them."""
    def one(m: re.Match) -> str:
        token = m.group(0)
        if m.group("bar"):
            return token[0] + "\u0304"
        for name in sorted(_LETTERS, key=len, reverse=True):
            token = re.sub(rf"(?<![A-Za-z]){name}(?![a-z])", _LETTERS[name], token)
        token = re.sub(r"_hat\b", "\u0302", token)
        token = re.sub(r"\*\*|\^", "^", token)
        token = re.sub(r"\^\{?\(?([^{}()]+?)\)?\}?(?=$|[_^/])",
                       lambda s: s.group(1).translate(_SUP) if all(c in "0123456789-+Tnhimpj" for c in s.group(1))
                       else "^" + s.group(1), token)
        token = re.sub(r"_\{?([^{}_^]+?)\}?(?=$|[_^/])",
                       lambda s: s.group(1).translate(_SUB) if all(c in "0123456789ijnmh" for c in s.group(1))
                       else " " + s.group(1), token)
        return token.replace("dL/d", "∂L/∂")
    return _MATH.sub(one, text).replace("<=", "≤").replace(">=", "≥").replace("->", "→").replace("||", "‖")
