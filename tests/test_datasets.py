import numpy as np
import pytest

from bmnn._checks import InputError
from bmnn.datasets import parse_numbers


def test_separators_and_header():
    np.testing.assert_array_equal(parse_numbers("1 2,3\n\n4;5\t6"), [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(parse_numbers("\nvalue\n1.5\n-2e3\n", header=True), [1.5, -2000.0])
    np.testing.assert_array_equal(parse_numbers("\ufeff# a comment\n1.5\n  # another\n-2e3\n"), [1.5, -2000.0])
    assert parse_numbers("").size == 0


def test_header_only_when_asked_and_only_first():
    with pytest.raises(InputError, match=r"data.csv, line 3: 'oops' is not a number"):
        parse_numbers("x\n1\noops\n", "data.csv", header=True)
    with pytest.raises(InputError, match=r"data.csv, line 1: 'x' is not a number"):
        parse_numbers("x\n1\n", "data.csv")


@pytest.mark.parametrize(("text", "message"), [
    ("1O\n2\n3", r"line 1: '1O' is not a number"),  # a typo is never a header
    ("1\n3.14x\n", r"line 2: '3.14x' is not a number"),
    ("1_000\n", r"line 1: '1_000' is not a number"),
    ("1 2\x00 3", r"line 1: '2\\x00' is not a number"),
    ("0x10", r"'0x10' is not a number"),
    ("1,,2", r"line 1: an empty field between two separators"),
    ("1e999", r"'1e999' is beyond float64's range"),
    ("Infinity", r"'Infinity' is not a finite number"),
    ("1,2,", r"an empty field"),
])
def test_nothing_is_dropped_or_reinterpreted(text, message):
    with pytest.raises(InputError, match=message):
        parse_numbers(text, "f.txt")


def test_extreme_but_finite_tokens_are_read_exactly():
    np.testing.assert_array_equal(parse_numbers("1e308 -1.7e308 4.9e-324 .5 5. +3"),
                                  [1e308, -1.7e308, 5e-324, 0.5, 5.0, 3.0])
