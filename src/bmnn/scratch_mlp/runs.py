"""Job 4's run folder: what it holds, who may write it, and the one schema of its checkpoint.

A run folder holds ``checkpoint.pt`` (written atomically after every epoch), ``history.json``, and the figures.
Three rules keep a run from being lost:

* **No silent replacement.** Starting a run in a folder that already holds one is refused
  (:class:`RunExists`) unless the caller asks to resume it (same settings required: :class:`SettingsDiffer`
  names each one that differs) or to overwrite it.
* **One writer at a time.** :func:`run_lock` takes an exclusive lock (``fcntl.flock`` on POSIX, ``msvcrt.locking``
  on Windows) on ``.bmnn.lock`` in the folder for
  the whole run; a second writer fails at once (:class:`RunInUse`), naming the holder. The kernel drops the lock
  when its holder dies, even by ``kill -9``.
* **Whole files only.** Every file goes through :func:`bmnn._files.atomic_write`.

The checkpoint is a plain dict, loadable with ``torch.load(path, weights_only=True)`` (no code is unpickled):
``W1`` (784 x 256), ``b1`` (256), ``W2`` (256 x 10), ``b2`` (10) as dense float tensors (the model to use: averaged
weights when the recipe averages), ``preprocess`` = {"scale", "mean", "std"} such that a flattened row-major
28 x 28 image of raw pixels ``p`` is fed as ``((p * scale) - mean) / std``, then
``logits = relu(x W1 + b1) W2 + b2``; and, as written by training, ``format`` (1), ``config``, ``epoch``,
``history`` and ``resume`` (raw weights, momentum, average, RNG state). :func:`validate_checkpoint` is the one
place that checks all of it.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import socket
import stat
import time
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bmnn._checks import BmnnError, DataFileError
from bmnn._files import atomic_write, clean_stale_temps, writable_folder
from bmnn.scratch_mlp.model import N_HIDDEN, N_IN, N_OUT

CHECKPOINT_FORMAT = 1
CHECKPOINT = "checkpoint.pt"
HISTORY = "history.json"
LOCK = ".bmnn.lock"  # a name only bmnn makes: a user's own .lock in the folder is never opened
RUN_FILES = (CHECKPOINT, HISTORY, "training.png", "confusion.png")
SHAPES = {"W1": (N_IN, N_HIDDEN), "b1": (N_HIDDEN,), "W2": (N_HIDDEN, N_OUT), "b2": (N_OUT,)}
#: the ranges a trained model's numbers lie in (with room to spare): within them the network's outputs on any image
#: stay finite in float32 (inputs below 2e12, hidden units below 2e19, logits below 6e25)
WEIGHT_LIMIT = 1e4
PREPROCESS_RANGES = {"scale": (1e-6, 1e3), "mean": (-1e6, 1e6), "std": (1e-6, 1e6)}
#: the most a checkpoint's archive may declare, uncompressed: four float64 copies of the weights (model, resume
#: params, momentum, average), the generator state and the history, with room to spare
ARCHIVE_LIMIT = 64 * 2**20


class CheckpointError(DataFileError):
    """A file that is not a bmnn checkpoint (or not one that can be resumed)."""


class RunExists(BmnnError):
    """The folder already holds a run, and neither resuming nor overwriting was asked for."""

    def __init__(self, folder: Path, state: str) -> None:
        self.folder, self.state = folder, state
        super().__init__(f"folder {str(folder)!r} already holds {state}: resume it, write to another folder, or "
                         "overwrite it explicitly")


class SettingsDiffer(BmnnError):
    """A run cannot be resumed with settings other than its own."""

    def __init__(self, folder: Path, differences: list[str]) -> None:
        self.folder, self.differences = folder, differences
        super().__init__(f"the run in {str(folder)!r} was started with other settings ({'; '.join(differences)}); "
                         "resume it with its own settings, or start a new run in another folder")


class RunInUse(BmnnError):
    """Another process is writing the run folder."""


# ---- the checkpoint schema ---------------------------------------------------------------------------------------

def _bad(source: str, what: str) -> CheckpointError:
    return CheckpointError(f"{source} is not a bmnn checkpoint: {what}")


def _tensor(ck: dict, key: str, shape: tuple[int, ...], source: str, where: str = "") -> torch.Tensor:
    t = ck.get(key)
    name = f"{where}{key}"
    if not isinstance(t, torch.Tensor):
        raise _bad(source, f"{name} is missing" if t is None else f"{name} is a {type(t).__name__}, not a tensor")
    if t.layout != torch.strided or t.is_quantized:
        raise _bad(source, f"{name} is a {str(t.layout).removeprefix('torch.')} tensor, expected a dense one")
    if t.dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        raise _bad(source, f"{name} holds {str(t.dtype).removeprefix('torch.')}, expected floating-point numbers")
    if t.device.type != "cpu":
        raise _bad(source, f"{name} is stored for the {t.device.type} device, expected the CPU")
    if tuple(t.shape) != shape:
        raise _bad(source, f"{name} has shape {tuple(t.shape)}, expected {shape}")
    if not bool(torch.isfinite(t).all()):
        raise _bad(source, f"{name} holds NaN or infinite values")
    if float(t.abs().max()) > WEIGHT_LIMIT:
        raise _bad(source, f"{name} holds values up to {float(t.abs().max()):.3g}, beyond any trained model's "
                           f"(|value| <= {WEIGHT_LIMIT:g})")
    return t


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_checkpoint(ck: Any, source: str = "the checkpoint", resumable: bool = False) -> dict[str, Any]:
    """Check ``ck`` against the checkpoint schema (the module docstring); return it.

    The model part (the four tensors and ``preprocess``) is always required; ``format``, ``config``, ``epoch`` and
    ``history`` are checked when present, and required with ``resumable``, as is the ``resume`` state.

    Raises
    ------
    CheckpointError
        ``"<source> is not a bmnn checkpoint: <what is wrong>"``.
    """
    if not isinstance(ck, dict):
        raise _bad(source, f"it holds a {type(ck).__name__}, expected a dict of tensors")
    for key, shape in SHAPES.items():
        _tensor(ck, key, shape, source)
    pre = ck.get("preprocess")
    if not isinstance(pre, dict) or set(pre) != {"scale", "mean", "std"}:
        raise _bad(source, "preprocess must be a dict with exactly the keys scale, mean and std")
    if not all(_number(pre[k]) for k in pre) or pre["scale"] <= 0 or pre["std"] <= 0:
        raise _bad(source, "preprocess's scale, mean and std must be finite numbers, scale and std > 0")
    for key, (lo, hi) in PREPROCESS_RANGES.items():
        if not lo <= pre[key] <= hi:
            raise _bad(source, f"preprocess's {key} is {pre[key]:.3g}, outside the range [{lo:g}, {hi:g}] of any "
                               "trained model")
    if "format" in ck or resumable:
        if ck.get("format") != CHECKPOINT_FORMAT:
            raise _bad(source, f"format {ck.get('format')!r}, this version reads format {CHECKPOINT_FORMAT}")
    if "config" in ck or resumable:
        if not isinstance(ck.get("config"), dict):
            raise _bad(source, "config must be a dict of training settings")
    if "epoch" in ck or resumable:
        epoch = ck.get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
            raise _bad(source, f"epoch must be a whole number >= 1, got {epoch!r}")
    if "history" in ck or resumable:
        hist = ck.get("history")
        if not isinstance(hist, list) or not all(isinstance(h, dict) for h in hist):
            raise _bad(source, "history must be a list of dicts, one per epoch")
        if "epoch" in ck and len(hist) != ck["epoch"]:
            raise _bad(source, f"history has {len(hist)} rows but epoch is {ck['epoch']}")
    if resumable:
        r = ck.get("resume")
        if not isinstance(r, dict) or not {"params", "momentum", "ema", "generator"} <= set(r):
            raise _bad(source, "it has no resume state (params, momentum, ema, generator)")
        for part in ("params", "momentum", "ema"):
            if r[part] is None and part != "params":
                continue
            if not isinstance(r[part], dict):
                raise _bad(source, f"resume.{part} must be a dict of tensors")
            for key in r[part]:
                if key not in SHAPES:
                    raise _bad(source, f"resume.{part} has an unknown entry {key!r}")
                _tensor(r[part], key, SHAPES[key], source, f"resume.{part}.")
        if set(r["params"]) != set(SHAPES):
            raise _bad(source, f"resume.params must hold {', '.join(SHAPES)}")
        gen = r["generator"]
        if not isinstance(gen, torch.Tensor) or gen.dtype != torch.uint8 or gen.dim() != 1:
            raise _bad(source, "resume.generator must be a torch.Generator state (a uint8 tensor)")
    return ck


def load_checkpoint(path: str | Path, resumable: bool = False) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no code is ever unpickled) and validate it.

    Raises
    ------
    CheckpointError
        For a path that is missing or not a regular file, an empty or damaged file, a file that is not a PyTorch
        archive, one that holds anything but tensors and plain data, or one that fails the schema.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise CheckpointError(f"{source} does not exist")
    if path.is_dir():
        raise CheckpointError(f"{source} is a folder, expected a checkpoint file (such as {source}/{CHECKPOINT})")
    if not path.is_file():
        raise CheckpointError(f"{source} is not a regular file, expected a checkpoint file")
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CheckpointError(f"{source} cannot be read: {exc.strerror or exc}") from None
    if not head:
        raise _bad(source, "the file is empty")
    if head != b"PK\x03\x04":
        raise _bad(source, "it is not a PyTorch archive (a zip file written by torch.save)")
    _check_archive(path, source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or hostile file; its text is not shown
        kind = ("it holds Python objects other than tensors and plain data, which are never loaded"
                if "Unpickl" in type(exc).__name__ else "the archive is damaged or incomplete")
        raise _bad(source, kind) from None
    return validate_checkpoint(ck, source, resumable=resumable)


def _check_archive(path: Path, source: str) -> None:
    """Refuse, before anything is loaded, an archive whose declared contents are larger than a checkpoint can be
    (a decompression bomb) or that is not a readable zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            declared = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _bad(source, "the archive is damaged or incomplete") from None
    if declared > ARCHIVE_LIMIT:
        raise _bad(source, f"its archive declares {declared / 2**20:,.0f} MiB of contents; a checkpoint holds at "
                           f"most {ARCHIVE_LIMIT / 2**20:.0f} MiB")


