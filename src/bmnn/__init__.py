"""bmnn: Bayesian Methods and Neural Networks, computed, verified and reported.

Importing the package is light: it does not import torch or matplotlib.
"""

from bmnn._checks import BmnnError, DataFileError, InputError, NotFittedError

__version__ = "0.1.0"
__all__ = ["BmnnError", "DataFileError", "InputError", "NotFittedError", "__version__"]
