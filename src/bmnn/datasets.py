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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bmnn._checks import CONSTANT_TOL, MAX_NUMBER_CHARS, NUMBER, BmnnError, DataFileError, InputError
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
    parts = list(iter_numbers([text.removeprefix("\ufeff")], source, header))
    return np.concatenate(parts) if parts else np.zeros(0)


_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # str.splitlines' line breaks
_SPACE = re.compile(r"[^\S\r]+")  # white space but a held-back \r
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
            held_cr = buf.endswith("\r")  # held back above: it may be the first half of this line's \r\n
            if mode is None:
                mode, buf = line_start(buf)
            if mode == "skip":
                buf = "\r" if held_cr else ""
            elif mode == "data":
                buf = _SPACE.sub(" ", buf)  # a run of white space separates as one space does
                cut = [m for m in _SEP.finditer(buf) if 0 < m.start() and m.end() < len(buf)]
                if cut:
                    _tokens(buf[:cut[-1].start()].strip(), f"{source}, line {lineno}", out)
                    buf = buf[cut[-1].end():]
                if len(buf) > MAX_NUMBER_CHARS:
                    raise InputError(f"{source}, line {lineno}: a token of over {len(buf):,} characters "
                                     f"({_shown(buf)}); no number is longer than {MAX_NUMBER_CHARS}")
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
    (1979) rather than from raw sums of squares, which lose every digit when the means are large.

    Each column is held in units of a power of two, ``2**exp[j]`` (near the column's largest magnitude), so that
    squares of values near 1e200 do not overflow and those of values near 1e-300 do not underflow; scaling by a
    power of two is exact, and merging brings two partitions to the larger unit. The means are kept in two parts
    (``unit_mean + unit_mean_lo``), so that a mean far from zero (1e6 with a spread of 1) keeps the digits that the
    merge's differences of means need."""

    n: int
    unit_mean: NDArray[np.float64]  # the column means in units of 2**exp
    unit_cross: NDArray[np.float64]  # the centred cross-products in units of 2**exp[i] 2**exp[j]
    exp: NDArray[np.int64]
    unit_mean_lo: NDArray[np.float64] | None = None  # the means' rounding error, in units of 2**exp

    @classmethod
    def of(cls, z: NDArray[np.float64]) -> Moments:
        """The moments of the rows of ``z`` (n x k)."""
        if not len(z):
            k = z.shape[1]
            return cls(n=0, unit_mean=np.zeros(k), unit_cross=np.zeros((k, k)), exp=np.zeros(k, dtype=np.int64))
        exp = np.frexp(np.max(np.abs(z), axis=0))[1].astype(np.int64)
        zs = np.ldexp(z, -exp)
        m = zs.mean(axis=0)
        d = zs - m
        lo = d.mean(axis=0)
        d -= lo
        return cls(n=len(z), unit_mean=m, unit_cross=d.T @ d, exp=exp, unit_mean_lo=lo)

    def _lo(self) -> NDArray[np.float64]:
        return np.zeros_like(self.unit_mean) if self.unit_mean_lo is None else self.unit_mean_lo

    @property
    def mean(self) -> NDArray[np.float64]:
        """The column means."""
        return np.ldexp(self.unit_mean + self._lo(), self.exp)

    @property
    def cross(self) -> NDArray[np.float64]:
        """``sum (z - mean)(z - mean)^T`` (+-inf where beyond float64's range)."""
        with np.errstate(over="ignore"):
            return np.ldexp(np.ldexp(self.unit_cross, self.exp[:, None]), self.exp[None, :])

    def _in(self, exp: NDArray[np.int64]):
        """``(mean, mean_lo, cross)`` in units of ``2**exp`` (``exp >=`` this one's, element by element)."""
        shift = self.exp - exp
        with np.errstate(under="ignore"):
            return (np.ldexp(self.unit_mean, shift), np.ldexp(self._lo(), shift),
                    np.ldexp(np.ldexp(self.unit_cross, shift[:, None]), shift[None, :]))

    def merge(self, other: Moments) -> Moments:
        """The moments of both tables together."""
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        exp = np.maximum(self.exp, other.exp)
        (m1, l1, c1), (m2, l2, c2) = self._in(exp), other._in(exp)
        n = self.n + other.n
        delta = (m2 - m1) + (l2 - l1)
        step = delta * (other.n / n)
        mean = m1 + step
        back = mean - m1  # Knuth's two-sum: m1 + step = mean + err exactly
        err = (m1 - (mean - back)) + (step - back)
        return Moments(n=n, unit_mean=mean, unit_cross=c1 + c2 + np.outer(delta, delta) * (self.n * other.n / n),
                       exp=exp, unit_mean_lo=l1 + err)

    def means(self, target: int, standardize: bool = False) -> tuple[NDArray[np.float64], float]:
        """The column means of X and the mean of y (column ``target``); zeros and 0 for standardised data."""
        xs = [j for j in range(self.unit_mean.shape[0]) if j != target]
        if standardize:
            return np.zeros(len(xs)), 0.0
        m = self.mean
        return m[xs], float(m[target])

    def regression(self, target: int, standardize: bool = False, center: bool = False,
                   names: list[str] | None = None):
        """``(X^T X, X^T y, y^T y, n)`` with column ``target`` as y; with ``center``, of X and y centred (the
        statistics an intercept with a flat prior needs); with ``standardize``, for the columns of X centred and
        scaled to unit (population) sd and y centred."""
        k = self.unit_mean.shape[0]
        xs = [j for j in range(k) if j != target]
        C, m, e = self.unit_cross, self.unit_mean + self._lo(), self.exp
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if standardize:
                sd = np.sqrt(np.diag(C)[xs] / self.n)  # in the columns' own units: the ratio is scale-free
                flat = sd <= CONSTANT_TOL * np.maximum(np.abs(m[xs]), 2.0 ** -60)
                if np.any(flat):
                    j = xs[int(np.argmax(flat))]
                    raise InputError(f"column {names[j] if names else j!r} is constant, so it cannot be standardised",
                                     param="standardize")
                out = (C[np.ix_(xs, xs)] / np.outer(sd, sd), np.ldexp(C[xs, target] / sd, e[target]),
                       float(np.ldexp(C[target, target], 2 * e[target])), self.n)
            else:
                raw = C if center else C + self.n * np.outer(m, m)
                out = (np.ldexp(np.ldexp(raw[np.ix_(xs, xs)], e[xs][:, None]), e[xs][None, :]),
                       np.ldexp(raw[xs, target], e[xs] + e[target]),
                       float(np.ldexp(raw[target, target], 2 * e[target])), self.n)
        if not all(np.all(np.isfinite(v)) for v in out[:3]):
            raise InputError("the table's sums of squares are beyond float64's range (about 1.8e308); rescale the "
                             "columns or use --standardize")
        return out


def table_files(paths: str | Sequence[str]) -> list[str]:
    """The files of a table: each item a file name, or, where no file has that name, a glob pattern (so
    ``data[1].csv`` is that file when it exists). Every one must be a regular file."""
    import glob

    items = [paths] if isinstance(paths, str) else list(paths)
    out: list[str] = []
    for item in items:
        if os.path.lexists(item) or not any(ch in item for ch in "*?["):
            out.append(item)
        else:
            out += sorted(glob.glob(item))
    if not out:
        raise InputError(f"no file matches {paths!r}")
    for f in out:
        if not os.path.isfile(f):
            raise InputError(f"{f!r} does not exist" if not os.path.exists(f) else f"{f!r} is not a file")
    return out


_NUMBER_RE2 = "^" + NUMBER.pattern + "$"
_BLOCK_BYTES = 1 << 24  # CSV bytes read at a time: memory is bounded by this, whatever the size of a file


def table_header(path: str, kind: str) -> list[str]:
    """The column names of one file of a table (a CSV header, or a Parquet schema whose columns must all be
    numeric), checked: none empty, none twice."""
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise InputError(f"{path!r} is not a readable Parquet file ({type(exc).__name__})") from None
        index = _pandas_index_columns(schema)
        schema = pa.schema([f for f in schema if f.name not in index])  # a saved pandas index is not data
        for f in schema:
            if not (pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)):
                raise InputError(f"{path!r}: column {f.name!r} holds {f.type}, not numbers (only integer, "
                                 "floating-point and decimal columns are read)")
        names = list(schema.names)
    else:
        names = [h.strip() for h in _raw_header(path)]
    if any(not h for h in names):
        raise InputError(f"{path!r}: column {names.index('') + 1} of the header has no name")
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        raise InputError(f"{path!r}: the header names column {dupes[0]!r} more than once")
    return names


