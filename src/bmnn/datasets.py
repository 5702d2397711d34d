"""Every file format and location the package reads: files in, arrays out.

Plain lists of numbers (job 1's command line), CSV tables and scikit-learn's bundled data sets (job 2), and
IDX files: Fashion-MNIST, found on disk and verified by the SHA-256 of its decompressed bytes (jobs 3 and 4).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import math
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bmnn._checks import MAX_NUMBER_CHARS, NUMBER, DataFileError, InputError
from bmnn._files import atomic_write, writable_folder

_SEP = re.compile(r"\s*[,;]\s*|\s+")


def parse_number(token: str, where: str) -> float:
    """One token as a finite float (:data:`bmnn._checks.NUMBER`), or :class:`InputError` naming ``where`` and the
    token."""
    if len(token) > MAX_NUMBER_CHARS:
        raise InputError(f"{where}: a token of {len(token)} characters ({_shown(token)}); no number is longer than "
                         f"{MAX_NUMBER_CHARS}")
    if not NUMBER.fullmatch(token):
        if token.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise InputError(f"{where}: {token!r} is not a finite number (NaN and infinities are refused)")
        raise InputError(f"{where}: {token!r} is not a number")
    v = float(token)
    if not math.isfinite(v):
        raise InputError(f"{where}: {token!r} is beyond float64's range (largest about 1.8e308)")
    return v


def parse_numbers(text: str, source: str = "<input>", header: bool = False) -> NDArray[np.float64]:
    """Numbers separated by white space, newlines, commas or semicolons, read without loss.

    Blank lines and lines starting with ``#`` are skipped; with ``header``, so is the first other line. Every
    other token must be a plain decimal number (``1``, ``-2.5``, ``3e-4``): a typo is never taken for a header,
    ``1_000`` is not read as 1000, and an empty field between two separators is not skipped.

    Raises
    ------
    InputError
        Naming ``source``, the line and the token: for a token that is not a finite number, or an empty field.
    """
    parts = list(iter_numbers([text], source, header))
    return np.concatenate(parts) if parts else np.zeros(0)


_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # str.splitlines' line breaks
_BATCH = 1 << 16  # numbers per array yielded
_HOLD = 1 << 16  # characters of an unfinished line kept before its complete tokens are parsed


def decode_stream(stream: Any, source: str, chunk: int = 1 << 20) -> Iterator[str]:
    """The UTF-8 text of a binary stream, chunk by chunk (a byte-order mark at the start dropped); a byte that is not
    UTF-8 is an :class:`InputError` naming ``source`` and the byte's offset."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed, first = 0, True
    while True:
        try:
            raw = stream.read(chunk)
        except OSError as exc:
            raise InputError(f"{source!r} cannot be read: {exc.strerror or exc}") from None
        held = len(decoder.getstate()[0])
        try:
            text = decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise InputError(f"{source!r} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                             f"{consumed - held + exc.start})") from None
        consumed += len(raw)
        if first and text:
            text, first = text.removeprefix("\ufeff"), False
        if text or not raw:
            yield text
        if not raw:
            return


def iter_numbers(chunks: Iterable[str], source: str = "<input>", header: bool = False) -> Iterator[NDArray[np.float64]]:
    """The numbers of :func:`parse_numbers`, read from text arriving in ``chunks``, as float64 arrays of up to
    65,536 values: memory stays bounded however long the input (and however long one line of it) is. A token
    longer than any number could be is refused as soon as it is seen."""
    out: list[float] = []
    buf, lineno, mode, skip_header = "", 1, None, header  # mode: None at a line's start, "data", or "skip"

    def line_done(line: str) -> None:
        nonlocal skip_header
        if mode == "skip":
            return
        stripped = line.strip()
        if mode is None:
            if not stripped or stripped.startswith("#"):
                return
            if skip_header:
                skip_header = False
                return
        _tokens(stripped, f"{source}, line {lineno}", out)

    def line_start(rest: str) -> tuple[str | None, str]:  # the kind of a long unfinished line, from its start
        nonlocal skip_header
        lead = rest.lstrip()
        if not lead:
            return None, ""
        if lead.startswith("#"):
            return "skip", ""
        if skip_header:
            skip_header = False
            return "skip", ""
        return "data", lead

    for text in chunks:
        buf += text
        end = len(buf) - 1 if buf.endswith("\r") else len(buf)  # a \r may be the first half of \r\n
        pos = 0
        for m in _BREAK.finditer(buf, 0, end):
            line_done(buf[pos:m.start()])
            pos, lineno, mode = m.end(), lineno + 1, None
        buf = buf[pos:]
        if len(buf) > _HOLD:
            if mode is None:
                mode, buf = line_start(buf)
            if mode == "skip":
                buf = ""
            elif mode == "data":
                cut = [m for m in _SEP.finditer(buf) if 0 < m.start() and m.end() < len(buf)]
                if cut:
                    _tokens(buf[:cut[-1].start()].strip(), f"{source}, line {lineno}", out)
                    buf = buf[cut[-1].end():]
                if len(buf) > MAX_NUMBER_CHARS:
                    parse_number(buf, f"{source}, line {lineno}")  # refuses the over-long token
        while len(out) >= _BATCH:
            yield np.asarray(out[:_BATCH], dtype=np.float64)
            del out[:_BATCH]
    line_done(buf)
    if out:
        yield np.asarray(out, dtype=np.float64)


