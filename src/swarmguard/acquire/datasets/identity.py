"""Columns every dataset reader builds the same way: uid, timestamps, ports, protocol names.

Identity columns are parsed leniently: a value that does not parse becomes null (counted in a
debug log line), never an error, because they are not features.

Examples
--------
>>> import numpy as np
>>> uid_column("a.csv", np.array([2, 3])).to_pylist()
['a.csv:2', 'a.csv:3']
>>> ports(pa.array(["80", "0x0050", "-", " 443 "])).to_pylist()
[80, 80, None, 443]
>>> proto_from_number(pa.array([6.0, 17.0, 1.0, 0.0])).to_pylist()
['TCP', 'UDP', 'ICMP', None]
"""

from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "TS_TYPE",
    "epoch_timestamps",
    "ports",
    "proto_from_name",
    "proto_from_number",
    "text_timestamps",
    "uid_column",
]

_log = logging.getLogger(__name__)

TS_TYPE = pa.timestamp("us", tz="UTC")

_ISO_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M")
_DAY_FIRST_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %I:%M:%S %p")

_PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "IPv6-ICMP"}


def uid_column(file_name: str, lines: npt.NDArray[np.int64]) -> pa.Array:
    """``<file name>:<line>`` for each row."""
    text = pa.array(lines, pa.int64()).cast(pa.string())
    return pc.binary_join_element_wise(file_name, text, ":")


def text_timestamps(
    source: str, values: pa.Array | pa.ChunkedArray, *, day_first_offset_h: float = 0.0
) -> pa.Array:
    """Parse text timestamps (ISO, or day-first ``d/m/Y H:M[:S]``) into UTC microseconds.

    ``day_first_offset_h`` is the UTC offset of the day-first (local time) forms: the original
    CIC-IDS2017 files are in New Brunswick summer time, -3.

    Examples
    --------
    >>> text_timestamps("x", pa.array(["2017-07-07 12:59:21.5", "7/7/2017 8:59", "?"]),
    ...                 day_first_offset_h=-3).to_pylist()[1].isoformat()
    '2017-07-07T11:59:00+00:00'
    """
    series = pl.Series("ts", values)
    if series.dtype != pl.String:
        series = series.cast(pl.String)
    out = pl.Series("ts", [None] * len(series), dtype=pl.Datetime("us", "UTC"))
    shift = timedelta(hours=-day_first_offset_h)
    for fmts, delta in ((_ISO_FORMATS, timedelta(0)), (_DAY_FIRST_FORMATS, shift)):
        for fmt in fmts:
            if out.null_count() == 0:
                break
            parsed = series.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
            out = out.fill_null(parsed + delta)
    _count_unparsed(source, series, out)
    return out.to_arrow().cast(TS_TYPE)


def epoch_timestamps(source: str, seconds: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Unix seconds (as numbers) to UTC microsecond timestamps; non-finite values to null."""
    arr = pc.cast(seconds, pa.float64())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    ok = np.isfinite(values) & (np.abs(values) < 1e11)
    micros = np.where(ok, np.nan_to_num(values) * 1e6, 0).astype(np.int64)
    valid = pa.array(ok)
    result = pc.if_else(valid, pa.array(micros, pa.int64()).cast(TS_TYPE), None)
    bad = int(len(values) - ok.sum() - arr.null_count)
    if bad:
        _log.debug("%s: %d timestamp(s) could not be parsed, set to null", source, bad)
    return result


def _count_unparsed(source: str, raw: pl.Series, parsed: pl.Series) -> None:
    missing = int((parsed.is_null() & raw.is_not_null() & (raw != "")).sum())
    if missing:
        _log.debug("%s: %d timestamp(s) could not be parsed, set to null", source, missing)


def ports(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Port numbers from text (decimal or ``0x`` hex as in UNSW-NB15) or numbers; else null."""
    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        arr = pc.cast(values, pa.float64())
        ok = pc.and_(pc.is_finite(arr), pc.and_(pc.greater_equal(arr, 0), pc.less(arr, 65536)))
        return pc.cast(pc.if_else(ok, arr, None), pa.int32())
    series = pl.Series("p", values).cast(pl.String).str.strip_chars()
    decimal = series.cast(pl.Int64, strict=False)
    is_hex = series.str.starts_with("0x") | series.str.starts_with("0X")
    hexa = series.str.slice(2).str.to_integer(base=16, strict=False)
    number = pl.select(pl.when(is_hex).then(hexa).otherwise(decimal)).to_series()
    number = number.set((number < 0) | (number > 65535), None)
    return number.cast(pl.Int32).to_arrow()


def proto_from_number(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """EVE protocol names (``TCP``, ``UDP``, ``ICMP``, ``IPv6-ICMP``) from IANA numbers."""
    arr = pc.cast(values, pa.float64())
    keys = pa.array(list(_PROTO_NAMES), pa.float64())
    idx = pc.index_in(arr, value_set=keys)
    return pc.take(pa.array(list(_PROTO_NAMES.values()), pa.string()), idx)


def proto_from_name(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """EVE protocol names from dataset names (``tcp``, ``udp``, ``icmp``); others null."""
    lower = pc.utf8_lower(values)
    keys = pa.array(["tcp", "udp", "icmp", "ipv6-icmp"], pa.string())
    idx = pc.index_in(lower, value_set=keys)
    return pc.take(pa.array(["TCP", "UDP", "ICMP", "IPv6-ICMP"], pa.string()), idx)
