r"""Zeek ``conn.log`` (TSV or JSON lines) as a flow table.

Both forms Zeek writes are read; the first non-blank line decides which:

TSV (Zeek's default, ``LogAscii``)
    Header lines ``#separator \x09``, ``#set_separator``, ``#empty_field``, ``#unset_field``,
    ``#path``, ``#open``, ``#fields``, ``#types``, and ``#close`` at the end. A field equal
    to the unset marker (``-``) is null, the empty marker (``(empty)``) is an empty value,
    and ``\xHH`` escapes are decoded. A header may appear again (concatenated logs); each
    ``#fields`` line applies to the lines after it. A ``#path`` other than ``conn`` is an
    error.
JSON lines (``LogAscii::use_json=T``)
    One object per line with flat keys (``"id.orig_h"``); unset fields are absent. ``ts`` is
    epoch seconds or an ISO 8601 string (``JSON::TS_ISO8601``). A nested ``"id": {...}``
    object, as some exporters write, is accepted too.

Column mapping (``FLOW_SCHEMA``):

============================  =============================================================
Zeek                          flow column
============================  =============================================================
ts, uid                       ts, uid
id.orig_h / id.orig_p         src_ip / src_port (ICMP: src_port 0, icmp_type = id.orig_p)
id.resp_h / id.resp_p         dest_ip / dest_port (ICMP: dest_port 0, icmp_code = id.resp_p)
proto tcp/udp/icmp            TCP/UDP/ICMP (IPv6-ICMP for icmp over IPv6); ip_proto
duration                      duration_s (unset, as for one-packet connections: 0.0)
orig_pkts / resp_pkts         pkts_toserver / pkts_toclient
orig_ip_bytes / resp_ip_bytes bytes_toserver / bytes_toclient (IP bytes, see below)
orig_bytes / resp_bytes       payload_bytes_toserver / payload_bytes_toclient
conn_state                    end_reason (``CONN_STATE_END_REASON``)
history                       tcp_flags_toserver / tcp_flags_toclient (``HISTORY_FLAGS``)
community_id                  community_id (computed when the log has none)
vlan                          vlan (when the vlan-logging policy script is loaded)
============================  =============================================================

Bytes: Zeek's ``*_ip_bytes`` count IP packets (IP header and everything above), not frames;
the flow schema counts captured frames, link layer included. On Ethernet each packet is 14
bytes longer on the wire (18 with an 802.1Q tag), so Zeek's ``bytes_*`` are lower than a
pcap meter's by 14 x packets; they are kept as Zeek wrote them. ``orig_bytes``/``resp_bytes``
are payload bytes derived from TCP sequence numbers (they can exceed what was captured when
packets were missed; see ``missed_bytes``).

TCP flags: ``history`` records each kind of event once per direction (upper case:
originator, lower case: responder), so it yields the OR of flags seen (a lower bound) but no
flag counts; the per-flag count columns stay null.

Examples
--------
>>> import tempfile, pathlib
>>> line = ('{"ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"192.168.4.76",'
...         '"id.orig_p":36844,"id.resp_h":"192.168.4.1","id.resp_p":53,"proto":"udp",'
...         '"service":"dns","duration":0.06685185432434082,"orig_bytes":62,"resp_bytes":141,'
...         '"conn_state":"SF","missed_bytes":0,"history":"Dd","orig_pkts":2,'
...         '"orig_ip_bytes":118,"resp_pkts":2,"resp_ip_bytes":197}')
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = pathlib.Path(tmp, "conn.log")
...     _ = path.write_text(line + "\n")
...     table = read_conn_log(path)
>>> row = table.to_pylist()[0]
>>> row["proto"], row["bytes_toserver"], row["payload_bytes_toclient"], row["end_reason"]
('UDP', 118, 141, 'idle')
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from swarmguard.acquire.jsonlines import (
    BadLine,
    FlowColumns,
    LineSource,
    check_same_family,
    community_id,
    normalize_ip,
    parse_iso_us,
    parse_json_object,
)
from swarmguard.errors import SkipLog

__all__ = ["CONN_STATE_END_REASON", "HISTORY_FLAGS", "read_conn_log"]

logger = logging.getLogger(__name__)

#: ``end_reason`` for TCP connections by Zeek ``conn_state``. Non-TCP connections (UDP,
#: ICMP) end by inactivity, so they are always ``"idle"``; an unset or unknown state too.
CONN_STATE_END_REASON: dict[str, str] = {
    "SF": "fin",  # normal establishment and termination
    "S2": "fin",  # established, close attempt by originator (no reply)
    "S3": "fin",  # established, close attempt by responder (no reply)
    "SH": "fin",  # originator sent SYN then FIN, no SYN-ACK
    "SHR": "fin",  # responder sent SYN-ACK then FIN, no SYN seen
    "REJ": "rst",  # connection attempt rejected
    "RSTO": "rst",  # established, originator aborted with RST
    "RSTR": "rst",  # responder sent RST
    "RSTOS0": "rst",  # originator sent SYN then RST, no SYN-ACK
    "RSTRH": "rst",  # responder sent SYN-ACK then RST, no SYN seen
    "S0": "idle",  # attempt seen, no reply
    "S1": "idle",  # established, not terminated
    "OTH": "idle",  # no SYN seen, midstream traffic
}

#: TCP flag bits implied by each ``history`` letter (upper case originator, lower case
#: responder): S SYN, H SYN+ACK, A ACK, F FIN, R RST. Other letters (data, gaps,
#: retransmissions, bad checksums, window events, multi-flag ``Q``) imply no single flag.
HISTORY_FLAGS: dict[str, int] = {"s": 0x02, "h": 0x12, "a": 0x10, "f": 0x01, "r": 0x04}

_PROTOS = {"tcp": ("TCP", 6), "udp": ("UDP", 17)}
_REQUIRED = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
)
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_DECIMAL = re.compile(r"(\d{1,12})(?:\.(\d{1,9}))?")

_FLOW_COLUMNS = (
    "ts",
    "uid",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "ip_proto",
    "vlan",
    "community_id",
    "duration_s",
    "end_reason",
    "pkts_toserver",
    "pkts_toclient",
    "bytes_toserver",
    "bytes_toclient",
    "payload_bytes_toserver",
    "payload_bytes_toclient",
    "tcp_flags_toserver",
    "tcp_flags_toclient",
    "icmp_type",
    "icmp_code",
)


def read_conn_log(
    path: Path,
    *,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> pa.Table:
    """Read a Zeek ``conn.log`` in TSV or JSON-lines form into a flow table.

    Parameters
    ----------
    path
        The ``conn.log`` file.
    sensor_id
        Written into every row.
    skip_bad
        Count bad lines in ``skip_log`` instead of raising.
    skip_log
        Where skipped lines are counted.
    progress
        Called with the number of bytes read so far.

    Returns
    -------
    pyarrow.Table
        One row per connection, ``FLOW_SCHEMA``.

    Raises
    ------
    InputError
        On an empty file, or (without ``skip_bad``) a bad line: wrong field count, a data
        line before ``#fields``, invalid JSON, a missing required field, a bad value.
    """
    source = LineSource(Path(path), skip_bad=skip_bad, skip_log=skip_log, progress=progress)
    columns = FlowColumns(_FLOW_COLUMNS)
    tsv = _TsvState()
    mode: str | None = None
    for number, text in source.lines():
        try:
            if mode is None:
                if text.startswith("{"):
                    mode = "json"
                elif text.startswith("#"):
                    mode = "tsv"
                else:
                    raise BadLine("not a Zeek log: expected a '#separator' header or JSON")
            if mode == "json":
                record = _json_record(text)
            elif text.startswith("#"):
                tsv.header(text)
                continue
            else:
                record = tsv.record(text)
            columns.append(_row(record))
        except BadLine as exc:
            source.bad(number, str(exc))
    source.finish()
    return columns.to_table(sensor_id)


@dataclass
class _TsvState:
    """The header values that apply to the following TSV lines."""

    separator: str = "\t"
    unset: str = "-"
    empty: str = "(empty)"
    fields: list[str] | None = None
    path: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def header(self, text: str) -> None:
        if text.startswith("#separator"):
            value = _unescape(text[len("#separator") :].strip(" "))
            if len(value) != 1:
                raise BadLine(f"unsupported #separator {value!r:.20}")
            self.separator = value
            return
        key, _, rest = text.partition(self.separator)
        if key == "#fields":
            self.fields = rest.split(self.separator)
            missing = [name for name in _REQUIRED if name not in self.fields]
            if missing:
                self.fields = None
                raise BadLine(f"#fields lacks required field(s): {', '.join(missing)}")
        elif key == "#unset_field":
            self.unset = _unescape(rest)
        elif key == "#empty_field":
            self.empty = _unescape(rest)
        elif key == "#path":
            if rest != "conn":
                raise BadLine(f"not a conn log: #path is {rest!r:.40}")
            self.path = rest
        else:
            self.extra[key] = rest  # #set_separator, #open, #close, #types: not needed

    def record(self, text: str) -> dict[str, Any]:
        if self.fields is None:
            raise BadLine("data line before a valid #fields header")
        values = text.split(self.separator)
        if len(values) != len(self.fields):
            raise BadLine(f"wrong number of fields: {len(values)}, expected {len(self.fields)}")
        record: dict[str, Any] = {}
        for name, value in zip(self.fields, values, strict=True):
            if value == self.unset:
                continue
            if value == self.empty:
                record[name] = ""
            else:
                record[name] = _unescape(value) if "\\x" in value else value
        return record


def _unescape(value: str) -> str:
    r"""Decode Zeek's ``\xHH`` escapes (bytes, decoded as UTF-8 with replacement)."""
    if "\\x" not in value:
        return value
    parts = _ESCAPE.split(value)
    out = bytearray()
    for i, part in enumerate(parts):
        out += bytes([int(part, 16)]) if i % 2 else part.encode("utf-8")
    return out.decode("utf-8", errors="replace")


