r"""Suricata EVE JSON: alerts as ``Alert`` records and flow events as a flow table.

Suricata writes one JSON object per line (``eve.json``); ``event_type`` says what it is. This
reader keeps two kinds and counts the rest:

``alert``
    One ``Alert`` per line: ``timestamp``, the 5-tuple, ``proto``, ``community_id`` (computed
    when the sensor did not log it), ``flow_id``, ``app_proto`` and the ``alert`` object
    (action, gid, signature_id, rev, signature, category, severity). ``detector`` is
    ``"suricata"``, ``evidence`` is ``["<file>:<line>"]`` and ``score`` comes from the
    severity (``SEVERITY_SCORE``): 1 -> 1.0, 2 -> 0.75, 3 -> 0.5, 4 -> 0.25. Suricata
    severities above 4 (custom rule priorities) are read as 4, informational.
``flow``
    One flow table row per line (``FLOW_SCHEMA``): ``ts`` is ``flow.start``, ``duration_s``
    is ``flow.end - flow.start`` (``flow.age`` is whole seconds only), packet and byte counts
    per direction (Suricata counts whole packets as captured, as the schema does),
    ``tcp_flags_toserver`` / ``tcp_flags_toclient`` from ``tcp.tcp_flags_ts`` / ``_tc``,
    ``uid`` is the decimal ``flow_id``. EVE has no packet-length, inter-arrival or per-flag
    count statistics, so those columns are null. ``end_reason`` follows ``END_REASON_RULES``.
anything else
    Counted per ``event_type`` in ``EveContents.other`` (dns, http, tls, stats, ...).

Examples
--------
>>> import tempfile, pathlib
>>> line = ('{"timestamp":"2017-07-07T12:59:00.123456+0000","flow_id":1,"event_type":"alert",'
...         '"src_ip":"10.0.0.1","src_port":1234,"dest_ip":"10.0.0.2","dest_port":80,'
...         '"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2100498,"rev":7,'
...         '"signature":"GPL ATTACK_RESPONSE id check returned root",'
...         '"category":"Potentially Bad Traffic","severity":2}}')
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = pathlib.Path(tmp, "eve.json")
...     _ = path.write_text(line + "\n" + '{"event_type":"stats","stats":{}}' + "\n")
...     contents = read_eve(path)
>>> contents.alerts[0].score, contents.alerts[0].alert.signature_id, contents.other
(0.75, 2100498, {'stats': 1})
>>> contents.flows.num_rows
0
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from swarmguard.acquire.jsonlines import (
    BadLine,
    FlowColumns,
    LineSource,
    check_same_family,
    community_id,
    get_int,
    get_str,
    normalize_ip,
    parse_iso_us,
    parse_json_object,
)
from swarmguard.errors import SkipLog
from swarmguard.records.alert import Alert, AlertInfo

__all__ = ["END_REASON_RULES", "SEVERITY_SCORE", "EveContents", "read_eve"]

logger = logging.getLogger(__name__)

#: Alert score from Suricata severity (1 high ... 4 informational): ``(5 - severity) / 4``.
SEVERITY_SCORE: dict[int, float] = {1: 1.0, 2: 0.75, 3: 0.5, 4: 0.25}

#: How a flow event's ``end_reason`` is chosen, first rule that holds wins.
END_REASON_RULES: tuple[tuple[str, str], ...] = (
    ("TCP and an RST was seen (tcp.rst, or bit 0x04 in tcp.tcp_flags)", "rst"),
    ("TCP and a FIN was seen (tcp.fin, bit 0x01) or tcp.state is closed/closing", "fin"),
    ("flow.reason is 'shutdown' (engine stopped, end of the pcap)", "eof"),
    ("flow.reason is 'forced' (evicted while active, e.g. memcap emergency)", "active"),
    ("otherwise: flow.reason 'timeout' or absent", "idle"),
)

#: EVE ``proto`` names and their IANA numbers. Suricata writes other protocols as digits.
PROTO_NUMBERS: dict[str, int] = {
    "ICMP": 1,
    "IGMP": 2,
    "TCP": 6,
    "UDP": 17,
    "GRE": 47,
    "ESP": 50,
    "AH": 51,
    "IPV6-ICMP": 58,
    "PIM": 103,
    "SCTP": 132,
}
_PROTO_NAMES = {"IPV6-ICMP": "IPv6-ICMP"}
_ICMP = (1, 58)
_CLOSED_TCP_STATES = frozenset(
    {"closed", "closing", "close_wait", "last_ack", "time_wait", "fin_wait1", "fin_wait2"}
)

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
    "tcp_flags_toserver",
    "tcp_flags_toclient",
    "icmp_type",
    "icmp_code",
)


@dataclass(frozen=True)
class EveContents:
    """What ``read_eve`` found in one EVE file.

    Attributes
    ----------
    alerts
        One ``Alert`` per ``alert`` event, in file order.
    flows
        One row per ``flow`` event, ``FLOW_SCHEMA``.
    other
        Count of the other events per ``event_type`` (not turned into records).
    """

    alerts: list[Alert]
    flows: pa.Table
    other: dict[str, int]


def read_eve(
    path: Path,
    *,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> EveContents:
    """Read a Suricata EVE JSON file (one object per line).

    Parameters
    ----------
    path
        The ``eve.json`` file.
    sensor_id
        Written into every alert and flow row.
    skip_bad
        Count bad lines in ``skip_log`` instead of raising.
    skip_log
        Where skipped lines are counted.
    progress
        Called with the number of bytes read so far.

    Returns
    -------
    EveContents
        Alerts, flows and counts of the other event types.

    Raises
    ------
    InputError
        On an empty file, or (without ``skip_bad``) a line that is not a JSON object, lacks
        a required field, or has a field of the wrong type or range.
    """
    source = LineSource(Path(path), skip_bad=skip_bad, skip_log=skip_log, progress=progress)
    alerts: list[Alert] = []
    flows = FlowColumns(_FLOW_COLUMNS)
    other: dict[str, int] = {}
    for number, text in source.lines():
        try:
            obj = parse_json_object(text)
            event_type = get_str(obj, "event_type")
            if event_type == "alert":
                alerts.append(_alert(obj, source.path, number, sensor_id))
            elif event_type == "flow":
                flows.append(_flow_row(obj))
            else:
                assert event_type is not None
                other[event_type] = other.get(event_type, 0) + 1
        except BadLine as exc:
            source.bad(number, str(exc))
    source.finish()
    logger.debug("%s: %d alerts, %d flows, other events %s", path, len(alerts), len(flows), other)
    return EveContents(alerts=alerts, flows=flows.to_table(sensor_id), other=other)


def _proto(obj: Mapping[str, Any]) -> tuple[str, int]:
    """EVE proto name (canonical spelling) and IANA number."""
    name = get_str(obj, "proto")
    assert name is not None
    if name.isdigit() and len(name) <= 3 and int(name) <= 255:
        number = int(name)
        for known, num in PROTO_NUMBERS.items():
            if num == number:
                return _PROTO_NAMES.get(known, known), number
        return str(number), number
    key = name.upper()
    if key not in PROTO_NUMBERS:
        raise BadLine(f"unknown proto {name!r:.40}")
    return _PROTO_NAMES.get(key, key), PROTO_NUMBERS[key]


def _ports(obj: Mapping[str, Any], ip_proto: int) -> tuple[int, int]:
    if ip_proto in _ICMP:
        return 0, 0
    required = ip_proto in (6, 17, 132)
    src = get_int(obj, "src_port", required=required, hi=65535)
    dest = get_int(obj, "dest_port", required=required, hi=65535)
    return src or 0, dest or 0


def _icmp(obj: Mapping[str, Any], ip_proto: int) -> tuple[int | None, int | None]:
    if ip_proto not in _ICMP:
        return -1, -1
    return (
        get_int(obj, "icmp_type", required=False, hi=255),
        get_int(obj, "icmp_code", required=False, hi=255),
    )


def _community_id(
    obj: Mapping[str, Any],
    ip_proto: int,
    src_ip: str,
    dest_ip: str,
    ports: tuple[int, int],
    icmp: tuple[int | None, int | None],
) -> str:
    logged = get_str(obj, "community_id", required=False)
    if logged:
        return logged
    if ip_proto in _ICMP:
        return community_id(ip_proto, src_ip, dest_ip, icmp[0] or 0, icmp[1] or 0)
    return community_id(ip_proto, src_ip, dest_ip, *ports)


def _alert(obj: Mapping[str, Any], path: Path, line: int, sensor_id: str) -> Alert:
    ts, _ = parse_iso_us(obj.get("timestamp"), "timestamp")
    proto, ip_proto = _proto(obj)
    src_ip = normalize_ip(obj.get("src_ip"), "src_ip")
    dest_ip = normalize_ip(obj.get("dest_ip"), "dest_ip")
    check_same_family(src_ip, dest_ip)
    ports = _ports(obj, ip_proto)
    icmp = _icmp(obj, ip_proto)
    info = obj.get("alert")
    if not isinstance(info, dict):
        raise BadLine("missing field 'alert' (an object)")
    severity = get_int(info, "severity", required=False, lo=1, hi=255)
    severity = 3 if severity is None else min(severity, 4)
    action = get_str(info, "action", required=False) or "allowed"
    if action not in ("allowed", "blocked"):
        raise BadLine(f"alert.action is neither 'allowed' nor 'blocked': {action!r:.40}")
    has_ports = ip_proto not in _ICMP and "src_port" in obj
    try:
        return Alert(
            ts=ts,
            sensor_id=sensor_id,
            src_ip=src_ip,
            src_port=ports[0] if has_ports else None,
            dest_ip=dest_ip,
            dest_port=ports[1] if has_ports else None,
            proto=proto,
            community_id=_community_id(obj, ip_proto, src_ip, dest_ip, ports, icmp),
            flow_id=get_int(obj, "flow_id", required=False),
            app_proto=get_str(obj, "app_proto", required=False),
            alert=AlertInfo(
                action=action,
                gid=get_int(info, "gid", required=False, hi=2**32 - 1) or 1,
                signature_id=get_int(info, "signature_id", hi=2**32 - 1),
                rev=get_int(info, "rev", required=False, hi=2**32 - 1) or 1,
                signature=get_str(info, "signature"),
                category=get_str(info, "category", required=False) or "",
                severity=severity,
            ),
            detector="suricata",
            score=SEVERITY_SCORE[severity],
            evidence=[f"{path}:{line}"],
        )
    except ValidationError as exc:
        raise BadLine(f"invalid alert: {exc.errors()[0]['msg']}") from None


def _hex_flags(tcp: Mapping[str, Any], key: str) -> int | None:
    value = tcp.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 2:
        raise BadLine(f"tcp.{key} is not a hex byte: {value!r:.40}")
    try:
        return int(value, 16)
    except ValueError:
        raise BadLine(f"tcp.{key} is not a hex byte: {value!r:.40}") from None


def _end_reason(flow: Mapping[str, Any], tcp: Mapping[str, Any] | None, ip_proto: int) -> str:
    if ip_proto == 6 and tcp is not None:
        all_flags = _hex_flags(tcp, "tcp_flags") or 0
        if tcp.get("rst") is True or all_flags & 0x04:
            return "rst"
        state = tcp.get("state")
        closed = isinstance(state, str) and state in _CLOSED_TCP_STATES
        if tcp.get("fin") is True or all_flags & 0x01 or closed:
            return "fin"
    reason = flow.get("reason")
    if reason == "shutdown":
        return "eof"
    if reason == "forced":
        return "active"
    return "idle"


def _flow_row(obj: Mapping[str, Any]) -> tuple[object, ...]:
    flow = obj.get("flow")
    if not isinstance(flow, dict):
        raise BadLine("missing field 'flow' (an object)")
    tcp = obj.get("tcp")
    if tcp is not None and not isinstance(tcp, dict):
        raise BadLine("field 'tcp' is not an object")
    flow_id = get_int(obj, "flow_id")
    proto, ip_proto = _proto(obj)
    src_ip = normalize_ip(obj.get("src_ip"), "src_ip")
    dest_ip = normalize_ip(obj.get("dest_ip"), "dest_ip")
    check_same_family(src_ip, dest_ip)
    ports = _ports(obj, ip_proto)
    icmp = _icmp(obj, ip_proto)
    _, start_us = parse_iso_us(flow.get("start"), "flow.start")
    _, end_us = parse_iso_us(flow.get("end"), "flow.end")
    if end_us < start_us:
        raise BadLine("flow.end is before flow.start")
    vlan_value = obj.get("vlan")
    vlan: int | None = None
    if vlan_value is not None:
        if not isinstance(vlan_value, list) or not vlan_value:
            raise BadLine(f"field 'vlan' is not a list of ids: {vlan_value!r:.40}")
        vlan = get_int({"vlan": vlan_value[0]}, "vlan", hi=4095)
    flags_ts = _hex_flags(tcp, "tcp_flags_ts") if tcp is not None else None
    flags_tc = _hex_flags(tcp, "tcp_flags_tc") if tcp is not None else None
    return (
        start_us,
        str(flow_id),
        src_ip,
        ports[0],
        dest_ip,
        ports[1],
        proto,
        ip_proto,
        vlan,
        _community_id(obj, ip_proto, src_ip, dest_ip, ports, icmp),
        (end_us - start_us) / 1e6,
        _end_reason(flow, tcp, ip_proto),
        get_int(flow, "pkts_toserver"),
        get_int(flow, "pkts_toclient"),
        get_int(flow, "bytes_toserver"),
        get_int(flow, "bytes_toclient"),
        flags_ts,
        flags_tc,
        icmp[0],
        icmp[1],
    )
