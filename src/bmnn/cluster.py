"""The one door to Dask: an embedded ``LocalCluster`` by default, or an existing cluster by address; tasks mapped
with their own seed streams and results gathered in task order.

Nothing here is home-made scheduling: Dask distributed (``dask[distributed]``) places the tasks, retries a task
whose worker died, and moves results. bmnn only decides what a task is, and that its result never depends on the
number of workers or the order they finish in: task ``i`` gets the ``i``-th child of
``numpy.random.SeedSequence(seed)`` and results come back in task order.

Dask is imported inside the functions, so ``import bmnn`` stays light.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bmnn._checks import BmnnError, InputError

ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT = "20s"  # how long a scheduler at an address may take to answer


class ClusterError(BmnnError):
    """The cluster could not be reached or a task failed for good."""


SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
_ADDRESS = re.compile(r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)"
                      r"(?::(?P<port>[0-9]{1,5}))?", re.ASCII)


def check_address(address: str, source: str = "scheduler") -> str:
    """``address`` if it is a Dask scheduler address (``[scheme://]host[:port]``, scheme one of :data:`SCHEMES`,
    port 1 to 65535), checked before anything connects; else :class:`InputError` naming ``source``."""
    m = _ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if m is None:
        raise InputError(f"{source} must be a Dask scheduler address such as tcp://host:8786, got {address!r:.200}",
                         param="scheduler")
    if m["scheme"] is not None and m["scheme"].lower() not in SCHEMES:
        raise InputError(f"{source} {address!r:.200} has the scheme {m['scheme']!r}; Dask's are "
                         f"{', '.join(SCHEMES)}", param="scheduler")
    if m["port"] is not None and not 1 <= int(m["port"]) <= 65535:
        raise InputError(f"{source} {address!r:.200} has the port {m['port']}, expected 1 to 65535",
                         param="scheduler")
    return address


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler to connect to: ``scheduler`` if given, else ``$DASK_SCHEDULER_ADDRESS`` if set (each checked
    by :func:`check_address`), else ``None`` (an embedded cluster)."""
    if scheduler is not None:
        return check_address(scheduler)
    env = os.environ.get(ADDRESS_ENV)
    return None if env is None else check_address(env, f"${ADDRESS_ENV}")


def default_workers() -> int:
    """Worker processes for an embedded cluster: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def client(scheduler: str | None = None, workers: int | None = None, threads_per_worker: int = 1,
           memory_limit: str | float | None = "auto") -> Iterator[Any]:
    """A ``dask.distributed.Client``: connected to ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``) when given, else
    to an embedded ``LocalCluster`` of ``workers`` processes (default: one per core) with ``threads_per_worker``
    threads each, closed on exit."""
    from distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    if address is not None:
        if workers is not None:
            raise InputError(f"workers sizes an embedded cluster; with the scheduler {address!r} the cluster's own "
                             "workers run the tasks (give one or the other)", param="workers")
        c = _connect(Client, address)
        try:
            yield c
        finally:
            c.close()
        return
    n = default_workers() if workers is None else workers
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"workers must be a whole number >= 1, got {workers!r}")
    cluster = None
    try:
        with _ctrl_c_for_bmnn_alone():  # the workers are spawned meanwhile and keep this stderr
            cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                                   memory_limit=memory_limit, dashboard_address=None, silence_logs=logging.CRITICAL)
        c = Client(cluster)
        try:
            yield c
        finally:
            c.close()
    finally:
        if cluster is not None:
            cluster.close()


def _connect(client_type: Any, address: str) -> Any:
    """A client connected to the scheduler at ``address``, or one line saying why not, within about
    :data:`CONNECT_TIMEOUT` and a half. Dask's own timeout covers the connection but not its handshake: a server that
    accepts and then says nothing (a web server) would be waited for without end, and one that speaks another
    protocol (an SSH banner) is read as a message length of exabytes. The connection is made in a thread, and the
    wait for it is bounded here."""
    import threading

    from dask.utils import parse_timedelta

    done: dict[str, Any] = {}

    def connect() -> None:
        try:
            done["client"] = client_type(address, timeout=CONNECT_TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
            done["error"] = exc

    t = threading.Thread(target=connect, name="bmnn connect", daemon=True)
    t.start()
    t.join(1.5 * parse_timedelta(CONNECT_TIMEOUT))
    exc = done.get("error")
    if t.is_alive():
        raise ClusterError(f"no Dask scheduler answered at {address!r}: something accepted the connection but did "
                           f"not complete Dask's handshake within {CONNECT_TIMEOUT} (is it a Dask scheduler?)")
    if isinstance(exc, MemoryError):
        raise ClusterError(f"no Dask scheduler answered at {address!r}: the server there speaks another protocol "
                           "(its first bytes read as an impossible message size)")
    if isinstance(exc, (OSError, TimeoutError, ValueError, TypeError, ImportError)):  # TypeError, ImportError: a
        # scheme (tls, ucx) that needs Dask's security settings or a package this installation lacks
        raise ClusterError(f"no Dask scheduler answered at {address!r} ({type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:200]})")
    if exc is not None:
        raise exc
    return done["client"]


@contextmanager
def _ctrl_c_for_bmnn_alone() -> Iterator[None]:
    """The embedded cluster's worker processes start with the null device as their stderr. A terminal's Ctrl-C goes
    to the whole process group: each worker would print its own traceback, while bmnn alone says that the command
    stopped (and closes the cluster). bmnn's own lines still reach the real stderr
    (:class:`bmnn._entry.stderr_elsewhere`)."""
    from bmnn._entry import stderr_elsewhere

    with stderr_elsewhere():
        yield


def seed_streams(seed: int, n: int) -> list[int]:
    """One independent seed per task: the entropy of the ``i``-th child of ``SeedSequence(seed)`` as an int (so it
    can seed numpy and torch alike), the same whatever runs the tasks."""
    import numpy as np

    return [int(s.generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> 1)
            for s in np.random.SeedSequence(seed).spawn(n)]


def map_ordered(c: Any, fn: Callable[..., Any], items: Sequence[Any], **kwargs: Any) -> list[Any]:
    """``[fn(item, **kwargs) for item in items]`` as Dask tasks (``pure=False``: each runs once per call), gathered
    in the order of ``items``. A task is never retried for its own error (a user's mistake fails once, with its own
    message); a task whose worker died is rescheduled by Dask itself (``distributed.scheduler.allowed-failures``)."""
    futures = [c.submit(fn, item, pure=False, key=f"bmnn-{i}-{os.getpid()}-{id(items)}",
                        **kwargs) for i, item in enumerate(items)]
    try:
        return c.gather(futures)
    except BmnnError:
        raise
    except Exception as exc:  # a task that failed for good: its own error, named
        raise ClusterError(f"a task failed: {type(exc).__name__}: {exc}") from None
