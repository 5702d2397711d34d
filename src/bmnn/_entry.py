"""The ``bmnn`` console script's first steps, before anything heavy is imported.

SIGINT and SIGTERM are caught from the first line on (so that Ctrl-C during start-up, while numpy, torch or Dask
load, is one line too, not a traceback): each raises :class:`Interrupted`, which the command line turns into one
line and exit code 128 + the signal's number. From the moment a signal arrives, fd 2 points at ``/dev/null`` and
bmnn writes its last line to a copy of the old fd 2: what libraries print while they shut down (asyncio's "Task
exception was never retrieved", a worker's log) is noise for the user. This module imports only the standard library.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, NoReturn


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: the command stops, with one line and exit code 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_ERR: Any = None  # where messages go once stderr has been silenced


def silence_stderr() -> None:
    """From now on nothing but bmnn's own lines reach stderr (module docstring)."""
    global _ERR
    if _ERR is not None or sys.stderr is None:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        _ERR = os.fdopen(saved, "w", encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                         errors="backslashreplace")
    except OSError:
        pass


def say(message: str) -> None:
    """One line on stderr; nothing (and no exception) when stderr is closed."""
    stream = _ERR if _ERR is not None else sys.stderr
    if stream is None:
        return
    try:
        stream.write(message + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def _on_signal(signum: int, frame: Any) -> NoReturn:
    silence_stderr()
    raise Interrupted(signum)


def entry() -> NoReturn:
    """The ``bmnn`` console script: :func:`bmnn.cli.main`, with signals caught first and, after any failure,
    nothing more on stderr than bmnn's own line."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    try:
        from bmnn.cli import main

        code = main()
    except KeyboardInterrupt as exc:  # during start-up, before main() could catch it
        signum = getattr(exc, "signum", signal.SIGINT)
        say(f"bmnn: {'interrupted' if signum == signal.SIGINT else 'terminated'}")
        code = 128 + int(signum)
    if code:
        silence_stderr()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        pass
    sys.stdout = None  # nothing left to flush at exit (a failure to deliver was reported by main)
    sys.exit(code)
