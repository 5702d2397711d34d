"""Writing files without ever leaving a half-written one, and checking output folders before any work starts.

One mechanism for every file the package writes (checkpoints, history, figures, the report, downloads): the
content goes to a temporary file in the target's own folder, which is flushed and fsynced, renamed over the target
(atomic on POSIX), and the folder is fsynced so the rename itself survives a power cut. A failure at any point
removes the temporary file. Files get the mode an ordinary ``open`` would give them (``0o666`` less the umask), not
``mkstemp``'s private ``0o600``.

**Only bmnn's own temporary files are ever removed.** Their names have a form no one else makes,
``.<target>.bmnn-<host>-<pid>-<start>-<random>.tmp``: the writer's host (a hash of its name), process id and
process start time, and ``mkstemp``'s random part. A writer killed with ``kill -9`` leaves one behind; the next
writer into that folder removes it only when the writer is provably gone: same host, and that process id no longer
runs or now belongs to a process started at another time. A file of any other name, a temporary file of another
host (a shared folder), or one whose writer may still run, is left alone.

This module is a leaf: it imports no sibling but ``_checks``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import stat
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from bmnn._checks import BmnnError, InputError

_TEMP = re.compile(r"^\.(?P<name>.*)\.bmnn-(?P<host>[0-9a-f]{12})-(?P<pid>[0-9]+)-(?P<start>[0-9]+)-"
                   r"[a-z0-9_]{8}\.tmp$")
_NAME_BYTES = 150  # the target's name is cut to this in a temporary name (file names are at most 255 bytes)


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@cache
def _host_tag() -> str:
    """Who can tell whether a process id runs: this host's name, its boot and its process-id namespace (two
    containers of one host name, or one machine before and after a reboot, get different tags)."""
    parts = [socket.gethostname()]
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            parts.append(fh.read().strip())
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    except OSError:
        pass
    return hashlib.sha256("/".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot on Linux), or ``None`` if no such process runs.
    0 where the system does not tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of proc(5), counted after the command name
    except FileNotFoundError:  # gone, or hidden from us (/proc mounted with hidepid): ask the kernel
        return _start_time_portable(pid)
    except (OSError, IndexError, ValueError):
        return _start_time_portable(pid)


def _start_time_portable(pid: int) -> int | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by someone else
        return 0
    except OSError:
        return 0
    try:
        import psutil

        return int(psutil.Process(pid).create_time() * 1000)
    except Exception:  # psutil missing, or the process ended meanwhile: alive as far as we can tell
        return 0


def temp_prefix(target: str | Path) -> str:
    """The start of a temporary file's name for ``target``: only this module makes names of this form."""
    name = os.fsencode(Path(target).name)[:_NAME_BYTES].decode("utf-8", "ignore") or "file"
    return f".{name}.bmnn-{_host_tag()}-{os.getpid()}-{_start_time(os.getpid()) or 0}-"


def _writer_gone(m: re.Match[str]) -> bool:
    if m["host"] != _host_tag():
        return False  # another machine's writer, in a shared folder: it may be running
    pid = int(m["pid"])
    if pid == os.getpid():
        return False
    started = _start_time(pid)
    if started is None:
        return True
    return started != 0 and int(m["start"]) != 0 and started != int(m["start"])  # the pid now names another process


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporary files that bmnn writers killed before their rename left in ``folder``; return them.

    Only names of bmnn's own form are considered (module docstring), only regular files, and only when their
    writer is provably gone.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m is None:
            continue
        try:
            if entry.is_file(follow_symlinks=False) and _writer_gone(m):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


class ForeignFile(InputError):
    """A file bmnn would write over exists and was not made by bmnn: it is left alone."""


def refuse_foreign(path: str | Path, owned: Callable[[Path], bool]) -> None:
    """Raise :class:`ForeignFile` where ``path`` exists and is not a regular file of bmnn's (``owned(path)``
    false); a symbolic link or a folder is never bmnn's. (A hard link elsewhere to a file of bmnn's keeps its content:
    :func:`atomic_write` renames a new file into place and never writes into the old one.)"""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode) or not owned(path):
        raise ForeignFile(f"{str(path)!r} exists and was not written by bmnn; it is left alone: move it away or "
                          "choose another name", param=str(path))


def atomic_write(path: str | Path, content: bytes | str | Callable[[Path], None],
                 owned: Callable[[Path], bool] | None = None) -> Path:
    """Write ``content`` to ``path`` atomically: readers see the old file or the whole new one, never a part.

    ``content`` is bytes, text (written as UTF-8), or a function that writes the file at the path it is given (for
    a download streamed to disk). Serialise anything else to bytes first: the disk is then written by this function
    alone, so a full disk, a file-size limit or a lack of descriptors is an :class:`OSError` naming ``path``, never a
    library's own failure half-way through. With ``owned``, a file already at ``path`` is replaced only when
    ``owned(path)`` says bmnn wrote it (:func:`refuse_foreign`). Returns ``path``.
    """
    path = Path(path)
    if owned is not None:
        refuse_foreign(path, owned)
    folder = path.parent
    clean_stale_temps(folder)
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=temp_prefix(path), suffix=".tmp")
    except OSError as exc:
        raise _named(exc, path) from None
    tmp = Path(name)
    try:
        if callable(content):
            os.close(fd)
            fd = -1
            content(tmp)
        else:
            data = memoryview(content.encode("utf-8") if isinstance(content, str) else content)
            while data:
                data = data[os.write(fd, data[:1 << 24]):]
        sync = os.open(tmp, os.O_RDONLY) if fd < 0 else fd
        try:
            os.fsync(sync)
        finally:
            os.close(sync)
            fd = -1
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, BmnnError):
            raise _named(exc, path) from None
        raise
    _fsync_folder(folder)
    return path


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` restated for the file the user asked for (not its temporary name)."""
    code = exc.errno if exc.errno is not None else errno.EIO
    return OSError(code, exc.strerror or os.strerror(code), str(path))


def writable_folder(path: str | Path, what: str = "output folder") -> Path:
    """Create ``path`` (and its parents) if needed and prove that files can be written in it, before any work.

    Raises :class:`InputError` naming ``what`` when ``path`` is a file, cannot be created, or is not writable.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{what} {str(p)!r} is a file, expected a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=temp_prefix("write-test"), suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"{what} {str(p)!r} cannot be created: a part of the path is a file") from None
    except PermissionError:
        raise InputError(f"{what} {str(p)!r} is not writable (permission denied)") from None
    except OSError as exc:
        raise InputError(f"{what} {str(p)!r} cannot be written: {exc.strerror or exc}") from None
    return p