def _raw_header(path: str) -> list[str]:
    """The first non-blank row of a CSV file, as the single-file reader reads it."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for row in csv.reader(fh, strict=True):
                if any(c.strip() for c in row):
                    return row
    except UnicodeDecodeError:
        raise InputError(f"{path!r} is not UTF-8 text") from None
    except csv.Error as exc:
        raise InputError(f"{path!r}: the header is not valid CSV ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path!r} cannot be read: {exc.strerror or exc}") from None
    raise InputError(f"{path!r} has no header row")


def _pandas_index_columns(schema) -> set[str]:
    """The columns that hold a pandas index saved with the table (its ``pandas`` metadata names them)."""
    import json as _json

    meta = (schema.metadata or {}).get(b"pandas")
    try:
        index = _json.loads(meta)["index_columns"] if meta else []
    except (ValueError, KeyError, TypeError):
        return set()
    return {c for c in index if isinstance(c, str)}


@contextmanager
def _csv_reader(path: str, names: list[str]):
    """pyarrow's streaming CSV reader over ``path``, every column read as UTF-8 text (``names``: the header's raw
    names), with its errors as :class:`InputError` naming the file."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    types = {n: pa.string() for n in names}
    try:
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=_BLOCK_BYTES),
                               convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                                   quoted_strings_can_be_null=False,
                                                                   auto_dict_encode=False))
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise _csv_error(path, exc) from None
    if reader.schema.names != names or any(t != pa.string() for t in reader.schema.types):
        reader.close()
        raise InputError(f"{path!r}: the header cannot be read as plain column names")
    try:
        yield reader
    except BmnnError:
        raise
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise _csv_error(path, exc) from None
    finally:
        reader.close()


