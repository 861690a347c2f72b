r"""Decode captured frames into columnar packet arrays (one numpy array per header field).

The container readers (``acquire.pcap``, ``acquire.live``) hand this module a byte buffer and,
for each frame in it, the offset, captured length, wire length, timestamp and link type. The
decoder gathers every header field for all frames at once with numpy fancy indexing: there is
no Python object per packet. Supported:

* link types: Ethernet (1), Linux SLL (113) and SLL2 (276), raw IP (101, 228 IPv4, 229 IPv6,
  and the BSD values 12 and 14), BSD null (0) and OpenBSD loopback (108);
* 802.1Q / 802.1ad VLAN tags, up to three deep (QinQ); the outer VLAN id is kept;
* IPv4 and IPv6; IPv6 extension headers (hop-by-hop, routing, destination options, fragment,
  AH, mobility, HIP, shim6) are skipped to reach the transport header;
* TCP, UDP, ICMP and ICMPv6; other IP protocols get ports 0 and no transport header.

IP fragments: only the first fragment carries the transport header. A later fragment is
attributed to the ports of its first fragment, looked up by (source, destination, protocol,
IP id) when that first fragment was seen earlier in the capture (``FragmentTracker``); otherwise
it keeps ports 0 and becomes part of a portless flow. Its transport header length is 0 and its
payload length is the fragment's data length.

Frames that are not IP (ARP, LLDP, ...) are dropped and counted (``DecodeResult.non_ip``).
Frames whose headers are broken (an IPv4 header length below 20, a frame cut inside the IP or
the fixed transport header, a link type we cannot decode) are reported in ``DecodeResult.bad``
with a reason, so that the caller either raises ``InputError`` or counts them in a ``SkipLog``.

Example
-------
>>> import numpy as np
>>> frame = bytes(12) + b"\x08\x00" + bytes.fromhex(
...     "4500001c0001000040110000c0a80001c0a80002"  # IPv4 192.168.0.1 -> .2, UDP
...     "303900350008 0000")                         # UDP 12345 -> 53, no payload
>>> buf = np.frombuffer(frame, dtype=np.uint8)
>>> res = decode_frames(buf, offsets=np.array([0]), caplen=np.array([len(frame)]),
...                     wirelen=np.array([len(frame)]), ts_ns=np.array([0]),
...                     linktype=np.array([1]), packet_no=np.array([1]))
>>> int(res.packets.sport[0]), int(res.packets.dport[0]), int(res.packets.ip_proto[0])
(12345, 53, 17)
>>> format_ip(res.packets.src_hi[:1], res.packets.src_lo[:1])
['192.168.0.1']
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

__all__ = [
    "LINKTYPES",
    "DecodeResult",
    "FragmentTracker",
    "PacketChunk",
    "address_bytes",
    "decode_frames",
    "format_ip",
]

logger = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]
B = npt.NDArray[np.bool_]

#: Link types this decoder understands (LINKTYPE_* numbers from tcpdump.org).
LINKTYPES: dict[int, str] = {
    0: "BSD null",
    1: "Ethernet",
    12: "raw IP",
    14: "raw IP",
    101: "raw IP",
    108: "OpenBSD loopback",
    113: "Linux SLL",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux SLL2",
}

_V4_PREFIX = np.uint64(0xFFFF00000000)
_VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
_V6_EXT = (0, 43, 44, 51, 60, 135, 139, 140, 253, 254)

_REASONS = {
    1: "frame shorter than its link-layer header",
    2: "unsupported link type",
    3: "broken IPv4 header",
    4: "broken IPv6 header",
    5: "frame cut inside the transport header",
    6: "broken TCP header",
    7: "IP version does not match the link-layer type",
}


@dataclass
class PacketChunk:
    """Decoded IP packets, one numpy array per field, all of the same length.

    Addresses are IPv6 or IPv4-mapped IPv6 (``::ffff:a.b.c.d``) split into two 64-bit halves.
    ``vlan``, ``tcp_win``, ``icmp_type`` and ``icmp_code`` are -1 where they do not apply.
    ``frag`` is 0 for an unfragmented packet, 1 for a first fragment, 2 for a later one.
    """

    packet_no: I64
    ts_ns: I64
    src_hi: U64
    src_lo: U64
    dst_hi: U64
    dst_lo: U64
    is_v6: B
    sport: I64
    dport: I64
    ip_proto: I64
    frame_len: I64
    l4_hdr_len: I64
    payload_len: I64
    tcp_flags: I64
    tcp_win: I64
    ttl: I64
    vlan: I64
    icmp_type: I64
    icmp_code: I64
    ip_id: I64
    frag: I64

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    @classmethod
    def empty(cls) -> PacketChunk:
        """Return a chunk with no packets."""
        cols: dict[str, np.ndarray] = {}
        for f in fields(cls):
            dtype = np.uint64 if f.name.endswith(("_hi", "_lo")) else np.int64
            cols[f.name] = np.zeros(0, dtype=np.bool_ if f.name == "is_v6" else dtype)
        return cls(**cols)

    def take(self, index: npt.NDArray[np.int64] | B) -> PacketChunk:
        """Return the packets selected by an index array or boolean mask."""
        return PacketChunk(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concat(cls, chunks: list[PacketChunk]) -> PacketChunk:
        """Concatenate chunks in order."""
        chunks = [c for c in chunks if len(c)]
        if not chunks:
            return cls.empty()
        if len(chunks) == 1:
            return chunks[0]
        return cls(
            **{f.name: np.concatenate([getattr(c, f.name) for c in chunks]) for f in fields(cls)}
        )


@dataclass
class DecodeResult:
    """What ``decode_frames`` found: IP packets, how many frames were not IP, broken frames."""

    packets: PacketChunk
    non_ip: int
    bad_packet_no: I64
    bad_reason: list[str]


class FragmentTracker:
    """Remember first IP fragments so that later fragments get their ports.

    Keyed by (source, destination, protocol, IP id); holds at most ``max_entries`` entries
    (oldest dropped first), so memory stays bounded on long captures.
    """

    def __init__(self, max_entries: int = 65536) -> None:
        self.max_entries = max_entries
        self._ports: dict[tuple[int, int, int, int, int, int], tuple[int, int]] = {}

    def apply(self, chunk: PacketChunk) -> None:
        """Record first fragments and fill in the ports of later fragments, in place."""
        idx = np.flatnonzero(chunk.frag > 0)
        if idx.size == 0:
            return
        cols = (
            chunk.src_hi[idx].tolist(),
            chunk.src_lo[idx].tolist(),
            chunk.dst_hi[idx].tolist(),
            chunk.dst_lo[idx].tolist(),
            chunk.ip_proto[idx].tolist(),
            chunk.ip_id[idx].tolist(),
        )
        frag = chunk.frag[idx].tolist()
        sport = chunk.sport[idx].tolist()
        dport = chunk.dport[idx].tolist()
        for j, i in enumerate(idx.tolist()):
            key = (cols[0][j], cols[1][j], cols[2][j], cols[3][j], cols[4][j], cols[5][j])
            if frag[j] == 1:
                self._ports.pop(key, None)
                self._ports[key] = (sport[j], dport[j])
                if len(self._ports) > self.max_entries:
                    del self._ports[next(iter(self._ports))]
            else:
                ports = self._ports.get(key)
                if ports is not None:
                    chunk.sport[i], chunk.dport[i] = ports


def _gather(buf: U8, idx: I64) -> I64:
    top = buf.shape[0] - 1
    if top < 0:
        return np.zeros(idx.shape, dtype=np.int64)
    return buf[np.clip(idx, 0, top)].astype(np.int64)


def _be16(buf: U8, idx: I64) -> I64:
    return (_gather(buf, idx) << 8) | _gather(buf, idx + 1)


def _be32(buf: U8, idx: I64) -> I64:
    return (_be16(buf, idx) << 16) | _be16(buf, idx + 2)


def _be64(buf: U8, idx: I64) -> U64:
    return ((_be32(buf, idx).astype(np.uint64)) << np.uint64(32)) | _be32(buf, idx + 4).astype(
        np.uint64
    )


def decode_frames(
    buf: U8,
    *,
    offsets: I64,
    caplen: I64,
    wirelen: I64,
    ts_ns: I64,
    linktype: I64,
    packet_no: I64,
) -> DecodeResult:
    """Decode frames stored in ``buf`` into a ``PacketChunk``.

    Parameters
    ----------
    buf
        The bytes holding the frames (uint8 view).
    offsets, caplen, wirelen, ts_ns, linktype, packet_no
        Per frame: start offset in ``buf``, captured length, original length on the wire,
        timestamp in nanoseconds since the epoch, link type, and 1-based number in the capture.

    Returns
    -------
    DecodeResult
        The IP packets, the count of frames that are not IP, and the broken frames.
    """
    n = int(offsets.shape[0])
    off = offsets.astype(np.int64)
    end = off + caplen.astype(np.int64)
    lt = linktype.astype(np.int64)
    reason = np.zeros(n, dtype=np.int64)
    ip = np.zeros(n, dtype=np.bool_)

    # --- link layer -> (l3 offset, ethertype)
    l3 = off.copy()
    et = np.zeros(n, dtype=np.int64)
    known = np.isin(lt, list(LINKTYPES))
    reason[~known] = 2
    eth = lt == 1
    sll = lt == 113
    sll2 = lt == 276
    for mask, link_len, et_at in ((eth, 14, 12), (sll, 16, 14), (sll2, 20, 0)):
        short = mask & (caplen < link_len)
        reason[short] = 1
        et = np.where(mask, _be16(buf, off + et_at), et)
        l3 = np.where(mask, off + link_len, l3)
    null = (lt == 0) | (lt == 108)
    reason[null & (caplen < 5)] = 1
    l3 = np.where(null, off + 4, l3)
    raw = np.isin(lt, (12, 14, 101)) | null
    reason[raw & (caplen < 1)] = 1
    version = _gather(buf, l3) >> 4
    et = np.where(raw & (version == 4), 0x0800, et)
    et = np.where(raw & (version == 6), 0x86DD, et)
    reason[raw & ~null & (reason == 0) & (version != 4) & (version != 6)] = 7
    et = np.where(lt == 228, 0x0800, et)
    et = np.where(lt == 229, 0x86DD, et)

    vlan = np.full(n, -1, dtype=np.int64)
    tagged = eth | sll | sll2
    for _ in range(3):
        m = tagged & (reason == 0) & np.isin(et, _VLAN_TYPES)
        if not m.any():
            break
        reason[m & (l3 + 4 > end)] = 1
        m &= reason == 0
        vlan = np.where(m & (vlan < 0), _be16(buf, l3) & 0xFFF, vlan)
        et = np.where(m, _be16(buf, l3 + 2), et)
        l3 = np.where(m, l3 + 4, l3)

    ok = reason == 0
    v4 = ok & (et == 0x0800)
    v6 = ok & (et == 0x86DD)
    ip = v4 | v6

    # --- IPv4
    b0 = _gather(buf, l3)
    ihl = (b0 & 0xF) * 4
    tot = _be16(buf, l3 + 2)
    tot = np.where(v4 & (tot == 0), end - l3, tot)  # TSO captures write 0
    bad4 = v4 & ((l3 + 20 > end) | (b0 >> 4 != 4) | (ihl < 20) | (l3 + ihl > end) | (tot < ihl))
    reason[bad4] = 3
    v4 &= ~bad4
    ff = _be16(buf, l3 + 6)
    foff = np.where(v4, ff & 0x1FFF, 0)
    more = np.where(v4, (ff & 0x2000) != 0, False)
    ip_id = np.where(v4, _be16(buf, l3 + 4), 0)
    ttl = np.where(v4, _gather(buf, l3 + 8), 0)
    proto = np.where(v4, _gather(buf, l3 + 9), 0)
    zero = np.zeros(n, dtype=np.uint64)
    src_hi = zero.copy()
    dst_hi = zero.copy()
    src_lo = np.where(v4, _be32(buf, l3 + 12).astype(np.uint64) | _V4_PREFIX, zero)
    dst_lo = np.where(v4, _be32(buf, l3 + 16).astype(np.uint64) | _V4_PREFIX, zero)
    l4 = np.where(v4, l3 + ihl, 0)
    l4len = np.where(v4, tot - ihl, 0)

    # --- IPv6
    bad6 = v6 & ((l3 + 40 > end) | (b0 >> 4 != 6))
    reason[bad6] = 4
    v6 &= ~bad6
    if v6.any():
        plen = _be16(buf, l3 + 4)
        plen = np.where(plen == 0, end - l3 - 40, plen)  # jumbogram or TSO
        nh = _gather(buf, l3 + 6)
        ttl = np.where(v6, _gather(buf, l3 + 7), ttl)
        src_hi = np.where(v6, _be64(buf, l3 + 8), src_hi)
        src_lo = np.where(v6, _be64(buf, l3 + 16), src_lo)
        dst_hi = np.where(v6, _be64(buf, l3 + 24), dst_hi)
        dst_lo = np.where(v6, _be64(buf, l3 + 32), dst_lo)
        cur = l3 + 40
        walking = v6.copy()
        for _ in range(8):
            m = walking & np.isin(nh, _V6_EXT)
            if not m.any():
                break
            cut = m & (cur + 8 > end)
            reason[cut] = 4
            m &= ~cut
            walking &= ~cut
            hlen = np.where(
                nh == 51, (_gather(buf, cur + 1) + 2) * 4, (_gather(buf, cur + 1) + 1) * 8
            )
            isfrag = m & (nh == 44)
            hlen = np.where(isfrag, 8, hlen)
            fw = _be16(buf, cur + 2)
            foff = np.where(isfrag, fw >> 3, foff)
            more = np.where(isfrag, (fw & 1) != 0, more)
            ip_id = np.where(isfrag, _be32(buf, cur + 4), ip_id)
            nh = np.where(m, _gather(buf, cur), nh)
            cur = np.where(m, cur + hlen, cur)
            plen = np.where(m, plen - hlen, plen)
            walking &= ~(isfrag & (foff > 0))
        bad = v6 & (plen < 0)
        reason[bad] = 4
        v6 &= ~bad
        proto = np.where(v6, nh, proto)
        l4 = np.where(v6, cur, l4)
        l4len = np.where(v6, plen, l4len)

    ip = (v4 | v6) & (reason == 0)
    frag = np.where(foff > 0, 2, np.where(more, 1, 0))
    head = ip & (foff == 0)

    # --- transport
    tcp = head & (proto == 6)
    udp = head & (proto == 17)
    icmp = head & ((proto == 1) | (proto == 58))
    reason[(tcp & ((l4 + 20 > end) | (l4len < 20)))] = 5
    reason[(udp & ((l4 + 8 > end) | (l4len < 8)))] = 5
    reason[(icmp & ((l4 + 4 > end) | (l4len < 4)))] = 5
    tcp &= reason == 0
    doff = (_gather(buf, l4 + 12) >> 4) * 4
    reason[tcp & ((doff < 20) | (doff > l4len))] = 6
    ip &= reason == 0
    tcp &= ip
    udp &= ip
    icmp &= ip
    ported = tcp | udp
    sport = np.where(ported, _be16(buf, l4), 0)
    dport = np.where(ported, _be16(buf, l4 + 2), 0)
    hdr = np.where(tcp, doff, np.where(udp, 8, np.where(icmp, np.minimum(8, l4len), 0)))
    flags = np.where(tcp, _gather(buf, l4 + 13), 0)
    win = np.where(tcp, _be16(buf, l4 + 14), -1)
    itype = np.where(icmp, _gather(buf, l4), -1)
    icode = np.where(icmp, _gather(buf, l4 + 1), -1)

    non_ip = int(np.count_nonzero((reason == 0) & ~ip))
    bad_idx = np.flatnonzero(reason != 0)
    bad_reason = [
        _REASONS[r] + (f" {int(lt[i])}" if r == 2 else "")
        for i, r in zip(bad_idx.tolist(), reason[bad_idx].tolist(), strict=True)
    ]
    sel = np.flatnonzero(ip)
    chunk = PacketChunk(
        packet_no=packet_no.astype(np.int64)[sel],
        ts_ns=ts_ns.astype(np.int64)[sel],
        src_hi=src_hi[sel],
        src_lo=src_lo[sel],
        dst_hi=dst_hi[sel],
        dst_lo=dst_lo[sel],
        is_v6=v6[sel],
        sport=sport[sel],
        dport=dport[sel],
        ip_proto=proto[sel],
        frame_len=wirelen.astype(np.int64)[sel],
        l4_hdr_len=hdr[sel],
        payload_len=(l4len - hdr)[sel],
        tcp_flags=flags[sel],
        tcp_win=win[sel],
        ttl=ttl[sel],
        vlan=vlan[sel],
        icmp_type=itype[sel],
        icmp_code=icode[sel],
        ip_id=ip_id[sel],
        frag=frag[sel],
    )
    return DecodeResult(chunk, non_ip, packet_no.astype(np.int64)[bad_idx], bad_reason)


def address_bytes(hi: U64, lo: U64) -> list[bytes]:
    r"""Return packed addresses: 4 bytes for IPv4-mapped addresses, else 16 bytes.

    Examples
    --------
    >>> address_bytes(np.array([0], dtype=np.uint64), np.array([0xFFFF0A000001], dtype=np.uint64))
    [b'\n\x00\x00\x01']
    """
    out: list[bytes] = []
    for h, lo_ in zip(hi.tolist(), lo.tolist(), strict=True):
        if h == 0 and (lo_ >> 32) == 0xFFFF:
            out.append((lo_ & 0xFFFFFFFF).to_bytes(4, "big"))
        else:
            out.append(((h << 64) | lo_).to_bytes(16, "big"))
    return out


def format_ip(hi: U64, lo: U64) -> list[str]:
    """Format split 128-bit addresses as text; IPv4-mapped addresses print as IPv4.

    Examples
    --------
    >>> format_ip(np.array([0], dtype=np.uint64), np.array([0xFFFF0A000001], dtype=np.uint64))
    ['10.0.0.1']
    >>> format_ip(np.array([0xFD00 << 48], dtype=np.uint64), np.array([1], dtype=np.uint64))
    ['fd00::1']
    """
    return [
        socket.inet_ntop(socket.AF_INET if len(b) == 4 else socket.AF_INET6, b)
        for b in address_bytes(hi, lo)
    ]
