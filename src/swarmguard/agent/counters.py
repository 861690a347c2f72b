"""The fast path: per-source sliding-window counters over packets (floods, scans, brute force).

Signature rules see one packet at a time and flow rules wait for flows to end; a flood or a
scan should be stopped within milliseconds of crossing its threshold. Packet threshold rules
use the flow threshold rule format (``detect.rules.flowrules``), read over packets instead of
flows, with a *sliding* window: a rule fires on the packet that makes its group's count reach
the threshold within the last ``window_s`` seconds, then stays quiet for that group for one
window. Fields a ``where`` may name: ``proto`` (6 TCP, 17 UDP, 1 ICMP), ``syn``, ``ack``,
``fin``, ``rst``, ``psh``, ``urg`` (0 or 1), ``src_port``, ``dest_port``, ``dsize`` (payload
bytes), ``icmp_type``, ``ttl``, ``ip_version``; ``by`` may group on ``src_ip``, ``dest_ip``,
``dest_port``; ``distinct`` counts distinct values of any field. Work per packet is a few
dictionary operations per rule, so the counters run inline on the capture thread.

The shipped set (``DEFAULT_PACKET_RULES``, sids 9310001-9310099) states limits no ordinary
client reaches: 20 distinct ports of one host in 2 s, 200 bare SYNs in 1 s, 5 new SSH
connections in 30 s, 200 ICMP echo requests in 1 s, all per source.

Examples
--------
>>> from swarmguard.acquire.rawpackets import Packet
>>> rules = parse_packet_rules('''
... - sid: 1
...   msg: scan
...   classtype: attempted-recon
...   family: probe
...   where: "syn == 1 and ack == 0"
...   aggregate: {by: [src_ip], distinct: dest_port, window_s: 2, threshold: 3}
... ''')
>>> counters = PacketCounters(rules, sensor_id="edge1")
>>> def syn(port, ms):
...     return Packet(ts_ns=ms * 1_000_000, number=1, linktype=101, frame=b"", ip_version=4,
...                   src_ip="198.51.100.9", dest_ip="10.0.0.2", proto=6, src_port=40000,
...                   dest_port=port, tcp_flags=0x02)
>>> [len(counters.observe(syn(p, t))) for p, t in [(22, 0), (22, 1), (80, 2), (443, 3)]]
[0, 0, 0, 1]
>>> counters.observe(syn(8080, 4))  # quiet for one window after firing
[]
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from swarmguard.acquire.rawpackets import Packet
from swarmguard.detect.rules.classification import CLASSIFICATIONS
from swarmguard.detect.rules.flowrules import FlowRule, parse_flow_rules
from swarmguard.errors import InputError
from swarmguard.records.alert import Alert, AlertInfo, Endpoint

__all__ = [
    "DEFAULT_PACKET_RULES",
    "PACKET_FIELDS",
    "PacketCounters",
    "load_packet_rules",
    "parse_packet_rules",
]

DEFAULT_PACKET_RULES = """\
- sid: 9310001
  msg: SWARMGUARD FAST port scan (one source, 20+ ports of one host in 2 s)
  classtype: attempted-recon
  family: probe
  where: "proto == 6 and syn == 1 and ack == 0 or proto == 17 and dsize < 8"
  aggregate: {by: [src_ip, dest_ip], distinct: dest_port, window_s: 2, threshold: 20}
- sid: 9310002
  msg: SWARMGUARD FAST SYN flood (one source, 200+ SYN in 1 s)
  classtype: attempted-dos
  family: dos
  where: "proto == 6 and syn == 1 and ack == 0"
  aggregate: {by: [src_ip], window_s: 1, threshold: 200}
- sid: 9310003
  msg: SWARMGUARD FAST SSH brute force (one source, 5+ new SSH connections in 30 s)
  classtype: attempted-user
  family: brute_force
  where: "proto == 6 and syn == 1 and ack == 0 and dest_port == 22"
  aggregate: {by: [src_ip], window_s: 30, threshold: 5}
- sid: 9310004
  msg: SWARMGUARD FAST ICMP echo flood (one source, 200+ in 1 s)
  classtype: attempted-dos
  family: dos
  where: "proto == 1 and icmp_type == 8"
  aggregate: {by: [src_ip], window_s: 1, threshold: 200}
- sid: 9310005
  msg: SWARMGUARD FAST UDP flood (one source, 2000+ datagrams in 1 s)
  classtype: attempted-dos
  family: dos
  where: "proto == 17"
  aggregate: {by: [src_ip], window_s: 1, threshold: 2000}
