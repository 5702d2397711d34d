"""``python -m bmnn``: the command line."""

from bmnn.cli import entry

entry()