def _tokens(stripped: str, where: str, out: list[float]) -> None:
    if not stripped:
        return
    for tok in _SEP.split(stripped):
        if not tok:
            raise InputError(f"{where}: an empty field between two separators in {_shown(stripped)}")
        out.append(parse_number(tok, where))


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def read_csv_xy(path: str | Path, target: str) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """A CSV with a header row: every column but ``target`` becomes X (as given), ``target`` becomes y.

    Read without loss: a UTF-8 byte-order mark is stripped and blank lines are skipped, nothing else. The
    standard library's reader is used (pandas would pad a short row with NaN and rename a duplicate column).

    Raises
    ------
    InputError
        For a missing or unreadable file, a header with an empty or duplicate column name, an unknown target
        column, a row with the wrong number of fields, an oversized cell, or a cell that is not a finite number
        (naming its line and column).
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{str(p)!r} is a folder, expected a CSV file")
    rows: list[tuple[int, list[str]]] = []
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            try:
                for row in reader:
                    if any(c.strip() for c in row):
                        rows.append((reader.line_num, row))
            except csv.Error as exc:
                raise InputError(f"{p}, line {reader.line_num}: not valid CSV ({exc})") from None
    except FileNotFoundError:
        raise InputError(f"{str(p)!r} does not exist") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{str(p)!r} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") \
            from None
    except OSError as exc:
        raise InputError(f"{str(p)!r} cannot be read: {exc.strerror or exc}") from None
    if len(rows) < 2:
        raise InputError(f"{str(p)!r} needs a header row and at least one data row")
    header = [h.strip() for h in rows[0][1]]
    if any(not h for h in header):
        raise InputError(f"{p}, line {rows[0][0]}: column {header.index('') + 1} of the header has no name")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{p}, line {rows[0][0]}: the header names column {dupes[0]!r} more than once")
    if target not in header:
        raise InputError(f"target column {target!r} is not in {str(p)!r}; its columns are {', '.join(header)}",
                         param="target")
    if len(header) < 2:
        raise InputError(f"{str(p)!r} needs at least one feature column besides the target")
    data = np.empty((len(rows) - 1, len(header)))
    for i, (line, row) in enumerate(rows[1:]):
        if len(row) != len(header):
            raise InputError(f"{p}, line {line}: {len(row)} fields, but the header has {len(header)}")
        for j, cell in enumerate(row):
            data[i, j] = parse_number(cell.strip(), f"{p}, line {line}, column {header[j]!r}")
    k = header.index(target)
    names = [h for j, h in enumerate(header) if j != k]
    return np.delete(data, k, axis=1), data[:, k], names


@dataclass(frozen=True)
class Moments:
    """Count, column means and centred cross-products ``C = sum (z - mean)(z - mean)^T`` of the rows ``z`` of a
    table: everything the Laplace regression needs from its data (X^T X, X^T y, y^T y, and the columns' means and
    sds for standardising), merged across partitions by the stable pairwise update of Chan, Golub & LeVeque
    (1979) rather than from raw sums of squares, which lose every digit when the means are large."""

    n: int
    mean: NDArray[np.float64]
    cross: NDArray[np.float64]

    @classmethod
    def of(cls, z: NDArray[np.float64]) -> Moments:
        """The moments of the rows of ``z`` (n x k)."""
        m = z.mean(axis=0) if len(z) else np.zeros(z.shape[1])
        d = z - m
        return cls(n=len(z), mean=m, cross=d.T @ d)

    def merge(self, other: Moments) -> Moments:
        """The moments of both tables together."""
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(n=n, mean=self.mean + delta * (other.n / n),
                       cross=self.cross + other.cross + np.outer(delta, delta) * (self.n * other.n / n))

    def regression(self, target: int, standardize: bool = False):
        """``(X^T X, X^T y, y^T y, n)`` with column ``target`` as y; with ``standardize``, for the columns of X
        centred and scaled to unit (population) sd and y centred."""
        k = self.mean.shape[0]
        xs = [j for j in range(k) if j != target]
        C, m = self.cross, self.mean
        if standardize:
            sd = np.sqrt(np.diag(C)[xs] / self.n)
            if np.any(sd <= 1e-13 * np.maximum(np.abs(m[xs]), 1.0)):
                j = xs[int(np.argmax(sd <= 1e-13 * np.maximum(np.abs(m[xs]), 1.0)))]
                raise InputError(f"column {j} is constant, so it cannot be standardised", param="standardize")
            return (C[np.ix_(xs, xs)] / np.outer(sd, sd), C[xs, target] / sd, float(C[target, target]), self.n)
        raw = C + self.n * np.outer(m, m)
        return raw[np.ix_(xs, xs)], raw[xs, target], float(raw[target, target]), self.n


def table_moments(paths: str | list[str], target: str, kind: str = "csv", client=None):
    """:class:`Moments` of CSV or Parquet files (a glob or a list) with a header, in one pass over their partitions
    (Dask: memory bounded by the partition size, whatever the number of rows); returns ``(moments, names, t)``
    with the column names and the target's index. Every cell must be a finite number."""
    from bmnn import cluster

    names = cluster.table_columns(paths, kind)
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise InputError(f"the header names column {dupes[0]!r} more than once")
    if target not in names:
        raise InputError(f"target column {target!r} is not among the columns {', '.join(names)}", param="target")
    if len(names) < 2:
        raise InputError("the table needs at least one feature column besides the target")
    moments = cluster.reduce_partitions(paths, kind, _partition_moments, Moments.merge, client)
    if moments.n == 0:
        raise InputError("the files hold no data rows")
    return moments, names, names.index(target)