def _csv_error(path: str, exc: Exception) -> InputError:
    text = " ".join(str(exc).split())
    if "UTF8" in text or "UTF-8" in text:
        return InputError(f"{path!r} is not UTF-8 text")
    m = re.search(r"Expected (\d+) columns, got (\d+)", text)
    if m:
        row = text[m.end():].removeprefix(":").strip()
        return InputError(f"{path!r}: a row has {m[2]} fields, but the header has {m[1]} ({_shown(row)})")
    if "Empty CSV file" in text:
        return InputError(f"{path!r} has no header row")
    return InputError(f"{path!r} cannot be read as CSV ({text[:160]})")


def _same_columns(path: str, kind: str, order: list[str], first: str) -> list[str]:
    """The header of ``path``, which must name the columns ``order`` names (in any order)."""
    names = table_header(path, kind)
    missing, extra = [c for c in order if c not in names], [c for c in names if c not in order]
    if missing or extra:
        raise InputError(f"{path!r} has other columns than {first}: "  # ascii(): look-alike names told apart
                         + "; ".join(([f"missing {', '.join(map(ascii, missing))}"] if missing else [])
                                     + ([f"extra {', '.join(map(ascii, extra))}"] if extra else [])))
    return names


def file_moments(path: str, kind: str, order: list[str]) -> Moments:
    """:class:`Moments` of one file of a table, its columns matched by name to ``order`` (the first file's), read
    block by block (bounded memory) with the same rules as :func:`read_csv_xy`: every cell a plain decimal number
    (:data:`bmnn._checks.NUMBER`) and finite, every row as long as the header, UTF-8 text; rows of blank cells
    skipped."""
    names = _same_columns(path, kind, order, "the first file")
    total = Moments.of(np.empty((0, len(order))))
    if kind == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as pf:
            for batch in pf.iter_batches(batch_size=1 << 16, columns=order):
                total = total.merge(Moments.of(_numeric_block(path, batch, order, 0)))
        return total
    rows = 0
    raw = _raw_header(path)
    with _csv_reader(path, raw) as reader:
        for batch in reader:
            z = _text_block(path, batch, raw, [names.index(c) for c in order], rows)
            rows += batch.num_rows
            total = total.merge(Moments.of(z))
    return total


