"""The page's rule for numbers, shared by the report and the records' texts.

Exact values show about six significant digits, in fixed notation from 1e-3 up to 1e6 and as ``m × 10ⁿ`` outside;
a Monte Carlo estimate shows the digits its standard error supports. The page's script ports the rule for exact
values to JavaScript (``report/page.js``), and a test compares the two; Monte Carlo values reach the page as text.
"""

from __future__ import annotations

import math

#: the most decimals a number shows: in fixed notation (beyond, the page writes m × 10ⁿ) and in a mantissa, so at
#: most 9 significant digits, however small a Monte Carlo error
MAX_DECIMALS, MAX_DIGITS = 8, 9
_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def sig(v: float, digits: int, strip: bool = True) -> str:
    """A finite float to ``digits`` significant digits by the page's rule: fixed notation from 1e-3 up to 1e6,
    ``m × 10ⁿ`` outside; trailing zeros dropped when ``strip``."""
    short = float(f"{v:.{digits}g}")  # the range is judged on the value as shown (999999.7 shows as 1e6)
    decimals = digits - 1 - (math.floor(math.log10(abs(short))) if short else 0)
    if (short == 0 or 1e-3 <= abs(short) < 1e6) and decimals <= MAX_DECIMALS:
        text = f"{v:.{decimals}f}" if decimals >= 0 else f"{round(v, decimals):.0f}"
        return text.rstrip("0").rstrip(".") if strip and "." in text else text
    mant, exp = f"{v:.{digits - 1}e}".split("e")
    if strip:
        mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
    return f"{mant} × 10{str(int(exp)).translate(_SUPERSCRIPT)}"


def exact(v: float) -> str:
    """An exact value: six significant digits by :func:`sig`; NaN as "undefined", infinities as ∞ and -∞."""
    if not math.isfinite(v):
        return "undefined" if v != v else ("∞" if v > 0 else "-∞")
    return sig(v, 6)


def supported(value: float, se: float) -> str:
    """A Monte Carlo estimate to the digits its standard error supports: rounded at the decimal place one below
    the error's leading digit (0.45213 with error 0.0013 shows as 0.4521, 9.996 with error 0.1 as 10.00, 0.0003
    with error 0.01 as 0.000), by the page's rule for the notation, to at most :data:`MAX_DIGITS` digits. An error of
    0 means the value is exact (six digits); an unknown error (NaN) gives two digits, marked "≈"."""
    if not math.isfinite(value) or se == 0:
        return exact(value)
    if not (math.isfinite(se) and se > 0):
        return "≈ " + sig(value, 2)
    last = math.floor(math.log10(se)) - 1  # the decimal place of the last digit shown
    rounded = round(value, -last)
    if rounded == 0:  # zero to every digit the error supports
        return "0" if last >= 0 or -last > MAX_DECIMALS else "0." + "0" * -last
    lead = math.floor(math.log10(abs(rounded)))
    return sig(rounded, min(lead - last + 1, MAX_DIGITS), strip=False)


def interval(lo: float, lo_se: float, hi: float, hi_se: float) -> str:
    """An interval whose ends are Monte Carlo estimates, ``[lo, hi]``, each end to the digits its error supports."""
    return f"[{supported(lo, lo_se)}, {supported(hi, hi_se)}]"
