"""Time-ordered windows of flows per host: the sequences the LSTM detector reads.

For every row, its window is the same host's previous ``length - 1`` flows in time order, ending
with the row itself. The host is the flow's source address (``src_ip``); time is ``ts``. Windows
are returned as row indices into the table, padded on the left with ``-1`` where a host has fewer
earlier flows (or, with ``horizon_s``, fewer flows recent enough). Only rows passed in are used:
scoring a batch looks back over that batch, as an agent looks back over the traffic it has seen.

Rows without a host or a timestamp (a null ``src_ip`` or ``ts``), and tables that have no such
columns at all (NSL-KDD, the UNSW-NB15 partition files), get a window of one: the row alone.
``has_host_context`` tells which case a table is in. Ties in ``ts`` keep file order.

Examples
--------
>>> import pyarrow as pa
>>> from datetime import datetime, UTC
>>> from swarmguard.records.dataset import LabeledTable
>>> ts = [datetime(2017, 7, 7, 12, 0, s, tzinfo=UTC) for s in (3, 1, 2, 0)]
>>> t = pa.table({"uid": list("abcd"), "x": [1.0, 2.0, 3.0, 4.0], "ts": ts,
...               "src_ip": ["10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.1"],
...               "label": ["benign"] * 4, "label_original": ["n"] * 4})
>>> rows = LabeledTable(t, "demo", ("x",), ())
>>> host_windows(rows, 3).tolist()
[[3, 1, 0], [-1, 3, 1], [-1, -1, 2], [-1, -1, 3]]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from swarmguard.records.dataset import LabeledTable

__all__ = ["has_host_context", "host_codes", "host_windows", "timestamps_us"]

IntMatrix = npt.NDArray[np.int64]


def has_host_context(rows: LabeledTable, host_column: str = "src_ip") -> bool:
    """True when the table has both a timestamp and a host column to build windows from.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"uid": ["a"], "label": ["benign"], "label_original": ["n"]})
    >>> has_host_context(LabeledTable(t, "demo", (), ()))
    False
    """
    names = rows.table.column_names
    return "ts" in names and host_column in names


def timestamps_us(rows: LabeledTable) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Microseconds since the epoch of ``ts`` per row, and a mask of rows that have one.

    A timestamp column is read as such; a numeric ``ts`` is taken as seconds.
    """
    n = rows.num_rows
    if "ts" not in rows.table.column_names:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
    col = rows.table.column("ts")
    valid = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=np.bool_)
    if pa.types.is_timestamp(col.type):
        us = pc.cast(pc.cast(col, pa.timestamp("us", tz=col.type.tz)), pa.int64())
        values = pc.fill_null(us, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        seconds = pc.fill_null(pc.cast(col, pa.float64()), 0.0).to_numpy(zero_copy_only=False)
        finite = np.isfinite(seconds)
        valid &= finite
        values = np.where(finite, seconds * 1e6, 0.0).astype(np.int64)
    return values, valid


def host_codes(rows: LabeledTable, column: str) -> tuple[npt.NDArray[np.int64], int]:
    """Integer code per row for the address in ``column`` (-1 where null), and how many codes.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"uid": list("abc"), "ip": ["b", None, "b"], "label": ["benign"] * 3,
    ...               "label_original": ["n"] * 3})
    >>> codes, n = host_codes(LabeledTable(t, "demo", (), ()), "ip")
    >>> codes.tolist(), n
    ([0, -1, 0], 1)
    """
    if column not in rows.table.column_names:
        return np.full(rows.num_rows, -1, dtype=np.int64), 0
    encoded = pc.dictionary_encode(pc.cast(rows.table.column(column), pa.string()))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return indices, len(encoded.dictionary)


def host_windows(
    rows: LabeledTable,
    length: int,
    *,
    host_column: str = "src_ip",
    horizon_s: float | None = None,
) -> IntMatrix:
    """Row indices of each row's window, shape ``(rows, length)``; ``-1`` pads on the left.

    Parameters
    ----------
    rows
        The rows; ``ts`` and ``host_column`` are read when present.
    length
        Window length, the row itself included (``length >= 1``).
    host_column
        The address column that names the host (``src_ip``: what that host sent).
    horizon_s
        Only flows at most this many seconds before the row join its window (``None``: any).
    """
    if length < 1:
        raise ValueError("window length must be at least 1")
    n = rows.num_rows
    out = np.full((n, length), -1, dtype=np.int64)
    out[:, -1] = np.arange(n, dtype=np.int64)
    if n == 0 or length == 1 or not has_host_context(rows, host_column):
        return out
    ts, ts_ok = timestamps_us(rows)
    host, _ = host_codes(rows, host_column)
    ok = ts_ok & (host >= 0)
    # Rows without a host or time each get a group of their own (a window of one).
    host = np.where(ok, host, -1 - np.arange(n, dtype=np.int64))
    order = np.lexsort((np.arange(n), ts, host))
    host_sorted = host[order]
    ts_sorted = ts[order]
    windows_sorted = np.full((n, length), -1, dtype=np.int64)
    windows_sorted[:, -1] = order
    horizon_us = None if horizon_s is None else int(horizon_s * 1e6)
    for lag in range(1, min(length, n)):
        same = host_sorted[lag:] == host_sorted[:-lag]
        if horizon_us is not None:
            same &= (ts_sorted[lag:] - ts_sorted[:-lag]) <= horizon_us
        target = np.flatnonzero(same) + lag
        windows_sorted[target, length - 1 - lag] = order[target - lag]
    out[order] = windows_sorted
    return out
