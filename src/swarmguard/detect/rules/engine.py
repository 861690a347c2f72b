"""The signature engine: rules over packets, reassembled TCP streams and HTTP transactions.

For each packet (after defragmentation and, when enabled, checksum validation) the engine
tracks its flow, then evaluates:

* packet rules (``ip``, ``tcp``, ``udp``, ``icmp``): the header, then the non-payload options
  (flow, flags, dsize, ttl, itype, icode, ip_proto, flowbits), then payload matches. A TCP
  packet whose bytes joined a tracked stream is inspected on the reassembled stream (new bytes
  plus a look-back, so a pattern split over segments is found and a match is reported once);
  other packets, and rules that need the packet itself (``dsize``, ``flow:no_stream``), on
  the packet payload. A multi-pattern prefilter picks the candidate rules.
* application rules (``http``, or any rule using an HTTP buffer) on HTTP transactions. As in
  Suricata's IDS mode, a direction's bytes go to the HTTP parser once the other side has
  acknowledged them (or when the flow ends), and a transaction is inspected on the next packet
  in its direction; each rule alerts at most once per transaction.

Alerts pass ``threshold`` / ``detection_filter`` and are returned as ``Alert`` records in EVE
shape.

Example
-------
>>> from swarmguard.acquire.rawpackets import decode_packet
>>> from swarmguard.detect.rules.parser import parse_rules_text
>>> rules = parse_rules_text('alert udp any any -> any 53 (msg:"dns"; content:"abc"; sid:5;)')
>>> frame = bytes.fromhex("4500001f00010000401100000a0000010a00000230390035000b0000") + b"abc"
>>> eng = RuleEngine(rules)
>>> [a.alert.signature_id for a in eng.process(decode_packet(frame, linktype=101, ts_ns=0,
...                                                          number=1))]
[5]
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from swarmguard.acquire.defrag import Defragmenter
from swarmguard.acquire.rawpackets import Packet
from swarmguard.acquire.reassembly import Flow, FlowTracker, PacketFlow
from swarmguard.detect.rules.classification import CLASSIFICATIONS
from swarmguard.detect.rules.http import (
    TOCLIENT_BUFFERS,
    TOSERVER_BUFFERS,
    HttpState,
    HttpTx,
    looks_like_request,
    looks_like_response,
)
from swarmguard.detect.rules.matcher import match_buffer
from swarmguard.detect.rules.model import PAYLOAD, Rule, Threshold
from swarmguard.detect.rules.prefilter import Prefilter
from swarmguard.records.alert import (
    Alert,
    AlertInfo,
    Endpoint,
    EtherInfo,
    FlowInfo,
    HttpInfo,
    PacketInfo,
)

__all__ = ["EngineConfig", "EngineStats", "RuleEngine"]

logger = logging.getLogger(__name__)

_PROTO_NUMS: dict[str, tuple[int, ...]] = {
    "tcp": (6,),
    "tcp-pkt": (6,),
    "tcp-stream": (6,),
    "http": (6,),
    "http1": (6,),
    "udp": (17,),
    "icmp": (1, 58),
}


@dataclass
class EngineConfig:
    """Engine settings (Suricata's equivalents in brackets)."""

    midstream: bool = False  # stream.midstream
    checksum_validation: bool = False  # -k all / none
    lookback: int = 2048  # bytes of older stream data inspected with new bytes
    stream_window: int = 65536  # stream bytes kept per direction
    eve_packet: bool = False  # alert packet: yes
    eve_ethernet: bool = True  # eve-log ethernet: yes
    sensor_id: str = "local"
    prefilter: bool = True  # multi-pattern prefilter (off: every rule checked on every packet)


@dataclass
class EngineStats:
    """Counters of one run."""

    packets: int = 0
    bad_checksum: int = 0
    fragments: int = 0
    reassembled: int = 0
    alerts: int = 0
    suppressed: int = 0


@dataclass
class _App:
    http: HttpState | None = None
    failed: bool = False
    fed: list[int] = field(default_factory=lambda: [0, 0])  # stream offsets fed, per direction
    dirty: list[set[int]] = field(default_factory=lambda: [set(), set()])
    alerted: set[tuple[int, int]] = field(default_factory=set)


def _eve_time(ns: int) -> str:
    dt = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+0000"


def _flowbits_order(rule: Rule) -> int:
    sets = any(op.command in ("set", "unset", "toggle") for op in rule.flowbits)
    checks = any(op.command in ("isset", "isnotset") for op in rule.flowbits)
    if rule.action == "pass":
        return 0
    if sets and not checks:
        return 1
    if sets:
        return 2
    return 3


class RuleEngine:
    """Evaluate a rule set over a packet sequence (see the module docstring)."""

    def __init__(self, rules: Iterable[Rule], config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        ordered = sorted(enumerate(rules), key=lambda ir: (_flowbits_order(ir[1]), ir[0]))
        self.rules = [r for _, r in ordered]
        self.packet_rules = [r for r in self.rules if not r.is_app]
        self.app_rules = [r for r in self.rules if r.is_app]
        self._index = {id(r): i for i, r in enumerate(self.packet_rules)}
        fast = []
        for i, r in enumerate(self.packet_rules):
            fp = r.fast_pattern() if r.has_payload else None
            fast.append((i, fp.pattern if fp is not None else None))
        self.prefilter = Prefilter(fast)
        # Per IP protocol: the rules that can apply, and those needing no payload.
        self._proto_rules: dict[int, list[int]] = {}
        self._proto_sets: dict[int, set[int]] = {}
        self._nopayload: dict[int, list[int]] = {}
        self._always: dict[int, set[int]] = {}
        self._ip_proto_key = -1
        for proto in (*sorted({n for nums in _PROTO_NUMS.values() for n in nums}), -1):
            idx = [
                i
                for i, r in enumerate(self.packet_rules)
                if r.proto not in _PROTO_NUMS or proto in _PROTO_NUMS[r.proto]
            ]
            self._proto_rules[proto] = idx
            self._proto_sets[proto] = set(idx)
            self._nopayload[proto] = [i for i in idx if not self.packet_rules[i].has_payload]
            self._always[proto] = self.prefilter.always & set(idx)
        self._any_header = [
            r.src.is_any and r.dst.is_any and r.src_ports.is_any and r.dst_ports.is_any
            for r in self.packet_rules
        ]
        self.tracker = FlowTracker(
            midstream=self.config.midstream,
            window=self.config.stream_window,
            on_close=self._on_close,
        )
        self.defrag = Defragmenter()
        self.stats = EngineStats()
        self._closed_alerts: list[Alert] = []
        self._thresholds: dict[tuple[int, str], list[int]] = {}

    # ------------------------------------------------------------------ driving
    def run(self, packets: Iterable[Packet]) -> Iterator[Alert]:
        """Process every packet, then close all flows; yield alerts in order."""
        for p in packets:
            yield from self.process(p)
        yield from self.finish()

    def finish(self) -> list[Alert]:
        """End of input: flush every flow's application data and inspect it."""
        self.tracker.close_all()
        out, self._closed_alerts = self._closed_alerts, []
        return out

    def process(self, p: Packet) -> list[Alert]:
        """Inspect one packet; return the alerts it raises (and those of flows it closed)."""
        self.stats.packets += 1
        alerts: list[Alert] = []
        if not p.has_ip:
            return alerts
        good = True
        if self.config.checksum_validation and not p.checksums_ok():
            # As Suricata: the stream engine ignores the packet, detection still sees it.
            self.stats.bad_checksum += 1
            good = False
        if p.is_fragment:
            self.stats.fragments += 1
            alerts.extend(self._packet_rules(p, None, ip_only=True))
            whole = self.defrag.add(p)
            if whole is None:
                return self._drain(alerts)
            self.stats.reassembled += 1
            p = whole
        if p.proto in (6, 17) and not p.l4_valid:
            alerts.extend(self._packet_rules(p, None, ip_only=True))
            return self._drain(alerts)
        pf = self.tracker.track(p, stream=good)
        if p.proto == 6:
            self._feed_app(pf)
        alerts.extend(self._packet_rules(p, pf, ip_only=False))
        if p.proto == 6:
            alerts.extend(self._app_rules(pf.flow, pf.to_server, p))
        return self._drain(alerts)

    def _drain(self, alerts: list[Alert]) -> list[Alert]:
        if self._closed_alerts:
            alerts.extend(self._closed_alerts)
            self._closed_alerts = []
        self.stats.alerts += len(alerts)
        return alerts

    # ------------------------------------------------------------------ packet rules
    def _packet_rules(self, p: Packet, pf: PacketFlow | None, *, ip_only: bool) -> list[Alert]:
        chunk = b""
        boundary = -1
        if pf is not None and pf.stream_added and pf.added:
            data = pf.flow.stream(pf.to_server).data
            new_start = len(data) - len(pf.added)
            start = max(0, new_start - self.config.lookback)
            chunk = bytes(data[start:])
            boundary = new_start - start
        key = p.proto if p.proto in self._proto_rules else -1
        cands: list[int]
        if not chunk and not p.payload:
            cands = self._nopayload[key]  # payload rules cannot match: not a prefilter
        elif not self.config.prefilter:
            cands = self._proto_rules[key]
        else:
            hits = self.prefilter.hits(chunk, p.payload)
            cands = sorted(self._always[key] | (hits & self._proto_sets[key]))
        alerts: list[Alert] = []
        passed = False
        any_header = self._any_header
        for i in cands:
            r = self.packet_rules[i]
            if ip_only and (r.proto != "ip" or r.has_payload):
                continue
            if not any_header[i] and not self._header(r, p, pf):
                continue
            if p.src_port is None and r.proto not in ("ip", "pkthdr") and p.proto in (6, 17):
                continue
            if not self._options(r, p, pf):
                continue
            stream_hit = 0
            if r.has_payload:
                items = r.matches[PAYLOAD]
                need_packet = r.dsize is not None or (r.flow is not None and r.flow.no_stream)
                if pf is not None and pf.stream_added and not need_packet:
                    if not chunk or not match_buffer(items, chunk, boundary):
                        continue
                    stream_hit = 1
                else:
                    if r.flow is not None and r.flow.only_stream:
                        continue
                    if not p.payload or not match_buffer(items, p.payload):
                        continue
            flow = pf.flow if pf is not None else None
            if not self._flowbits(r, flow):
                continue
            if r.action == "pass":
                passed = True
                continue
            if r.noalert or not self._limit(r, p, flow):
                continue
            to_server = pf.to_server if pf is not None else None
            alerts.append(self._alert(r, p, flow, to_server, stream_hit, None))
        if passed:
            self.stats.suppressed += len(alerts)
            return []
        return alerts

    def _header(self, r: Rule, p: Packet, pf: PacketFlow | None) -> bool:
        """Addresses and ports (the protocol is settled by the per-protocol rule lists)."""
        sp, dp = p.src_port, p.dest_port
        fwd = (
            r.src.matches(p.src_ip)
            and r.dst.matches(p.dest_ip)
            and r.src_ports.matches(sp)
            and r.dst_ports.matches(dp)
        )
        if fwd:
            return True
        if r.direction == "<>":
            return (
                r.src.matches(p.dest_ip)
                and r.dst.matches(p.src_ip)
                and r.src_ports.matches(dp)
                and r.dst_ports.matches(sp)
            )
        return False

    def _options(self, r: Rule, p: Packet, pf: PacketFlow | None) -> bool:
        if r.flow is not None:
            f = r.flow
            if f.to_server is not None and (pf is None or pf.to_server != f.to_server):
                return False
            if f.established is not None:
                est = pf is not None and pf.established
                if est != f.established:
                    return False
            if f.only_stream and (pf is None or not pf.stream_added):
                return False
        if r.flags is not None and (p.proto != 6 or not self._flags_ok(r.flags, p.tcp_flags)):
            return False
        if r.window is not None and (p.proto != 6 or not r.window(p.window)):
            return False
        if r.dsize is not None and not r.dsize(len(p.payload)):
            return False
        if r.ttl is not None and not r.ttl(p.ttl):
            return False
        if r.itype is not None and (p.icmp_type is None or not r.itype(p.icmp_type)):
            return False
        if r.icode is not None and (p.icmp_code is None or not r.icode(p.icmp_code)):
            return False
        return r.ip_proto is None or r.ip_proto(p.proto)

    @staticmethod
    def _flags_ok(spec: tuple[int, int, str], flags: int) -> bool:
        want, ignore, mod = spec
        f = flags & ~ignore & 0xFF
        if mod == "+":
            return f & want == want
        if mod == "*":
            return bool(f & want) if want else f == 0
        if mod == "!":
            return f & want == 0 if want else f != 0
        return f == want

    def _flowbits(self, r: Rule, flow: Flow | None) -> bool:
        if not r.flowbits:
            return True
        bits = flow.flowbits if flow is not None else set()
        for op in r.flowbits:
            if op.command == "isset":
                hit = (any if op.any_of else all)(n in bits for n in op.names)
                if not hit:
                    return False
            elif op.command == "isnotset":
                hit = (any if op.any_of else all)(n not in bits for n in op.names)
                if not hit:
                    return False
        if flow is None:
            return True
        for op in r.flowbits:
            for n in op.names:
                if op.command == "set":
                    bits.add(n)
                elif op.command == "unset":
                    bits.discard(n)
                elif op.command == "toggle":
                    bits.symmetric_difference_update({n})
        return True

    def _limit(self, r: Rule, p: Packet, flow: Flow | None) -> bool:
        for t in (r.detection_filter, r.threshold):
            if t is not None and not self._threshold_ok(r, t, p, flow):
                return False
        return True

    def _threshold_ok(self, r: Rule, t: Threshold, p: Packet, flow: Flow | None) -> bool:
        if t.track == "by_src":
            who = p.src_ip
        elif t.track == "by_dst":
            who = p.dest_ip
        elif t.track == "by_both":
            who = f"{p.src_ip}|{p.dest_ip}"
        elif t.track == "by_flow":
            who = str(flow.flow_id) if flow is not None else ""
        else:
            who = ""
        key = (id(t), who)
        now = p.ts_ns
        window = t.seconds * 1_000_000_000
        state = self._thresholds.get(key)
        if state is None or now - state[0] >= window:
            state = [now, 0, 0]  # window start, hits, alerts in window
            self._thresholds[key] = state
        state[1] += 1
        hits = state[1]
        if t.kind == "detection_filter":
            return hits > t.count
        if t.kind == "limit":
            return hits <= t.count
        if t.kind == "threshold":
            if hits >= t.count:
                state[0], state[1] = now, 0
                return True
            return False
        # both: once per window after count hits
        if hits >= t.count and state[2] == 0:
            state[2] = 1
            return True
        return False

    # ------------------------------------------------------------------ application layer
    def _feed_app(self, pf: PacketFlow) -> None:
        flow = pf.flow
        if not flow.tracked or pf.acked <= 0:
            return
        self._feed(flow, not pf.to_server, flow.stream(not pf.to_server).acked_to)

    def _feed(self, flow: Flow, to_server: bool, upto: int) -> None:
        app = flow.app
        if app is None:
            app = flow.app = _App()
        assert isinstance(app, _App)
        if app.failed:
            return
        d = 0 if to_server else 1
        s = flow.stream(to_server)
        start = max(app.fed[d], s.base)
        upto = min(upto, s.end)
        if upto <= start:
            return
        data = bytes(s.data[start - s.base : upto - s.base])
        app.fed[d] = upto
        if app.http is None:
            if (
                to_server
                and looks_like_request(data)
                or not to_server
                and looks_like_response(data)
            ):
                app.http = HttpState()
            elif to_server and looks_like_response(data) and flow.state != "syn_sent":
                flow.swap_direction()
                app.fed.reverse()
                app.dirty.reverse()
                app.http = HttpState()
                to_server, d = False, 1
            else:
                app.failed = True
                return
        for idx in app.http.feed(to_server, data):
            app.dirty[d].add(idx)

    def _app_rules(self, flow: Flow, to_server: bool, p: Packet | None) -> list[Alert]:
        app = flow.app
        if not isinstance(app, _App) or app.http is None:
            return []
        d = 0 if to_server else 1
        if not app.dirty[d]:
            return []
        todo = sorted(app.dirty[d])
        app.dirty[d].clear()
        alerts: list[Alert] = []
        for idx in todo:
            tx = app.http.txs[idx]
            for r in self.app_rules:
                if (r.sid, idx) in app.alerted:
                    continue
                if self._app_match(r, flow, tx, to_server, p):
                    app.alerted.add((r.sid, idx))
                    if not self._flowbits(r, flow) or r.action == "pass" or r.noalert:
                        continue
                    if p is not None and not self._limit(r, p, flow):
                        continue
                    alerts.append(self._alert(r, p, flow, to_server, 0, tx))
        return alerts

    def _app_match(
        self, r: Rule, flow: Flow, tx: HttpTx, to_server: bool, p: Packet | None
    ) -> bool:
        bufs = r.app_buffers
        if any(b in TOCLIENT_BUFFERS for b in bufs):
            if to_server:
                return False
        elif (
            any(b in TOSERVER_BUFFERS for b in bufs) and not to_server or not bufs and not to_server
        ):
            return False
        if r.flow is not None:
            if r.flow.to_server is not None and r.flow.to_server != to_server:
                return False
            if r.flow.established is False:
                return False
        src, dst = (flow.client, flow.server) if to_server else (flow.server, flow.client)
        fwd = (
            r.src.matches(src[0])
            and r.dst.matches(dst[0])
            and r.src_ports.matches(src[1])
            and r.dst_ports.matches(dst[1])
        )
        if not fwd and r.direction == "<>":
            fwd = (
                r.src.matches(dst[0])
                and r.dst.matches(src[0])
                and r.src_ports.matches(dst[1])
                and r.dst_ports.matches(src[1])
            )
        if not fwd:
            return False
        if p is not None and not self._packetless_options(r, p):
            return False
        if not self._flowbits_check_only(r, flow):
            return False
        for buf_name, items in r.matches.items():
            if buf_name == PAYLOAD:
                s = flow.stream(to_server)
                data = bytes(s.data)
            else:
                got = tx.buffer(buf_name, to_server)
                if got is None:
                    return False
                data = got
            if not match_buffer(items, data):
                return False
        return True

    def _packetless_options(self, r: Rule, p: Packet) -> bool:
        if r.ttl is not None and not r.ttl(p.ttl):
            return False
        return r.flags is None or self._flags_ok(r.flags, p.tcp_flags)

    @staticmethod
    def _flowbits_check_only(r: Rule, flow: Flow) -> bool:
        for op in r.flowbits:
            if op.command == "isset":
                if not (any if op.any_of else all)(n in flow.flowbits for n in op.names):
                    return False
            elif op.command == "isnotset" and not (any if op.any_of else all)(
                n not in flow.flowbits for n in op.names
            ):
                return False
        return True

    def _on_close(self, flow: Flow) -> None:
        if flow.proto != 6 or not flow.tracked:
            return
        for to_server in (True, False):
            self._feed(flow, to_server, flow.stream(to_server).end)
        app = flow.app
        if isinstance(app, _App) and app.http is not None:
            for to_server in (True, False):
                for idx in app.http.close(to_server):
                    app.dirty[0 if to_server else 1].add(idx)
        for to_server in (True, False):
            self._closed_alerts.extend(self._app_rules(flow, to_server, None))

    # ------------------------------------------------------------------ alerts
    @staticmethod
    def _app_proto(flow: Flow | None, tx: HttpTx | None) -> str | None:
        return "http" if tx is not None else _app_proto_of(flow)

    def _alert(
        self,
        r: Rule,
        p: Packet | None,
        flow: Flow | None,
        to_server: bool | None,
        stream: int,
        tx: HttpTx | None,
    ) -> Alert:
        category, severity = "", 3
        if r.classtype is not None:
            category, severity = CLASSIFICATIONS[r.classtype]
        if r.priority is not None:
            severity = r.priority
        severity = min(max(severity, 1), 4)
        metadata: dict[str, list[str]] | None = None
        if r.metadata:
            metadata = {}
            for item in r.metadata:
                k, _, v = item.strip().partition(" ")
                metadata.setdefault(k, []).append(v.strip())
        info = AlertInfo(
            action="blocked" if r.action in ("drop", "reject") else "allowed",
            gid=r.gid,
            signature_id=r.sid,
            rev=r.rev,
            signature=r.msg,
            category=category,
            severity=severity,
            metadata=metadata,
        )
        if p is not None:
            src_ip, dest_ip, sport, dport = p.src_ip, p.dest_ip, p.src_port, p.dest_port
            ts_ns = p.ts_ns
            proto = p.proto_name
        else:
            assert flow is not None and to_server is not None
            a, b = (flow.client, flow.server) if to_server else (flow.server, flow.client)
            src_ip, sport, dest_ip, dport = a[0], a[1], b[0], b[1]
            ts_ns = flow.last_ns
            proto = "TCP" if flow.proto == 6 else str(flow.proto)
        if r.target is not None:
            tgt_dest = r.target == "dest_ip"
            hit = Endpoint(ip=dest_ip, port=dport) if tgt_dest else Endpoint(ip=src_ip, port=sport)
            other = (
                Endpoint(ip=src_ip, port=sport) if tgt_dest else Endpoint(ip=dest_ip, port=dport)
            )
            info = info.model_copy(update={"target": hit, "source": other})
        elif _aggregates_sources(r):
            # Counted per destination: the packet that crossed the threshold may be anyone's,
            # so the alert names its target only (no source to block; see Alert.attacker_ip).
            info = info.model_copy(update={"target": Endpoint(ip=dest_ip, port=dport)})
        flow_info = None
        if flow is not None:
            flow_info = FlowInfo(
                pkts_toserver=flow.pkts_toserver,
                pkts_toclient=flow.pkts_toclient,
                bytes_toserver=flow.bytes_toserver,
                bytes_toclient=flow.bytes_toclient,
                start=_eve_time(flow.start_ns),
                src_ip=flow.client[0],
                dest_ip=flow.server[0],
                src_port=flow.client[1],
                dest_port=flow.server[1],
            )
        http = None
        if tx is not None:
            http = _http_info(tx)
        ether = None
        if p is not None and self.config.eve_ethernet and p.src_mac and p.dest_mac:
            ether = EtherInfo(src_mac=p.src_mac, dest_mac=p.dest_mac)
        packet = packet_info = None
        if self.config.eve_packet and p is not None:
            packet = base64.b64encode(p.frame).decode("ascii")
            packet_info = PacketInfo(linktype=p.linktype)
        uid = flow.flow_id if flow is not None else None
        return Alert(
            ts=datetime.fromtimestamp(ts_ns / 1e9, tz=UTC),
            sensor_id=self.config.sensor_id,
            src_ip=src_ip,
            src_port=sport,
            dest_ip=dest_ip,
            dest_port=dport,
            proto=proto,
            flow_id=uid,
            app_proto=self._app_proto(flow, tx),
            alert=info,
            pcap_cnt=p.number if p is not None else None,
            tx_id=tx.tx_id if tx is not None else None,
            direction=None if to_server is None else ("to_server" if to_server else "to_client"),
            pkt_src="wire/pcap" if p is not None else "stream (flow timeout)",
            stream=stream,
            ether=ether,
            flow=flow_info,
            http=http,
            packet=packet,
            packet_info=packet_info,
            detector="rules",
            score=1.0,
            evidence=[f"pcap:{p.number}"] if p is not None else [f"flow:{uid}"],
        )


def _app_proto_of(flow: Flow | None) -> str | None:
    if flow is None:
        return None
    app = flow.app
    return "http" if isinstance(app, _App) and app.http is not None else None


def _http_info(tx: HttpTx) -> HttpInfo:
    def text(b: bytes | None) -> str | None:
        return None if b is None else b.decode("utf-8", "replace")

    return HttpInfo(
        hostname=tx.hostname(),
        url=text(tx.uri_raw) if tx.has_request else None,
        http_user_agent=text(tx.header(b"user-agent")),
        http_content_type=(text(tx.header(b"content-type", False)) or "").split(";")[0].strip()
        or None,
        http_refer=text(tx.header(b"referer")),
        http_method=text(tx.method) if tx.has_request else None,
        protocol=text(tx.protocol) if tx.has_request else None,
        status=tx.status,
        length=tx.response_body_len if tx.has_response else None,
    )


def _aggregates_sources(r: Rule) -> bool:
    """True when the rule's threshold counts packets from all sources together."""
    return any(
        t is not None and t.track in ("by_dst", "by_rule")
        for t in (r.threshold, r.detection_filter)
    )