def save_checkpoint(ck: dict[str, Any], path: str | Path) -> None:
    """Write ``ck`` atomically (serialised in memory first, so a disk fault is one :class:`OSError`)."""
    buf = io.BytesIO()
    torch.save(ck, buf)
    atomic_write(path, buf.getbuffer())


def write_history(config: dict[str, Any], history: list[dict[str, Any]], path: str | Path) -> None:
    """``history.json``: the config and one row per epoch, atomically."""
    atomic_write(path, json.dumps({"config": config, "history": history}, indent=1, allow_nan=False))


def preprocess(pixels: np.ndarray, pre: dict[str, float]) -> np.ndarray:
    """Raw pixels (any shape, values 0..255) to the network's float32 input: ``((p * scale) - mean) / std``, the
    checkpoint's contract, used by training and evaluation alike."""
    return ((pixels.astype(np.float32) * pre["scale"] - pre["mean"]) / pre["std"]).astype(np.float32)


# ---- the folder ----------------------------------------------------------------------------------------------------

def run_state(folder: str | Path) -> str | None:
    """A short description of the run ``folder`` holds (``"a finished run (10 of 10 epochs)"``), or ``None``."""
    folder = Path(folder)
    ck_path = folder / CHECKPOINT
    if not ck_path.exists() and not (folder / HISTORY).exists():
        return None
    try:
        ck = load_checkpoint(ck_path)
        done, total = ck.get("epoch"), (ck.get("config") or {}).get("epochs")
    except CheckpointError:
        return "a run (its checkpoint is missing or unreadable)"
    if isinstance(done, int) and isinstance(total, int):
        what = "a finished run" if done >= total else "an interrupted run"
        return f"{what} ({done} of {total} epochs)"
    return "a checkpoint"


