"""Flow and TCP session tracking with in-order stream reassembly, for packet-level detection.

``FlowTracker.track`` takes each decoded packet (after defragmentation) and returns a
``PacketFlow``: the flow it belongs to, its direction (to server / to client), whether the
session is established, and the bytes this packet added, in order, to its direction's stream.

TCP sessions start with a SYN (data on a SYN, as TCP Fast Open sends it, joins the stream), move
to established on the handshake's final ACK (packets after it count as established, as for
Suricata's ``flow:established``), and close on FIN or RST. A session whose start
was not captured is picked up from its first packet only when ``midstream`` is on (Suricata's
``stream.midstream``): that packet's sender is taken as the client (a SYN/ACK is turned
round). Out-of-order segments wait (bounded) until the gap is filled; retransmitted bytes are
not added twice. Each direction keeps at most ``window`` bytes of reassembled data for
inspection. UDP and other protocols form flows by their 5-tuple; the first packet's sender is
the client, and the flow counts as established once both sides have spoken.

Flows idle for ``timeout_s`` (event time) or beyond ``max_flows`` are closed, oldest first,
and handed to ``on_close``.

Example
-------
>>> from swarmguard.acquire.rawpackets import Packet
>>> def seg(src, dst, sp, dp, flags, seq, ack, data=b""):
...     return Packet(ts_ns=0, number=1, linktype=101, frame=b"", ip_version=4, src_ip=src,
...                   dest_ip=dst, proto=6, src_port=sp, dest_port=dp, tcp_flags=flags,
...                   seq=seq, ack=ack, payload=data)
>>> t = FlowTracker()
>>> t.track(seg("10.0.0.1", "10.0.0.2", 999, 80, 0x02, 100, 0)).to_server
True
>>> t.track(seg("10.0.0.2", "10.0.0.1", 80, 999, 0x12, 500, 101)).to_server
False
>>> t.track(seg("10.0.0.1", "10.0.0.2", 999, 80, 0x10, 101, 501)).established
False
>>> pf = t.track(seg("10.0.0.1", "10.0.0.2", 999, 80, 0x18, 101, 501, b"GET /"))
>>> pf.established, pf.added
(True, b'GET /')
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from swarmguard.acquire.rawpackets import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Packet

__all__ = ["Flow", "FlowTracker", "PacketFlow", "Stream"]

_Key = tuple[int, str, int, str, int]
_MOD = 1 << 32
_flow_ids = itertools.count(1)


@dataclass(slots=True)
class Stream:
    """One direction of a TCP session: reassembled bytes and sequence bookkeeping."""

    next_seq: int | None = None
    data: bytearray = field(default_factory=bytearray)
    base: int = 0  # stream offset of data[0]
    pending: dict[int, bytes] = field(default_factory=dict)
    acked_to: int = 0  # stream offset up to which the other side acknowledged
    isn: int = 0
    fin: bool = False

    @property
    def end(self) -> int:
        """Stream offset just after the last in-order byte."""
        return self.base + len(self.data)

    def offset_of(self, seq: int) -> int:
        """Stream offset of sequence number ``seq`` (wrap-around aware)."""
        return (seq - self.isn) % _MOD


@dataclass(slots=True)
class Flow:
    """A bidirectional flow with counters, TCP state and per-direction streams."""

    key: _Key
    flow_id: int
    proto: int
    client: tuple[str, int | None]
    server: tuple[str, int | None]
    start_ns: int
    last_ns: int
    pkts_toserver: int = 0
    pkts_toclient: int = 0
    bytes_toserver: int = 0
    bytes_toclient: int = 0
    state: str = "new"  # new, syn_sent, syn_recv, established, closing, closed
    tracked: bool = False
    streams: tuple[Stream, Stream] = field(default_factory=lambda: (Stream(), Stream()))
    seen_toclient: bool = False
    flowbits: set[str] = field(default_factory=set)
    app: object | None = None  # app-layer state owned by the detector
    reversed: bool = False

    def stream(self, to_server: bool) -> Stream:
        """The stream of one direction (client to server when ``to_server``)."""
        return self.streams[0 if to_server else 1]

    def swap_direction(self) -> None:
        """Turn the flow round (app-layer found the first talker was the server)."""
        self.client, self.server = self.server, self.client
        self.pkts_toserver, self.pkts_toclient = self.pkts_toclient, self.pkts_toserver
        self.bytes_toserver, self.bytes_toclient = self.bytes_toclient, self.bytes_toserver
        self.streams = (self.streams[1], self.streams[0])
        self.reversed = not self.reversed


@dataclass(slots=True)
class PacketFlow:
    """What tracking a packet tells detection."""

    flow: Flow
    to_server: bool
    established: bool
    added: bytes = b""  # bytes this packet appended, in order, to its direction's stream
    stream_added: bool = False  # the packet's payload went into the stream (not packet-only)
    acked: int = 0  # bytes of the other direction newly acknowledged by this packet


def _key(p: Packet) -> tuple[_Key, bool]:
    a = (p.src_ip, p.src_port or 0)
    b = (p.dest_ip, p.dest_port or 0)
    if a <= b:
        return (p.proto, a[0], a[1], b[0], b[1]), True
    return (p.proto, b[0], b[1], a[0], a[1]), False


class FlowTracker:
    """Track flows and TCP sessions of a packet sequence (see the module docstring)."""

    def __init__(
        self,
        *,
        midstream: bool = False,
        window: int = 65536,
        timeout_s: float = 600.0,
        max_flows: int = 200_000,
        max_pending: int = 256,
        on_close: Callable[[Flow], None] | None = None,
    ) -> None:
        self.midstream = midstream
        self.window = window
        self.timeout_ns = int(timeout_s * 1e9)
        self.max_flows = max_flows
        self.max_pending = max_pending
        self.on_close = on_close
        self.flows: OrderedDict[_Key, Flow] = OrderedDict()

    def track(self, p: Packet, *, stream: bool = True) -> PacketFlow:
        """Update the flow of ``p`` and return its direction, state and new stream bytes.

        With ``stream=False`` (a packet with a bad checksum) only the counters move: the
        packet changes no TCP state and adds nothing to the stream.
        """
        key, _ = _key(p)
        flow = self.flows.get(key)
        if flow is None:
            flow = self._new_flow(key, p)
        else:
            self.flows.move_to_end(key)
        flow.last_ns = p.ts_ns
        to_server = (p.src_ip, p.src_port) == flow.client and (
            (p.dest_ip, p.dest_port) == flow.server or flow.client != flow.server
        )
        size = len(p.frame)
        if to_server:
            flow.pkts_toserver += 1
            flow.bytes_toserver += size
        else:
            flow.pkts_toclient += 1
            flow.bytes_toclient += size
            flow.seen_toclient = True
        if p.proto == 6 and p.l4_valid and not stream:
            est = flow.state in ("established", "closing")
            result = PacketFlow(flow, to_server, est)
        elif p.proto == 6 and p.l4_valid:
            result = self._tcp(flow, p, to_server)
        else:
            result = PacketFlow(flow, to_server, flow.seen_toclient and flow.pkts_toserver > 0)
        self._expire(p.ts_ns)
        return result

    def _new_flow(self, key: _Key, p: Packet) -> Flow:
        src, dst = (p.src_ip, p.src_port), (p.dest_ip, p.dest_port)
        client, server = src, dst
        if p.proto == 6 and p.tcp_flags & TCP_SYN and p.tcp_flags & TCP_ACK:
            client, server = dst, src  # a SYN/ACK comes from the server
        flow = Flow(key, next(_flow_ids), p.proto, client, server, p.ts_ns, p.ts_ns)
        self.flows[key] = flow
        return flow

    def _tcp(self, flow: Flow, p: Packet, to_server: bool) -> PacketFlow:
        flags = p.tcp_flags
        mine = flow.stream(to_server)
        other = flow.stream(not to_server)
        res = PacketFlow(flow, to_server, False)
        if flow.state == "new":
            if flags & TCP_SYN and not flags & TCP_ACK:
                flow.state, flow.tracked = "syn_sent", True
                mine.isn, mine.next_seq = p.seq, (p.seq + 1) % _MOD
                mine.base = 1
            elif flags & TCP_SYN and self.midstream:
                flow.state, flow.tracked = "syn_recv", True
                mine.isn, mine.next_seq, mine.base = p.seq, (p.seq + 1) % _MOD, 1
                other.isn, other.next_seq, other.base = (p.ack - 1) % _MOD, p.ack, 1
            elif self.midstream and not flags & (TCP_SYN | TCP_RST):
                flow.state, flow.tracked = "established", True
                mine.isn, mine.next_seq = p.seq, p.seq
                if flags & TCP_ACK:
                    other.isn, other.next_seq = p.ack, p.ack
            else:
                flow.state = "untracked"
            if flags & TCP_SYN and p.payload and flow.tracked:
                res.added = self._add(mine, (p.seq + 1) % _MOD, p.payload)
                res.stream_added = True
                res.established = flow.state == "established"
            else:
                res.established = flow.state == "established"
                if flow.tracked and p.payload:
                    res.added = self._add(mine, p.seq, p.payload)
                    res.stream_added = True
            return res
        if not flow.tracked:
            return res
        if flags & TCP_RST:
            flow.state = "closed"
            return res
        if flow.state == "syn_sent" and not to_server and flags & TCP_SYN and flags & TCP_ACK:
            flow.state = "syn_recv"
            mine.isn, mine.next_seq, mine.base = p.seq, (p.seq + 1) % _MOD, 1
        elif flow.state == "syn_recv" and to_server and flags & TCP_ACK and not flags & TCP_SYN:
            flow.state = "established"  # this ACK itself does not count as established
        elif flow.state in ("established", "closing"):
            res.established = True
        if mine.next_seq is None and not flags & TCP_SYN:
            mine.isn, mine.next_seq = p.seq, p.seq
        if flags & TCP_ACK and other.next_seq is not None:
            acked = min(other.offset_of(p.ack), other.end)
            if acked > other.acked_to:
                res.acked = acked - other.acked_to
                other.acked_to = acked
        if p.payload and not flags & TCP_SYN and mine.next_seq is not None:
            res.added = self._add(mine, p.seq, p.payload)
            res.stream_added = True
        if flags & TCP_FIN:
            mine.fin = True
            if flow.state == "established":
                flow.state = "closing"
            if other.fin:
                flow.state = "closing"
        return res

    def _add(self, s: Stream, seq: int, data: bytes) -> bytes:
        assert s.next_seq is not None
        ahead = (seq - s.next_seq) % _MOD
        if ahead >= 1 << 31:  # starts before next_seq: keep only the new tail
            cut = _MOD - ahead
            if cut >= len(data):
                return b""
            data, seq = data[cut:], s.next_seq
            ahead = 0
        if ahead > 0:
            if len(s.pending) < self.max_pending:
                s.pending.setdefault(seq, data)
            return b""
        added = bytearray(data)
        s.next_seq = (s.next_seq + len(data)) % _MOD
        while s.pending:
            nxt = s.pending.pop(s.next_seq, None)
            if nxt is None:
                stale = [q for q in s.pending if (q - s.next_seq) % _MOD >= 1 << 31]
                for q in stale:
                    old = s.pending.pop(q)
                    over = (s.next_seq - q) % _MOD
                    if over < len(old):
                        s.pending[s.next_seq] = old[over:]
                if s.next_seq not in s.pending:
                    break
                continue
            added += nxt
            s.next_seq = (s.next_seq + len(nxt)) % _MOD
        s.data += added
        if len(s.data) > self.window:
            drop = len(s.data) - self.window
            del s.data[:drop]
            s.base += drop
        return bytes(added)

    def _expire(self, now_ns: int) -> None:
        while self.flows:
            key, flow = next(iter(self.flows.items()))
            if len(self.flows) <= self.max_flows and now_ns - flow.last_ns <= self.timeout_ns:
                break
            del self.flows[key]
            if self.on_close is not None:
                self.on_close(flow)

    def close_all(self) -> None:
        """Close every open flow (end of capture), handing each to ``on_close``."""
        while self.flows:
            _, flow = self.flows.popitem(last=False)
            if self.on_close is not None:
                self.on_close(flow)
