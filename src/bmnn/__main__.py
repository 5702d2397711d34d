"""``python -m bmnn``: the command line."""

from bmnn._entry import entry

entry()
