r"""Fast CSV reading with exact line numbers and row-level error handling.

The parse is pyarrow's (C++, multi-threaded on the fast path); Python only ever loops over
*distinct* text values or over bad rows. Every row keeps the 1-based physical line it came from,
so a reader can name it in an ``InputError`` or in the ``uid`` column.

Rules:

- numeric columns are read as ``float64``; ``NaN`` and empty cells are null, ``Infinity`` is
  turned into null (counted in a debug log line);
- text columns are read as bytes, checked to be UTF-8 without control characters, and stripped
  of surrounding spaces; columns named in ``CsvLayout.cp1252`` may instead decode as cp1252
  (the CIC-IDS2017 ``Web Attack \x96 Brute Force`` label quirk);
- a row with the wrong number of cells, a cell that is not a number in a numeric column, or a
  text cell that is not text raises ``InputError`` at the first such line, or with
  ``skip_bad=True`` is dropped and counted in the ``SkipLog``.

Examples
--------
>>> layout = CsvLayout(names=("n", "name"), header=True, numeric=("n",), text=("name",))
>>> rows = read_rows(Path("demo.csv"), b"n,name\n1, a \n2,b\n", layout)
>>> rows.table.to_pydict(), rows.lines.tolist()
({'n': [1.0, 2.0], 'name': ['a', 'b']}, [2, 3])
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from swarmguard.errors import InputError, SkipLog

__all__ = ["CsvLayout", "CsvRows", "first_line", "read_bytes", "read_rows"]

_log = logging.getLogger(__name__)

_BOM = b"\xef\xbb\xbf"
_NULLS = ["", " ", "NaN", "nan", "-nan", "-NaN", "NA", "N/A", "n/a", "null", "NULL"]
_NUMBER = r"(?i)^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$|^\s*[+-]?(inf|infinity|nan)\s*$"
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f]"
_SNIFF = 1 << 16
_CHUNK = 1 << 24


@dataclass(frozen=True)
class CsvLayout:
    """How to read one kind of CSV file.

    Parameters
    ----------
    names
        One unique name per cell of a row, in file order.
    header
        Whether the first non-empty line is a header to skip.
    numeric
        Columns parsed as numbers (``float64``).
    text
        Columns decoded as text; every other column is not read at all.
    cp1252
        Text columns that may fall back to cp1252 when a value is not UTF-8.
    """

    names: tuple[str, ...]
    header: bool
    numeric: tuple[str, ...]
    text: tuple[str, ...]
    cp1252: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsvRows:
    """Rows read from one file: the table, each row's physical line, and how many were skipped."""

    table: pa.Table
    lines: npt.NDArray[np.int64]
    skipped: int = 0


@dataclass
class _Problems:
    """Bad rows found so far: line -> reason (the first reason per line wins)."""

    by_line: dict[int, str] = field(default_factory=dict)

    def add(self, line: int, reason: str) -> None:
        self.by_line.setdefault(line, reason)


def read_bytes(path: Path, done: int = 0, progress: Callable[[int], None] | None = None) -> bytes:
    """Read a whole file, reporting ``done + bytes read so far`` to ``progress``.

    Raises
    ------
    InputError
        If the file cannot be opened or read.
    """
    chunks: list[bytes] = []
    total = done
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                chunks.append(chunk)
                total += len(chunk)
                if progress is not None:
                    progress(total)
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc
    return b"".join(chunks)