def _partition_moments(frame) -> Moments:
    z = frame.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(z)):
        bad = np.argwhere(~np.isfinite(z))[0]
        raise InputError(f"column {frame.columns[bad[1]]!r} holds an empty, NaN or infinite cell (row {bad[0] + 1} "
                         "of one partition)")
    return Moments.of(z)


def load_bundled(name: str) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """A data set that scikit-learn ships (no download): ``diabetes`` or ``breast_cancer``. Returns X, y, names."""
    from sklearn import datasets as skd

    loaders = {"diabetes": skd.load_diabetes, "breast_cancer": skd.load_breast_cancer}
    if name not in loaders:
        raise InputError(f"dataset must be one of {sorted(loaders)}, got {name!r}")
    bunch = loaders[name]()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.float64), list(
        bunch.feature_names)


# ---- IDX files and Fashion-MNIST -------------------------------------------------------------------------------

_IDX_MAGIC = {2049: 1, 2051: 3}  # unsigned-byte labels (1 dimension) and images (3 dimensions)

FASHION_MNIST = {  # name -> SHA-256 of the decompressed file
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
class DataNotFound(DataFileError):
    """Fashion-MNIST is not in any of the places looked in."""


FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            compressed = fh.read(2) == b"\x1f\x8b" or path.suffix == ".gz"  # gzip's magic, or its name
        if compressed:
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataFileError(f"{path}: is a folder, expected a file") from None
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFileError(f"{path}: cannot be read or decompressed ({exc})") from None


def read_idx(path: str | Path, sha256: str | None = None) -> NDArray[np.uint8]:
    """Read an IDX file (``.gz`` or raw) of unsigned bytes: labels (magic 2049) or images (magic 2051).

    Checks the magic number, the dimensions and that the byte count matches them exactly; with ``sha256``, also
    the hash of the decompressed bytes. Every failure raises :class:`DataFileError` naming the file and the fault.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 8:
        raise DataFileError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in _IDX_MAGIC:
        raise DataFileError(f"{path}: magic number {magic}, expected 2049 (labels) or 2051 (images)")
    ndim = _IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"{path}: truncated header ({len(raw)} bytes, expected at least {header})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(dims)
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataFileError(f"{path}: {what}: {len(raw)} bytes, but dimensions {dims} need {expected}")
    if sha256 is not None:
        got = hashlib.sha256(raw).hexdigest()
        if got != sha256:
            raise DataFileError(f"{path}: SHA-256 of the decompressed bytes is {got}, expected {sha256} "
                                "(a corrupted or different file)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def fashion_mnist_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Where Fashion-MNIST is looked for, in order: ``data_dir``, ``$BMNN_DATA_DIR``, the user cache, Debian's."""
    dirs = [Path(data_dir)] if data_dir else []
    if os.environ.get("BMNN_DATA_DIR"):
        dirs.append(Path(os.environ["BMNN_DATA_DIR"]))
    dirs += [Path.home() / ".cache" / "bmnn" / "fashion-mnist", DEBIAN_DIR]
    return dirs


def _file_in(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def locate_fashion_mnist(data_dir: str | Path | None = None) -> dict[str, Path]:
    """The four files' paths from the first place that has all four (``.gz`` or raw).

    An explicit ``data_dir`` that lacks them is an error rather than silently passed over.
    """
    for i, d in enumerate(fashion_mnist_dirs(data_dir)):
        found = {name: _file_in(d, name) for name in FASHION_MNIST}
        if all(found.values()):
            return {k: v for k, v in found.items() if v is not None}
        if i == 0 and data_dir:
            missing = [n for n, v in found.items() if v is None]
            raise DataNotFound(f"data folder {str(d)!r} lacks {', '.join(missing)} (.gz or uncompressed)")
    places = ", ".join(str(d) for d in fashion_mnist_dirs(data_dir))
    raise DataNotFound(
        f"Fashion-MNIST not found (looked in {places}). Install it with 'apt-get install dataset-fashion-mnist' "
        "(Debian), or put the four IDX files in a folder and name it as the data folder (or in BMNN_DATA_DIR), or run "
        "'bmnn data fetch' on a machine with internet access."
    )


def load_fashion_mnist(data_dir: str | Path | None = None, verify: bool = True,
                       hashes: dict[str, str] | None = None) -> dict[str, NDArray[np.uint8]]:
    """Fashion-MNIST as uint8 arrays: ``x_train`` (60000 x 784), ``y_train``, ``x_test`` (10000 x 784), ``y_test``.

    Rows are the flattened 28 x 28 images in row-major order; pixel values 0..255. ``verify`` checks each file's
    SHA-256 (of the decompressed bytes) against ``hashes`` (default: the published files').
    """
    paths = locate_fashion_mnist(data_dir)
    table = FASHION_MNIST if hashes is None else hashes
    arr = {name: read_idx(path, table[name] if verify else None) for name, path in paths.items()}
    out = {
        "x_train": arr["train-images-idx3-ubyte"].reshape(-1, 784),
        "y_train": arr["train-labels-idx1-ubyte"],
        "x_test": arr["t10k-images-idx3-ubyte"].reshape(-1, 784),
        "y_test": arr["t10k-labels-idx1-ubyte"],
    }
    for split in ("train", "test"):
        if out[f"x_{split}"].shape[0] != out[f"y_{split}"].shape[0]:
            raise DataFileError(f"{split}: {out[f'x_{split}'].shape[0]} images but {out[f'y_{split}'].shape[0]} labels")
    return out


FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def fetch_fashion_mnist(dest: str | Path | None = None, base_url: str = FASHION_MNIST_URL,
                        progress: bool = True, hashes: dict[str, str] | None = None) -> Path:
    """Download the four ``.gz`` files into ``dest`` (default ``~/.cache/bmnn/fashion-mnist``), each verified by the
    SHA-256 of its decompressed bytes before it is moved into place (atomically). Files already there and valid
    are kept. Returns ``dest``."""
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    dest = writable_folder(dest or Path.home() / ".cache" / "bmnn" / "fashion-mnist", "destination folder")
    for name, digest in (hashes or FASHION_MNIST).items():
        target = dest / f"{name}.gz"
        if target.exists():
            try:
                read_idx(target, digest)
                continue
            except DataFileError:
                pass  # damaged or different: fetch it again, replacing it only once the new copy is verified
        url = f"{base_url}{name}.gz"

        def download(tmp: Path, url: str = url, digest: str = digest, name: str = name) -> None:
            with urllib.request.urlopen(url, timeout=60) as resp, tmp.open("wb") as fh:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
                    while chunk := resp.read(1 << 16):
                        fh.write(chunk)
                        bar.update(len(chunk))
            read_idx(tmp, digest)  # a download that arrived but is not the right file: its message says why

        try:
            atomic_write(target, download)
        except (urllib.error.URLError, OSError) as exc:
            if isinstance(exc, DataFileError):
                raise
            raise DataFileError(
                f"could not download {url} ({getattr(exc, 'reason', None) or exc.strerror or exc}). Without internet "
                "access, install Debian's package (apt-get install dataset-fashion-mnist) or copy the four IDX files "
                "into a folder and name it as the data folder (or in BMNN_DATA_DIR)."
            ) from None
    return dest