def clear_run(folder: str | Path) -> None:
    """Remove a run's files from ``folder`` (for an explicit overwrite); other files are left alone."""
    for name in RUN_FILES:
        (Path(folder) / name).unlink(missing_ok=True)


def _lock(fd: int) -> None:
    """An exclusive, non-blocking lock on ``fd``; :class:`BlockingIOError` when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: lock the first byte
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            raise BlockingIOError(errno.EAGAIN, "locked") from None
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def _open_lock(path: Path) -> int:
    """The lock file, opened without following a symbolic link (nor waiting on a FIFO); anything but a regular file
    there is refused, never truncated."""
    try:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunInUse(f"{str(path)!r} is a symbolic link, not bmnn's lock file; remove it or use another "
                           "folder") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        raise RunInUse(f"{str(path)!r} is not a regular file of its own (a link or a special file), so it is not "
                       "bmnn's lock file; remove it or use another folder")
    return fd


_HELD: dict[str, tuple[int, int]] = {}  # folder -> (fd, depth): the lock is re-entrant within a process


@contextmanager
def run_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the run folder's exclusive lock (creating the folder, and checking that it is writable, first).

    Raises :class:`RunInUse` at once when another process holds it, naming that process.
    """
    folder = writable_folder(folder, "run folder")
    key = str(folder.resolve())
    if key in _HELD:
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield folder
        finally:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth - 1)
        return
    fd = _open_lock(folder / LOCK)
    try:
        _lock(fd)
    except BlockingIOError:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = os.read(fd, 300).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise RunInUse(f"run folder {str(folder)!r} is in use by {holder}; wait for it to finish or use another "
                       "folder") from None
    try:  # the holder's name, for a second writer's message
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    except OSError as exc:  # a full disk, a file-size limit: named, and the lock let go
        _unlock(fd)
        os.close(fd)
        raise OSError(exc.errno, exc.strerror, str(folder / LOCK)) from None
    clean_stale_temps(folder)
    _HELD[key] = (fd, 1)
    try:
        yield folder
    finally:
        del _HELD[key]
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # the lock is let go all the same; a stale holder line only names who held it
        _unlock(fd)
        os.close(fd)