def first_line(path: Path, data: bytes) -> tuple[int, str, int]:
    r"""Return ``(line number, text, byte offset after it)`` of the first non-empty line.

    The text has any UTF-8 byte order mark removed. Raises ``InputError`` for an empty file,
    binary data (a NUL byte near the start) or a first line that is not text.

    Examples
    --------
    >>> first_line(Path("x.csv"), b"\n\xef\xbb\xbfa,b\r\n1,2\n")
    (2, 'a,b', 9)
    """
    nul = data.find(b"\x00", 0, _SNIFF)
    if nul >= 0:
        line = _line_at(data, nul)
        raise InputError(path, "binary data (NUL byte), not a CSV text file", line=line)
    pos = 0
    line = 1
    n = len(data)
    while pos < n:
        end, nxt = _line_end(data, pos)
        raw = data[pos:end]
        if raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if raw.strip():
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(
                    path, "not a UTF-8 text file (undecodable bytes)", line=line
                ) from None
            if re.search(_CONTROL, text):
                raise InputError(path, "binary data (control characters)", line=line)
            return line, text.strip(), nxt
        pos = nxt
        line += 1
    raise InputError(path, "empty file", line=1)


def read_rows(
    path: Path,
    data: bytes,
    layout: CsvLayout,
    *,
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
) -> CsvRows:
    """Parse ``data`` (the bytes of ``path``) with ``layout``.

    Raises
    ------
    InputError
        For the first bad line, unless ``skip_bad`` is true; then bad rows are counted in
        ``skip_log`` and ``CsvRows.skipped``.
    """
    line0, _, start = first_line(path, data)
    if layout.header:
        base = line0
    else:
        base, start = line0 - 1, _offset_of_line(data, line0)
    body = pa.py_buffer(data).slice(start)
    latin1 = not _is_utf8(body)
    if latin1:
        # pyarrow hands invalid rows to Python as UTF-8 text; make every byte valid UTF-8
        # (latin-1 is one code point per byte, so lines and cells stay where they were) and
        # recover the original bytes of text cells in _decode_text.
        body = pa.py_buffer(data[start:].decode("latin-1").encode("utf-8"))

    nonempty = _nonempty_lines(data, start, base)
    if len(nonempty) == 0:
        raise InputError(path, "no data rows after the header", line=base + 1)

    invalid: list[tuple[int | None, int, int]] = []
    try:
        table = _parse(body, layout, invalid, threads=True, typed=True)
        if table is None or any(num is None for num, _, _ in invalid):
            invalid.clear()
            table = _parse(body, layout, invalid, threads=False, typed=True)
        typed = table is not None
        if table is None:
            invalid.clear()
            table = _parse(body, layout, invalid, threads=False, typed=False)
            assert table is not None
    except pa.ArrowInvalid as exc:
        found = re.search(r"Row #(\d+)", str(exc))
        row = int(found.group(1)) if found else 1
        line = int(nonempty[min(row, len(nonempty)) - 1])
        raise InputError(path, f"cannot parse CSV: {exc}", line=line) from exc
    invalid_nums = sorted({num for num, _, _ in invalid if num is not None})
    if table.num_rows + len(invalid_nums) != len(nonempty):
        line = _first_quote_line(data, start, base)
        raise InputError(path, "a quoted value spans several lines (not supported)", line=line)
    problems = _Problems()
    keep_mask = np.ones(len(nonempty), dtype=np.bool_)
    for num, expected, actual in invalid:
        assert num is not None
        line = int(nonempty[num - 1])
        keep_mask[num - 1] = False
        problems.add(line, f"wrong number of columns: {actual}, expected {expected}")
    lines = nonempty[keep_mask]

    bad = np.zeros(table.num_rows, dtype=np.bool_)
    columns: dict[str, pa.ChunkedArray] = {}
    for name in layout.names:
        if name not in layout.numeric and name not in layout.text:
            continue
        col = table.column(name)
        if name in layout.numeric:
            col = col if typed else _check_numbers(name, col, lines, bad, problems)
        else:
            col = _decode_text(name, col, lines, bad, problems, name in layout.cp1252, latin1)
        columns[name] = col

    if problems.by_line and not skip_bad:
        line = min(problems.by_line)
        raise InputError(path, problems.by_line[line], line=line)
    for line, reason in sorted(problems.by_line.items()):
        if skip_log is not None:
            skip_log.add(path, line, reason)
        _log.debug("%s:%d: skipped: %s", path.name, line, reason)

    out = pa.table(columns) if columns else pa.table({"_": pa.nulls(table.num_rows)})
    if bad.any():
        keep = pa.array(~bad)
        out = out.filter(keep)
        lines = lines[~bad]
    out = _finish_numbers(path, out, layout)
    if not columns:
        out = out.drop_columns(["_"])
    return CsvRows(table=out, lines=lines.astype(np.int64), skipped=len(problems.by_line))