def _text_block(path: str, batch, raw: list[str], cols: list[int], before: int) -> NDArray[np.float64]:
    """A block of CSV text cells as float64 (columns in the order ``cols``), each cell checked as one number.

    pyarrow's cast from text accepts exactly the plain decimal numbers of :data:`bmnn._checks.NUMBER` among
    tokens with a finite value (it also reads ``nan`` and ``inf``, which are refused as not finite), so it is
    the check; a block it refuses is read again cell by cell to name the first bad one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = [pc.utf8_trim_whitespace(batch.column(j)) for j in range(len(raw))]
    blank = None
    for c in cells:
        empty = pc.equal(pc.utf8_length(c), 0)
        blank = empty if blank is None else pc.and_(blank, empty)
    keep = pc.invert(blank)
    rows = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
    out = np.empty((len(rows), len(cols)))
    for i, j in enumerate(cols):
        c = pc.filter(cells[j], keep)
        try:
            v = pc.cast(c, pa.float64()).to_numpy(zero_copy_only=False)
            fine = bool(np.all(np.isfinite(v))) and (pc.max(pc.utf8_length(c)).as_py() or 0) <= MAX_NUMBER_CHARS
        except pa.ArrowInvalid:
            fine = False
        if not fine:  # parse_number states what is wrong with the first bad cell
            ok = pc.and_(pc.less_equal(pc.utf8_length(c), MAX_NUMBER_CHARS),
                         pc.match_substring_regex(c, _NUMBER_RE2))
            v = pc.cast(pc.if_else(ok, c, "0"), pa.float64()).to_numpy(zero_copy_only=False)
            good = ok.to_numpy(zero_copy_only=False) & np.isfinite(v)
            bad = int(np.argmin(good))
            parse_number(c[bad].as_py(), f"{path}, data row {before + rows[bad] + 1}, column {raw[j].strip()!r}")
        out[:, i] = v
    return out


def _numeric_block(path: str, batch, order: list[str], before: int) -> NDArray[np.float64]:
    out = np.empty((batch.num_rows, len(order)))
    for i, name in enumerate(order):
        col = batch.column(name)
        if col.null_count:
            raise InputError(f"{path!r}: column {name!r} has empty cells")
        v = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise InputError(f"{path!r}: column {name!r} holds NaN or infinite values")
        out[:, i] = v
    return out


def table_moments(paths: str | Sequence[str], target: str, kind: str = "csv", client=None):
    """:class:`Moments` of CSV or Parquet files (a glob, a file name, or a list) with a header, file by file and
    block by block (memory bounded by the block size, whatever the number of rows); returns ``(moments, names,
    t)`` with the first file's column names and the target's index. Every file's columns are matched to the
    first's by name (their order may differ; a missing, extra or renamed column is refused naming the file). With
    ``client`` (Dask), each file is a task; the merge runs in file order, so the answer does not depend on the
    workers."""
    files = table_files(paths)
    names = table_header(files[0], kind)
    if target not in names:
        raise InputError(f"target column {target!r} is not among the columns {', '.join(names)}", param="target")
    if len(names) < 2:
        raise InputError("the table needs at least one feature column besides the target")
    for f in files[1:]:  # every header checked before any data is read
        _same_columns(f, kind, names, repr(files[0]))
    if client is not None:
        from bmnn import cluster

        parts = cluster.map_ordered(client, file_moments, files, kind=kind, order=names)
    else:  # pyarrow reads and converts without the GIL: the files share the cores
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, min(len(files), os.cpu_count() or 1))) as pool:
            parts = list(pool.map(lambda f: file_moments(f, kind, names), files))
    moments = parts[0]
    for part in parts[1:]:
        moments = moments.merge(part)
    if moments.n == 0:
        raise InputError("the files hold no data rows")
    return moments, names, names.index(target)


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
    are kept; a file of that name that is not the published one is refused, never replaced. Returns ``dest``."""
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    dest = writable_folder(dest or Path.home() / ".cache" / "bmnn" / "fashion-mnist", "destination folder")
    for name, digest in (hashes or FASHION_MNIST).items():
        target = dest / f"{name}.gz"
        if os.path.lexists(target):
            try:
                read_idx(target, digest)
                continue
            except DataFileError:  # bmnn writes whole, verified files only: this one is someone else's
                raise DataFileError(f"{target} exists but is not the published file, so it was not written by bmnn; "
                                    "it is left alone: move it away, or fetch into another folder") from None
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
