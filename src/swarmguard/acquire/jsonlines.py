"""Reading line-oriented sensor logs: lines, bad-line policy, typed fields, flow columns.

The EVE, Zeek and auth-log readers share one way of walking a file: bytes are read line by
line, decoded as UTF-8, and every line that cannot be used becomes either an ``InputError``
naming the file and line, or (with ``skip_bad``) one count in a ``SkipLog``. Nothing is
dropped silently; blank lines are not records and are passed over.

The helpers here raise ``BadLine`` with a short reason; ``LineSource.bad`` turns it into the
error or the count.

Examples
--------
>>> parse_json_object('{"a": 1}')
{'a': 1}
>>> try:
...     parse_json_object("[1, 2]")
... except BadLine as exc:
...     print(exc)
JSON value is not an object but an array
>>> normalize_ip("2001:0db8:0000:0000:0000:0000:0000:0001")
'2001:db8::1'
>>> community_id(6, "128.232.110.120", "66.35.250.204", 34855, 80)
'1:LQU9qZlK+B5F3KDmev6m5PMibrg='
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import communityid
import pyarrow as pa

from swarmguard.errors import InputError, SkipLog
from swarmguard.records.flow import FLOW_SCHEMA, validate_flow_table

__all__ = [
    "BadLine",
    "FlowColumns",
    "check_same_family",
    "LineSource",
    "PROGRESS_EVERY",
    "community_id",
    "datetime_to_us",
    "get_int",
    "get_str",
    "normalize_ip",
    "parse_iso_us",
    "parse_json_object",
]

logger = logging.getLogger(__name__)

#: ``progress`` callbacks are called with the number of bytes read so far (as the CLI's byte
#: progress bar expects), every this many lines and once at the end of the file.
PROGRESS_EVERY = 10_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_INT64_MAX = 2**63 - 1


class BadLine(Exception):
    """One line of input cannot be turned into a record; the message says why."""


@dataclass
class LineSource:
    """The lines of one file, with the reader's bad-line policy.

    Parameters
    ----------
    path
        The file to read.
    skip_bad
        Count bad lines in ``skip_log`` instead of raising ``InputError``.
    skip_log
        Where skipped lines are counted. When ``skip_bad`` is set and no log is given, the
        count is logged as a warning at the end (still never silent).
    progress
        Called with the number of bytes read so far, every ``PROGRESS_EVERY`` lines and at
        the end.
    """

    path: Path
    skip_bad: bool = False
    skip_log: SkipLog | None = None
    progress: Callable[[int], None] | None = None
    skipped: int = field(default=0, init=False)
    first_reason: str | None = field(default=None, init=False)

    def bad(self, line: int, reason: str) -> None:
        """Raise ``InputError`` for a bad line, or count it when skipping bad lines."""
        if not self.skip_bad:
            raise InputError(self.path, reason, line=line)
        self.skipped += 1
        if self.first_reason is None:
            self.first_reason = f"line {line}: {reason}"
        if self.skip_log is not None:
            self.skip_log.add(self.path, line, reason)
        logger.debug("%s:%d: skipped: %s", self.path, line, reason)

    def lines(self) -> Iterator[tuple[int, str]]:
        """Yield ``(line_number, text)`` for each non-blank, decodable line (1-based).

        Raises
        ------
        InputError
            If the file cannot be opened, has no non-blank line ("empty file"), or (without
            ``skip_bad``) a line is not valid UTF-8.
        """
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise InputError(self.path, f"cannot open: {exc.strerror or exc}") from exc
        content = False
        done = 0
        with handle:
            for number, raw in enumerate(handle, 1):
                done += len(raw)
                if self.progress is not None and number % PROGRESS_EVERY == 0:
                    self.progress(done)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    content = True
                    self.bad(number, f"not valid UTF-8 (byte {exc.start} of the line)")
                    continue
                text = text.rstrip("\r\n")
                if number == 1:
                    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark
                if not text.strip():
                    continue
                content = True
                yield number, text
        if self.progress is not None:
            self.progress(done)
        if not content:
            raise InputError(self.path, "empty file")

    def finish(self) -> None:
        """Report skipped lines when the caller gave no ``SkipLog`` to count them in."""
        if self.skipped and self.skip_log is None:
            logger.warning(
                "%s: skipped %d bad line(s), first at %s",
                self.path,
                self.skipped,
                self.first_reason,
            )


def parse_json_object(text: str) -> dict[str, Any]:
    """Parse one line of JSON that must be an object.

    Raises
    ------
    BadLine
        If the text is not JSON or not an object.
    """
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadLine(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise BadLine("invalid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
        if value is None:
            kind = "null"
        raise BadLine(f"JSON value is not an object but {kind}")
    return value


def get_str(obj: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    """Return ``obj[key]`` as a string; ``None`` when absent and not required.

    Examples
    --------
    >>> get_str({"proto": "TCP"}, "proto")
    'TCP'
    >>> get_str({}, "app_proto", required=False) is None
    True
    """
    value = obj.get(key)
    if value is None:
        if required:
            raise BadLine(f"missing field {key!r}")
        return None
    if not isinstance(value, str):
        raise BadLine(f"field {key!r} is not a string: {value!r:.40}")
    return value


def get_int(
    obj: Mapping[str, Any],
    key: str,
    *,
    required: bool = True,
    lo: int = 0,
    hi: int = _INT64_MAX,
) -> int | None:
    """Return ``obj[key]`` as an integer in ``[lo, hi]``; ``None`` when absent, not required.

    Examples
    --------
    >>> get_int({"src_port": 443}, "src_port", hi=65535)
    443
    """
    value = obj.get(key)
    if value is None:
        if required:
            raise BadLine(f"missing field {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadLine(f"field {key!r} is not an integer: {value!r:.40}")
    if not lo <= value <= hi:
        raise BadLine(f"field {key!r} out of range [{lo}, {hi}]: {value}")
    return value


def normalize_ip(value: object, key: str = "address") -> str:
    """Return an IP address in its canonical short form (Suricata writes IPv6 in full).

    Raises
    ------
    BadLine
        If the value is not an IPv4 or IPv6 address.
    """
    if not isinstance(value, str):
        raise BadLine(f"field {key!r} is not an address: {value!r:.40}")
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        raise BadLine(f"field {key!r} is not an IP address: {value!r:.60}") from None


def check_same_family(src_ip: str, dest_ip: str) -> None:
    """Raise ``BadLine`` unless both (normalised) addresses are IPv4 or both IPv6."""
    if (":" in src_ip) != (":" in dest_ip):
        raise BadLine("source and destination addresses are of different IP versions")


def datetime_to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _US


def parse_iso_us(value: object, key: str) -> tuple[datetime, int]:
    """Parse an ISO 8601 time (``2017-07-07T12:59:00.123456+0000``): UTC datetime and µs.

    A time without an offset is taken as UTC.

    Examples
    --------
    >>> parse_iso_us("1970-01-01T01:00:00.5+0100", "ts")[1]
    500000
    """
    if not isinstance(value, str):
        raise BadLine(f"field {key!r} is not a time string: {value!r:.40}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadLine(f"field {key!r} is not an ISO 8601 time: {value!r:.60}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise BadLine(f"field {key!r} is out of range: {value!r:.60}") from None
    return parsed, datetime_to_us(parsed)


_CID = communityid.CommunityID()
_PORT_MAKERS = {
    6: communityid.FlowTuple.make_tcp,
    17: communityid.FlowTuple.make_udp,
    132: communityid.FlowTuple.make_sctp,
    1: communityid.FlowTuple.make_icmp,
    58: communityid.FlowTuple.make_icmp6,
}


def community_id(ip_proto: int, src_ip: str, dest_ip: str, src_port: int, dest_port: int) -> str:
    """Community ID v1 (seed 0, base64) of a flow, via the ``communityid`` package.

    For ICMP and ICMPv6 pass the type as ``src_port`` and the code as ``dest_port``.

    Raises
    ------
    BadLine
        If the tuple is inconsistent (e.g. an IPv4 and an IPv6 address).
    """
    if (":" in src_ip) != (":" in dest_ip):
        raise BadLine("cannot compute community id: src and dest are of different IP versions")
    try:
        maker = _PORT_MAKERS.get(ip_proto)
        if maker is not None:
            tpl = maker(src_ip, dest_ip, src_port, dest_port)
        else:
            tpl = communityid.FlowTuple.make_ip(src_ip, dest_ip, ip_proto)
        result = _CID.calc(tpl)
    except Exception as exc:  # communityid raises its own errors and ValueError, TypeError
        raise BadLine(f"cannot compute community id: {exc}") from None
    if not isinstance(result, str):
        raise BadLine("cannot compute community id")
    return result


class FlowColumns:
    """Build a flow table column-wise: one Python list per populated column.

    Columns not named are filled with nulls; ``sensor_id`` is filled with the given value.

    Examples
    --------
    >>> cols = FlowColumns(["uid"])
    >>> cols.append(("C1",))
    >>> len(cols)
    1
    """

    def __init__(self, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in FLOW_SCHEMA.names]
        if unknown:
            raise ValueError(f"not flow schema columns: {unknown}")
        self.names = tuple(names)
        self._rows: list[Sequence[object]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def append(self, row: Sequence[object]) -> None:
        """Add one complete row; values in the order of ``names``."""
        if len(row) != len(self.names):
            raise ValueError(f"row has {len(row)} values, expected {len(self.names)}")
        self._rows.append(row)

    def to_table(self, sensor_id: str) -> pa.Table:
        """Return the rows as a table with ``FLOW_SCHEMA`` (validated)."""
        n = len(self._rows)
        columns = dict(zip(self.names, zip(*self._rows, strict=True), strict=True)) if n else {}
        arrays = []
        for fld in FLOW_SCHEMA:
            if fld.name in columns:
                arrays.append(pa.array(list(columns[fld.name]), type=fld.type))
            elif fld.name == "sensor_id":
                arrays.append(pa.array([sensor_id] * n, type=fld.type))
            elif fld.name in self.names:
                arrays.append(pa.array([], type=fld.type))
            else:
                arrays.append(pa.nulls(n, type=fld.type))
        return validate_flow_table(pa.Table.from_arrays(arrays, schema=FLOW_SCHEMA))