def _parse(
    body: pa.Buffer,
    layout: CsvLayout,
    invalid: list[tuple[int | None, int, int]],
    *,
    threads: bool,
    typed: bool,
) -> pa.Table | None:
    """Run pyarrow's parser; None when a typed numeric conversion failed."""

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    types: dict[str, pa.DataType] = {name: pa.binary() for name in layout.text}
    for name in layout.numeric:
        types[name] = pa.float64() if typed else pa.binary()
    try:
        return pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(
                column_names=list(layout.names), use_threads=threads, block_size=1 << 22
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=[n for n in layout.names if n in types],
                null_values=_NULLS,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if typed and "conversion error" in str(exc):
            return None
        raise


def _is_utf8(body: pa.Buffer) -> bool:
    """Whether a buffer is valid UTF-8 (checked in C, no copy)."""
    offsets = pa.py_buffer(np.array([0, body.size], dtype=np.int64).tobytes())
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, body]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _check_numbers(
    name: str,
    col: pa.ChunkedArray,
    lines: npt.NDArray[np.int64],
    bad: npt.NDArray[np.bool_],
    problems: _Problems,
) -> pa.ChunkedArray:
    """Validate a numeric column read as bytes; mark bad rows; return it as float64."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    is_null = pc.is_in(col, value_set=pa.array([n.encode() for n in _NULLS], pa.binary()))
    ok = pc.or_(pc.match_substring_regex(col, _NUMBER), is_null)
    wrong = ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=np.bool_)
    for i in np.flatnonzero(wrong)[:1000]:
        value = col[int(i)].as_py()
        shown = value[:40].decode("utf-8", "replace") if isinstance(value, bytes) else value
        problems.add(int(lines[i]), f"column {name!r}: not a number: {shown!r}")
    if wrong.any():
        for i in np.flatnonzero(wrong)[1000:]:
            problems.add(int(lines[i]), f"column {name!r}: not a number")
    bad |= wrong
    clean = pc.if_else(pc.or_(is_null, pa.array(wrong)), pa.scalar(b"0", pa.binary()), col)
    numbers = pc.cast(pc.utf8_trim_whitespace(pc.cast(clean, pa.string())), pa.float64())
    return pa.chunked_array([pc.if_else(is_null, pa.scalar(None, pa.float64()), numbers)])


def _decode_text(
    name: str,
    col: pa.ChunkedArray,
    lines: npt.NDArray[np.int64],
    bad: npt.NDArray[np.bool_],
    problems: _Problems,
    cp1252: bool,
    latin1: bool,
) -> pa.ChunkedArray:
    """Decode a bytes column to stripped text; mark rows that are not text.

    ``latin1``: the file was transcoded from latin-1 before parsing; undo that first.
    """
    if not latin1:
        try:
            text = pc.cast(col, pa.string())
            if not pc.any(pc.match_substring_regex(text, _CONTROL)).as_py():
                return pc.utf8_trim_whitespace(text)
        except pa.ArrowInvalid:
            pass
    encoded = pc.dictionary_encode(col).combine_chunks()
    values: list[str | None] = []
    wrong_codes: list[int] = []
    for code, raw in enumerate(encoded.dictionary.to_pylist()):
        if latin1:
            raw = raw.decode("utf-8").encode("latin-1")
        value = _decode_value(raw, cp1252)
        values.append(value)
        if value is None:
            wrong_codes.append(code)
    indices = encoded.indices
    if wrong_codes:
        wrong = np.asarray(
            pc.is_in(indices, value_set=pa.array(wrong_codes, indices.type)).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.bool_,
        )
        for i in np.flatnonzero(wrong):
            problems.add(int(lines[i]), f"column {name!r}: not text (undecodable bytes)")
        bad |= wrong
    dictionary = pa.array([v if v is not None else "" for v in values], pa.string())
    return pa.chunked_array([pc.take(dictionary, indices)])


def _decode_value(raw: bytes, cp1252: bool) -> str | None:
    """Decode one distinct cell: UTF-8, else cp1252 where allowed; None when not text."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        if not cp1252:
            return None
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            return None
        if not text.isprintable():
            return None
    if re.search(_CONTROL, text):
        return None
    return text.strip()