def _json_record(text: str) -> dict[str, Any]:
    obj = parse_json_object(text)
    path = obj.get("_path")
    if path is not None and path != "conn":
        raise BadLine(f"not a conn record: _path is {path!r:.40}")
    ident = obj.get("id")
    if isinstance(ident, dict):
        for key in ("orig_h", "orig_p", "resp_h", "resp_p"):
            if key in ident:
                obj.setdefault(f"id.{key}", ident[key])
    return obj


def _count(record: Mapping[str, Any], key: str, *, required: bool, hi: int = 2**63 - 1) -> Any:
    """A non-negative integer from a TSV string or a JSON number."""
    value = record.get(key)
    if value is None or value == "":
        if required:
            raise BadLine(f"missing field {key!r}")
        return None
    if isinstance(value, str):
        if not value.isdigit() or len(value) > 19:
            raise BadLine(f"field {key!r} is not a count: {value!r:.40}")
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise BadLine(f"field {key!r} is not a count: {value!r:.40}")
    if not 0 <= number <= hi:
        raise BadLine(f"field {key!r} out of range [0, {hi}]: {number}")
    return number


def _seconds_us(record: Mapping[str, Any], key: str) -> int | None:
    """Seconds (epoch time or interval) as integer microseconds; ``None`` when unset."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        match = _DECIMAL.fullmatch(value)
        if match is None:
            if key == "ts":
                return parse_iso_us(value, key)[1]
            raise BadLine(f"field {key!r} is not a number of seconds: {value!r:.40}")
        whole, frac = match.groups()
        return int(whole) * 1_000_000 + round(int((frac or "0").ljust(9, "0")) / 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value < 1e12:
            raise BadLine(f"field {key!r} out of range: {value!r:.40}")
        return round(value * 1_000_000)
    raise BadLine(f"field {key!r} is not a number of seconds: {value!r:.40}")


def _history_flags(history: str) -> tuple[int, int]:
    orig = resp = 0
    for letter in history:
        bits = HISTORY_FLAGS.get(letter.lower(), 0)
        if letter.isupper():
            orig |= bits
        else:
            resp |= bits
    return orig, resp


def _row(record: Mapping[str, Any]) -> tuple[object, ...]:
    ts_us = _seconds_us(record, "ts")
    if ts_us is None:
        raise BadLine("missing field 'ts'")
    uid = record.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadLine("missing field 'uid'")
    src_ip = normalize_ip(record.get("id.orig_h"), "id.orig_h")
    dest_ip = normalize_ip(record.get("id.resp_h"), "id.resp_h")
    check_same_family(src_ip, dest_ip)
    orig_p = _count(record, "id.orig_p", required=True, hi=65535)
    resp_p = _count(record, "id.resp_p", required=True, hi=65535)
    zeek_proto = record.get("proto")
    if not isinstance(zeek_proto, str):
        raise BadLine(f"field 'proto' is not a string: {zeek_proto!r:.40}")
    logged_ip_proto = _count(record, "ip_proto", required=False, hi=255)
    if zeek_proto in _PROTOS:
        proto, ip_proto = _PROTOS[zeek_proto]
    elif zeek_proto == "icmp":
        proto, ip_proto = ("IPv6-ICMP", 58) if ":" in src_ip else ("ICMP", 1)
    elif zeek_proto == "unknown_transport" and logged_ip_proto is not None:
        proto, ip_proto = str(logged_ip_proto), logged_ip_proto
    else:
        raise BadLine(f"unsupported proto {zeek_proto!r:.40}")
    icmp = ip_proto in (1, 58)
    src_port, dest_port = (0, 0) if icmp else (orig_p, resp_p)
    if ip_proto not in (6, 17, 132) and not icmp:
        src_port = dest_port = 0
    duration_us = _seconds_us(record, "duration")
    state = record.get("conn_state")
    end_reason = "idle"
    flags: tuple[int | None, int | None] = (None, None)
    if ip_proto == 6:
        if isinstance(state, str):
            end_reason = CONN_STATE_END_REASON.get(state, "idle")
        history = record.get("history")
        if isinstance(history, str) and history:
            flags = _history_flags(history)
    logged_cid = record.get("community_id")
    if isinstance(logged_cid, str) and logged_cid:
        cid = logged_cid
    else:
        cid = community_id(ip_proto, src_ip, dest_ip, orig_p, resp_p)
    return (
        ts_us,
        uid,
        src_ip,
        src_port,
        dest_ip,
        dest_port,
        proto,
        ip_proto,
        _count(record, "vlan", required=False, hi=4095),
        cid,
        (duration_us or 0) / 1e6,
        end_reason,
        _count(record, "orig_pkts", required=True),
        _count(record, "resp_pkts", required=True),
        _count(record, "orig_ip_bytes", required=True),
        _count(record, "resp_ip_bytes", required=True),
        _count(record, "orig_bytes", required=False),
        _count(record, "resp_bytes", required=False),
        flags[0],
        flags[1],
        orig_p if icmp else -1,
        resp_p if icmp else -1,
    )
