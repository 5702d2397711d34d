"""bmnn: Bayesian Methods and Neural Networks, computed, verified and reported.

Importing the package is light: it imports nothing but the standard library until a name is used (the exception
types load :mod:`bmnn._checks`, and with it numpy, on first use), so the command line can catch Ctrl-C from its first
line on.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: the console script's handlers come first
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"
__all__ = ["BmnnError", "DataFileError", "GaussianPriorRegression", "HorseshoeRegression", "InputError",
           "LaplaceRegression", "NotFittedError", "__version__"]
_ESTIMATORS = ("GaussianPriorRegression", "HorseshoeRegression", "LaplaceRegression")


def __getattr__(name: str) -> Any:
    if name in ("BmnnError", "DataFileError", "InputError", "NotFittedError"):
        from bmnn import _checks

        return getattr(_checks, name)
    if name in _ESTIMATORS:  # scikit-learn is imported with them, on first use
        from bmnn import laplace

        return getattr(laplace, name)
    raise AttributeError(f"module 'bmnn' has no attribute {name!r}")