def _finish_numbers(path: Path, table: pa.Table, layout: CsvLayout) -> pa.Table:
    """Turn infinities into nulls (logged at debug level)."""
    for name in layout.numeric:
        col = table.column(name)
        inf = pc.is_inf(col)
        count = pc.sum(inf).as_py() or 0
        if count:
            _log.debug("%s: %d infinite value(s) in %r read as null", path.name, count, name)
            fixed = pc.if_else(inf, pa.scalar(None, pa.float64()), col)
            table = table.set_column(table.schema.get_field_index(name), name, fixed)
    return table


def _line_end(data: bytes, pos: int) -> tuple[int, int]:
    r"""End of the line starting at ``pos`` and the start of the next (``\n``, CRLF or CR)."""
    n_pos = data.find(b"\n", pos)
    r_pos = data.find(b"\r", pos, n_pos if n_pos >= 0 else len(data))
    if r_pos >= 0:
        return r_pos, r_pos + (2 if data[r_pos + 1 : r_pos + 2] == b"\n" else 1)
    if n_pos >= 0:
        return n_pos, n_pos + 1
    return len(data), len(data)


def _line_at(data: bytes, offset: int) -> int:
    """1-based line (pyarrow's rules: LF, CRLF and lone CR end a line) holding ``offset``."""
    head = data[:offset]
    return head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1


def _offset_of_line(data: bytes, line: int) -> int:
    pos = 0
    for _ in range(line - 1):
        pos = _line_end(data, pos)[1]
    return pos


def _nonempty_lines(data: bytes, start: int, base: int) -> npt.NDArray[np.int64]:
    """Physical line numbers of the non-empty lines from ``start``; ``base`` is the line before."""
    n_lf = data.count(b"\n", start)
    n_cr = data.count(b"\r", start)
    simple = data[start : start + 1] not in (b"\n", b"\r") and data.find(b"\n\n", start) < 0
    if simple and n_cr:
        simple = n_cr == data.count(b"\r\n", start) and data.find(b"\r\n\r\n", start) < 0
    if simple:
        total = n_lf + (1 if len(data) > start and not data.endswith(b"\n") else 0)
        return np.arange(base + 1, base + 1 + total, dtype=np.int64)
    a = np.frombuffer(data, dtype=np.uint8)[start:]
    is_lf = a == 10
    is_cr = a == 13
    lf_after_cr = np.zeros_like(is_lf)
    lf_after_cr[1:] = is_lf[1:] & is_cr[:-1]
    # a terminator starts at every CR and at every LF not preceded by CR
    term_start = np.flatnonzero(is_cr | (is_lf & ~lf_after_cr))
    crlf = np.zeros(len(term_start), dtype=np.bool_)
    inside = term_start + 1 < len(a)
    crlf[inside] = is_cr[term_start[inside]] & is_lf[term_start[inside] + 1]
    term_end = term_start + 1 + crlf
    starts = np.concatenate(([0], term_end))
    ends = np.concatenate((term_start, [len(a)]))
    nonempty = ends > starts
    numbers = np.arange(base + 1, base + 1 + len(starts), dtype=np.int64)
    return numbers[nonempty]


def _first_quote_line(data: bytes, start: int, base: int) -> int:
    pos = data.find(b'"', start)
    if pos < 0:
        return base + 1
    return _line_at(data, pos)
