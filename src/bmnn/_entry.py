"""The ``bmnn`` console script's first steps, before anything heavy is imported.

SIGINT, SIGTERM and SIGHUP (a closed terminal) are caught from the first line on (so that Ctrl-C during start-up,
while numpy, torch or Dask load, is one line too, not a traceback): each raises :class:`Interrupted`, which the
command line turns into one line and exit code 128 + the signal's number. A signal the parent set to be ignored
(``nohup``, a background job of a script) stays ignored. From the moment a signal arrives, fd 2 points at
``/dev/null`` and bmnn writes its last line to a copy of the old fd 2: what libraries print while they shut down
(asyncio's "Task exception was never retrieved", a worker's log) is noise for the user.

The first signal is remembered, and it decides the outcome whatever happens to its exception: a signal that lands
inside a C extension's import surfaces as an ``ImportError`` ("initialization failed") or another error, and a
library that guards an optional import with ``except Exception`` swallows it and goes on. Either way the command
still ends as interrupted, never as a failed start-up, a stray traceback or a run that finished. One line is said
about the outcome, never two: a line is written with the stopping signals held back, and once the outcome is known
a further signal ends the process at once, with that outcome (without waiting for threads). This module imports only
the standard library.
"""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False  # nothing but what the handlers need is imported before they are installed
if TYPE_CHECKING:
    from typing import Any, NoReturn

#: the signals that stop a command in one line, and the word the line ends with
STOPS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated",
         **({signal.SIGHUP: "hung up"} if hasattr(signal, "SIGHUP") else {})}


def stopped(signum: int) -> str:
    """The word for a command stopped by signal ``signum``."""
    return STOPS.get(signum, "stopped")


class Interrupted(KeyboardInterrupt):
    """A signal of :data:`STOPS` arrived: the command stops, with one line and exit code 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_ERR: Any = None  # where messages go once stderr has been silenced
_CAUGHT: int | None = None  # the first signal of STOPS that arrived
_SAID = False  # a line about the outcome has been written: no second one
_ENDING: int | None = None  # the exit code, once the outcome is known and the process is ending


def caught() -> int | None:
    """The number of the first signal caught by :func:`entry`'s handler, or None."""
    return _CAUGHT


class _held:  # noqa: N801 -- a context manager, named as one
    """A block in which the stopping signals wait (blocked, where the system can) until it ends: a line and its
    record are written whole, never half or twice."""

    def __enter__(self) -> None:
        block = getattr(signal, "pthread_sigmask", None)
        self.old = block(signal.SIG_BLOCK, STOPS) if block is not None else None

    def __exit__(self, *exc: object) -> None:
        if self.old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old)


class stderr_elsewhere:  # noqa: N801 -- a context manager, named as one
    """Within the block stderr is silenced (:func:`silence_stderr`), so processes started meanwhile inherit the null
    device as their stderr while bmnn's own lines still reach the real one; after it, the real stderr is back,
    unless a signal has arrived meanwhile (the silence is then for good)."""

    def __enter__(self) -> None:
        with _held():
            self.was_silent, self.saved = _ERR is not None, None
            if not self.was_silent and sys.stderr is not None:
                try:
                    self.saved = os.dup(2)
                except OSError:
                    pass
        silence_stderr()

    def __exit__(self, *exc: object) -> None:
        global _ERR
        with _held():
            if self.saved is None:
                return
            try:
                if _CAUGHT is None and _ERR is not None:
                    os.dup2(self.saved, 2)
                    _ERR.close()
                    _ERR = None
            except OSError:
                pass
            finally:
                os.close(self.saved)


def silence_stderr() -> None:
    """From now on nothing but bmnn's own lines reach stderr (module docstring)."""
    global _ERR
    with _held():
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
    """One line on stderr; nothing (and no exception) when stderr is closed. A signal arriving meanwhile waits
    until the line is written and recorded as said."""
    global _SAID
    with _held():
        _SAID = True
        stream = _ERR if _ERR is not None else sys.stderr
        if stream is None:
            return
        try:
            stream.write(message + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass


def _on_signal(signum: int, frame: Any) -> None:
    global _CAUGHT
    if _ENDING is not None:  # the outcome is known: the process ends at once, with it if it has been said
        silence_stderr()
        if _SAID:
            os._exit(_ENDING)
        first = _CAUGHT or signum
        say(f"bmnn: {stopped(first)}")
        os._exit(128 + first)
    if _CAUGHT is None:
        _CAUGHT = signum
    silence_stderr()
    raise Interrupted(signum)


def _hold_at_exit() -> None:
    """The last exit handler. While it finalises, Python puts the default action back for every signal that has a
    handler, and a signal would then end the process by that signal, with no line and not the outcome's code (in
    whichever thread receives it: blocking it in this one is not enough). Ignored signals are left ignored, so from
    here on the stopping signals are ignored and the process ends with its outcome."""
    for sig in STOPS:
        signal.signal(sig, signal.SIG_IGN)


#: below this address-space limit (ulimit -v), BLAS runs one thread: OpenBLAS reserves buffers per thread at
#: import, and on failing prints its own message and stops the process
_SMALL_ADDRESS_SPACE = 16 * 2**30


def _one_blas_thread_under_a_memory_limit() -> None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return
    if soft != resource.RLIM_INFINITY and soft < _SMALL_ADDRESS_SPACE:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")


def entry() -> NoReturn:
    """The ``bmnn`` console script: :func:`bmnn.cli.main`, with signals caught first and, after any failure,
    nothing more on stderr than bmnn's own line."""
    global _ENDING
    code, stop = 0, None
    try:  # a signal may land between any two lines from the first handler's installation on
        for sig in STOPS:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                signal.signal(sig, _on_signal)
        import atexit
        import warnings

        atexit.register(_hold_at_exit)  # registered first, so it runs last
        warnings.simplefilter("ignore")  # library warnings at import (joblib under ulimit -f) never reach the user
        _one_blas_thread_under_a_memory_limit()
        from bmnn.cli import main

        code = main()
        _ENDING = code if _CAUGHT is None else 128 + _CAUGHT
    except KeyboardInterrupt:  # during start-up, before main() could catch it, a second signal, or a library's own
        stop = _CAUGHT or signal.SIGINT
        _ENDING = code = 128 + stop
    except (ImportError, MemoryError) as exc:  # start-up under a memory limit (ulimit -v) too low for numpy
        _ENDING = code = 1 if _CAUGHT is None else 128 + _CAUGHT
        if _CAUGHT is None:
            detail = " ".join(str(exc).split())
            say(f"bmnn: error: the command line could not start ({type(exc).__name__}"
                f"{': ' + detail if detail else ''}); a memory limit (ulimit -v) may be too low, or the installation"
                " is incomplete")
    except BaseException:
        if _CAUGHT is None:
            raise
        _ENDING = code = 128 + _CAUGHT
    # from here on a signal ends the process at once (_on_signal); the first signal decides the code
    stop = _CAUGHT or stop
    if stop is not None:
        code = 128 + stop
        if not _SAID:  # main() has not said it (module docstring)
            say(f"bmnn: {stopped(stop)}")
    _ENDING = code
    if code:
        silence_stderr()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        pass
    sys.stdout = None  # nothing left to flush at exit (a failure to deliver was reported by main)
    if code >= 128:
        import threading

        if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
            os._exit(code)  # interrupted while threads read files: they are not waited for
    sys.exit(code)