"""

_Getter = Callable[[Packet], float | str | None]


def _flag(bit: int) -> _Getter:
    return lambda p: 1 if p.tcp_flags & bit else 0


#: Packet fields a packet rule may name, and how each is read.
PACKET_FIELDS: dict[str, _Getter] = {
    "proto": lambda p: p.proto,
    "fin": _flag(0x01),
    "syn": _flag(0x02),
    "rst": _flag(0x04),
    "psh": _flag(0x08),
    "ack": _flag(0x10),
    "urg": _flag(0x20),
    "src_port": lambda p: p.src_port,
    "dest_port": lambda p: p.dest_port,
    "dsize": lambda p: len(p.payload),
    "icmp_type": lambda p: p.icmp_type,
    "ttl": lambda p: p.ttl,
    "ip_version": lambda p: p.ip_version,
    "src_ip": lambda p: p.src_ip,
    "dest_ip": lambda p: p.dest_ip,
}

_OPS: dict[str, Callable[[float | str, float | str], bool]] = {
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def parse_packet_rules(text: str, source: str = "<packet rules>") -> list[FlowRule]:
    """Parse packet threshold rules; every rule needs an ``aggregate`` and known fields."""
    rules = parse_flow_rules(text, source)
    for rule in rules:
        if not rule.by:
            raise InputError(source, f"packet rule {rule.sid}: needs an 'aggregate' window")
        unknown = sorted((rule.columns - {"ts"}) - set(PACKET_FIELDS))
        if unknown:
            known = ", ".join(sorted(PACKET_FIELDS))
            raise InputError(
                source, f"packet rule {rule.sid}: unknown field(s) {unknown}; known: {known}"
            )
    return rules


def load_packet_rules(path: Path | None = None) -> list[FlowRule]:
    """Read a packet rule file, or the shipped set when ``path`` is None."""
    if path is None:
        return parse_packet_rules(DEFAULT_PACKET_RULES, "default packet rules")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    return parse_packet_rules(text, str(path))


@dataclass
class _Window:
    times: deque[int] = field(default_factory=deque)
    values: OrderedDict[object, int] = field(default_factory=OrderedDict)
    quiet_until: int = 0
    last: int = 0


class _Compiled:
    def __init__(self, rule: FlowRule) -> None:
        self.rule = rule
        self.window_ns = int(rule.window_s * 1e9)
        self.groups = [
            [(PACKET_FIELDS[t.column], _OPS[t.op], t.value) for t in group] for group in rule.where
        ]
        self.key = [PACKET_FIELDS[c] for c in rule.by]
        self.distinct = PACKET_FIELDS[rule.distinct] if rule.distinct else None
        category, severity = CLASSIFICATIONS[rule.classtype]
        self.info = AlertInfo(
            signature_id=rule.sid,
            signature=rule.msg,
            category=category,
            severity=severity,
            metadata={"family": [rule.family]},
        )
        self.windows: dict[tuple[object, ...], _Window] = {}

    def matches(self, p: Packet) -> bool:
        if not self.groups:
            return True
        for group in self.groups:
            for get, op, value in group:
                got = get(p)
                if got is None or isinstance(got, str) != isinstance(value, str):
                    break
                if not op(got, value):
                    break
            else:
                return True
        return False

    def count(self, p: Packet) -> int | None:
        """Add ``p``; return the count when this packet makes the group fire."""
        ts = p.ts_ns
        key = tuple(get(p) for get in self.key)
        win = self.windows.get(key)
        if win is None:
            win = self.windows[key] = _Window()
        win.last = ts
        horizon = ts - self.window_ns
        if self.distinct is None:
            win.times.append(ts)
            while win.times and win.times[0] <= horizon:
                win.times.popleft()
            n = len(win.times)
        else:
            value = self.distinct(p)
            win.values[value] = ts
            win.values.move_to_end(value)
            while win.values:
                first = next(iter(win.values.values()))
                if first > horizon:
                    break
                win.values.popitem(last=False)
            n = len(win.values)
        if n >= self.rule.threshold and ts >= win.quiet_until:
            win.quiet_until = ts + self.window_ns
            return n
        return None

    def purge(self, now_ns: int) -> None:
        horizon = now_ns - self.window_ns
        stale = [k for k, w in self.windows.items() if w.last <= horizon]
        for k in stale:
            del self.windows[k]


class PacketCounters:
    """Evaluate packet threshold rules packet by packet (see the module docstring).

    Parameters
    ----------
    rules
        Packet rules (default: the shipped set).
    sensor_id
        Written into every alert.
    purge_every
        Packets between sweeps that forget idle groups (memory stays bounded).
    """

    name = "packet-rules"

    def __init__(
        self,
        rules: list[FlowRule] | None = None,
        *,
        sensor_id: str = "local",
        purge_every: int = 50_000,
    ) -> None:
        self.rules = [_Compiled(r) for r in (rules if rules is not None else load_packet_rules())]
        self.sensor_id = sensor_id
        self.purge_every = purge_every
        self.packets = 0
        self.alerts = 0

    def observe(self, p: Packet) -> list[Alert]:
        """Count one packet; return the alerts it raises (usually none)."""
        if not p.has_ip:
            return []
        self.packets += 1
        if self.packets % self.purge_every == 0:
            for c in self.rules:
                c.purge(p.ts_ns)
        out: list[Alert] = []
        for c in self.rules:
            if not c.matches(p):
                continue
            n = c.count(p)
            if n is not None:
                out.append(self._alert(c, p, n))
        self.alerts += len(out)
        return out

    def groups(self) -> int:
        """Groups currently tracked over all rules."""
        return sum(len(c.windows) for c in self.rules)

    def _alert(self, c: _Compiled, p: Packet, n: int) -> Alert:
        return Alert(
            ts=datetime.fromtimestamp(p.ts_ns / 1e9, tz=UTC),
            sensor_id=self.sensor_id,
            src_ip=p.src_ip,
            src_port=p.src_port,
            dest_ip=p.dest_ip,
            dest_port=p.dest_port,
            proto=p.proto_name,
            alert=(
                c.info.model_copy(update={"target": Endpoint(ip=p.dest_ip, port=p.dest_port)})
                if c.rule.aggregates_sources and p.dest_ip
                else c.info
            ),
            pcap_cnt=p.number,
            detector=self.name,
            score=1.0,
            evidence=[f"{n} packets in {c.rule.window_s:g} s, last packet {p.number}"],
        )
