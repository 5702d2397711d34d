"""Writing files without ever leaving a half-written one, and checking output folders before any work starts.

One mechanism for every file the package writes (checkpoints, history, figures, the report, downloads): the
content goes to a temporary file in the target's own folder, which is flushed and fsynced, renamed over the target
(atomic on POSIX), and the folder is fsynced so the rename itself survives a power cut. A failure at any point
removes the temporary file; a writer killed with ``kill -9`` leaves one behind, named after its process id, and the
next writer into that folder removes it once that process is gone. Files get the mode an ordinary ``open`` would
give them (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.

This module is a leaf: it imports no sibling but ``_checks``.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bmnn._checks import InputError

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")
_LEGACY_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # an earlier release's temp names, without the pid
_LEGACY_AGE_S = 3600.0


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporary files that writers killed before their rename left in ``folder``; return them.

    A temporary file is stale when the process named in it no longer runs (or, for the older names without a
    process id, when it is over an hour old).
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    now = time.time()
    for p in entries:
        m = _TEMP.match(p.name)
        try:
            stale = (not _pid_alive(int(m["pid"]))) if m else (
                _LEGACY_TEMP.match(p.name) is not None and now - p.stat().st_mtime > _LEGACY_AGE_S)
            if stale and p.is_file():
                p.unlink()
                removed.append(p)
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


def atomic_write(path: str | Path, content: bytes | str | Callable[[Path], None]) -> Path:
    """Write ``content`` to ``path`` atomically: readers see the old file or the whole new one, never a part.

    ``content`` is bytes, text (written as UTF-8), or a function that writes the file at the path it is given
    (for writers that want a file name, such as ``torch.save`` or ``Figure.savefig``). Returns ``path``.
    """
    path = Path(path)
    folder = path.parent
    clean_stale_temps(folder)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    tmp = Path(name)
    try:
        if callable(content):
            os.close(fd)
            fd = -1
            content(tmp)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else content
            with os.fdopen(fd, "wb") as fh:
                fd = -1
                fh.write(data)
        sync = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(sync)
        finally:
            os.close(sync)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return path


def writable_folder(path: str | Path, what: str = "output folder") -> Path:
    """Create ``path`` (and its parents) if needed and prove that files can be written in it, before any work.

    Raises :class:`InputError` naming ``what`` when ``path`` is a file, cannot be created, or is not writable.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{what} {str(p)!r} is a file, expected a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=f".write-test.{os.getpid()}.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"{what} {str(p)!r} cannot be created: a part of the path is a file") from None
    except PermissionError:
        raise InputError(f"{what} {str(p)!r} is not writable (permission denied)") from None
    except OSError as exc:
        raise InputError(f"{what} {str(p)!r} cannot be written: {exc.strerror or exc}") from None
    return p
