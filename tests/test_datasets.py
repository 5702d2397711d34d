import numpy as np
import pytest

from bmnn._checks import InputError
from bmnn.datasets import parse_numbers


def test_separators_and_header():
    np.testing.assert_array_equal(parse_numbers("1 2,3\n\n4;5\t6"), [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(parse_numbers("\nvalue\n1.5\n-2e3\n"), [1.5, -2000.0])
    assert parse_numbers("").size == 0


def test_header_only_allowed_first():
    with pytest.raises(InputError, match=r"data.csv, line 3: 'oops' is not a number"):
        parse_numbers("x\n1\noops\n", "data.csv")
