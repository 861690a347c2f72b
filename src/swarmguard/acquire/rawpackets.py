r"""Per-packet views of a capture, with payload, for packet-level detection (the rule engine).

The flow meter (``acquire.pcap``) works on whole arrays and never keeps payloads; a signature
engine needs each packet's headers and payload in order. ``iter_frames`` reads pcap and pcapng
records one at a time (a corrupt or cut record ends the capture: an ``InputError`` by default,
or, with ``stop_at_bad=True``, a warning and the packets read so far, as Suricata does);
``decode_packet`` decodes one frame: Ethernet (802.1Q / QinQ), Linux SLL and SLL2, raw IP,
BSD loopback, PPP (with a compressed protocol field) and PPPoE, then IPv4 / IPv6 (extension
headers, fragments), TCP (options, Fast Open cookie), UDP and ICMP / ICMPv6. The payload is cut
to the IP length, so Ethernet trailer bytes are never inspected. Checksums are verified on
demand (``Packet.checksums_ok``).

Example
-------
>>> frame = bytes(12) + b"\x08\x00" + bytes.fromhex(
...     "4500001c00010000401100000a0000010a00000230390035000800000000")
>>> p = decode_packet(frame, linktype=1, ts_ns=0, number=1)
>>> p.src_ip, p.dest_ip, p.proto_name, p.dest_port, len(p.payload)
('10.0.0.1', '10.0.0.2', 'UDP', 53, 0)
"""

from __future__ import annotations

import ipaddress
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from swarmguard.acquire.pcap import iter_records
from swarmguard.errors import InputError

__all__ = [
    "Frame",
    "Packet",
    "decode_packet",
    "internet_checksum",
    "iter_frames",
    "iter_packets",
]

logger = logging.getLogger(__name__)

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_SLL = 113
LINKTYPE_RAW_IPV4 = 228
LINKTYPE_RAW_IPV6 = 229
LINKTYPE_SLL2 = 276
DLT_RAW_ALT = (12, 14)

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG, TCP_ECE, TCP_CWR = (
    0x01,
    0x02,
    0x04,
    0x08,
    0x10,
    0x20,
    0x40,
    0x80,
)
_PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "IPv6-ICMP", 132: "SCTP", 47: "GRE"}
_V6_EXT = {0, 43, 60, 51, 135, 139, 140}


@dataclass(slots=True)
class Frame:
    """One capture record: its bytes, link type, time and 1-based number."""

    data: bytes
    linktype: int
    ts_ns: int
    number: int


@dataclass(slots=True)
class Packet:
    """A decoded packet: link, IP and transport headers, and the transport payload."""

    ts_ns: int
    number: int
    linktype: int
    frame: bytes
    l3_offset: int = 0
    src_mac: str | None = None
    dest_mac: str | None = None
    ip_version: int = 0
    src_ip: str = ""
    dest_ip: str = ""
    proto: int = -1
    ttl: int = 0
    ip_id: int = 0
    ip_header: bytes = b""
    frag_offset: int = 0
    more_fragments: bool = False
    is_fragment: bool = False
    frag_id: int = 0
    frag_next_header: int = 0
    frag_unfrag_len: int = 0
    l4: bytes = b""
    src_port: int | None = None
    dest_port: int | None = None
    tcp_flags: int = 0
    seq: int = 0
    ack: int = 0
    window: int = 0
    tfo_cookie: bool = False
    icmp_type: int | None = None
    icmp_code: int | None = None
    payload: bytes = b""
    l4_valid: bool = True
    reassembled: bool = False
    events: list[str] = field(default_factory=list)

    @property
    def proto_name(self) -> str:
        """Protocol as Suricata writes it in EVE (``TCP``, ``UDP``, ``ICMP``, ``IPv6-ICMP``)."""
        return _PROTO_NAMES.get(self.proto, str(self.proto))

    @property
    def has_ip(self) -> bool:
        """Whether an IPv4 or IPv6 header was decoded."""
        return self.ip_version in (4, 6)

    def checksums_ok(self) -> bool:
        """Verify the IPv4 header checksum and the TCP / UDP / ICMP checksum."""
        if self.ip_version == 4 and internet_checksum(self.ip_header) != 0:
            return False
        if self.is_fragment or not self.l4_valid or self.proto not in (6, 17, 58):
            return True
        no_udp_sum = self.proto == 17 and len(self.l4) >= 8 and self.l4[6:8] == b"\x00\x00"
        if no_udp_sum and self.ip_version == 4:
            return True
        length = len(self.l4)
        src = ipaddress.ip_address(self.src_ip).packed
        dst = ipaddress.ip_address(self.dest_ip).packed
        if self.ip_version == 4:
            pseudo = src + dst + struct.pack("!BBH", 0, self.proto, length)
        else:
            pseudo = src + dst + struct.pack("!IxxxB", length, self.proto)
        return internet_checksum(pseudo + self.l4) == 0


def internet_checksum(data: bytes) -> int:
    """RFC 1071 checksum of ``data`` (0 when a header with its checksum field verifies).

    >>> internet_checksum(bytes.fromhex("45000073000040004011b861c0a80001c0a800c7"))
    0
    """
    if len(data) % 2:
        data += b"\x00"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def decode_packet(data: bytes, *, linktype: int, ts_ns: int, number: int) -> Packet:
    """Decode one frame; undecodable layers leave the fields they would fill at defaults."""
    p = Packet(ts_ns=ts_ns, number=number, linktype=linktype, frame=data)
    ethertype, off = _link(p, data, linktype)
    if ethertype is None:
        return p
    if ethertype == 0x0800:
        _ipv4(p, data, off)
    elif ethertype == 0x86DD:
        _ipv6(p, data, off)
    return p


def _link(p: Packet, data: bytes, linktype: int) -> tuple[int | None, int]:
    off = 0
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return None, 0
        p.dest_mac, p.src_mac = _mac(data[0:6]), _mac(data[6:12])
        ethertype = struct.unpack_from("!H", data, 12)[0]
        off = 14
        while ethertype in (0x8100, 0x88A8, 0x9100) and len(data) >= off + 4:
            ethertype = struct.unpack_from("!H", data, off + 2)[0]
            off += 4
        if ethertype == 0x8864 and len(data) >= off + 8:  # PPPoE session
            return _ppp_proto(data, off + 6)
        return ethertype, off
    if linktype == LINKTYPE_PPP:
        if data[:2] == b"\xff\x03":
            return _ppp_proto(data, 2)
        return _ppp_proto(data, 0)
    if linktype == LINKTYPE_SLL:
        if len(data) < 16:
            return None, 0
        return struct.unpack_from("!H", data, 14)[0], 16
    if linktype == LINKTYPE_SLL2:
        if len(data) < 20:
            return None, 0
        return struct.unpack_from("!H", data, 0)[0], 20
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            return None, 0
        family = struct.unpack_from("<I" if linktype == 0 else "!I", data, 0)[0]
        if family not in (2, 24, 28, 30):
            family = struct.unpack_from(">I" if linktype == 0 else "<I", data, 0)[0]
        return (0x0800 if family == 2 else 0x86DD), 4
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_IPV4, LINKTYPE_RAW_IPV6, *DLT_RAW_ALT):
        if not data:
            return None, 0
        return (0x0800 if data[0] >> 4 == 4 else 0x86DD), 0
    return None, 0


def _ppp_proto(data: bytes, off: int) -> tuple[int | None, int]:
    if len(data) <= off:
        return None, off
    if data[off] & 1:  # compressed one-byte protocol field
        proto, off = data[off], off + 1
    else:
        if len(data) < off + 2:
            return None, off
        proto, off = struct.unpack_from("!H", data, off)[0], off + 2
    if proto == 0x21:
        return 0x0800, off
    if proto == 0x57:
        return 0x86DD, off
    return None, off


def _ipv4(p: Packet, data: bytes, off: int) -> None:
    if len(data) < off + 20 or data[off] >> 4 != 4:
        p.events.append("ipv4.trunc_pkt")
        return
    ihl = (data[off] & 0x0F) * 4
    total = struct.unpack_from("!H", data, off + 2)[0]
    if ihl < 20 or total < ihl or len(data) < off + ihl:
        p.events.append("ipv4.hlen_too_small")
        return
    end = min(len(data), off + total)
    p.l3_offset = off
    p.ip_version = 4
    p.ip_header = data[off : off + ihl]
    p.ip_id = struct.unpack_from("!H", data, off + 4)[0]
    frag = struct.unpack_from("!H", data, off + 6)[0]
    p.ttl = data[off + 8]
    p.proto = data[off + 9]
    p.src_ip = str(ipaddress.IPv4Address(data[off + 12 : off + 16]))
    p.dest_ip = str(ipaddress.IPv4Address(data[off + 16 : off + 20]))
    p.more_fragments = bool(frag & 0x2000)
    p.frag_offset = (frag & 0x1FFF) * 8
    p.is_fragment = p.more_fragments or p.frag_offset > 0
    p.frag_id = p.ip_id
    body = data[off + ihl : end]
    if p.is_fragment:
        p.payload = body
        return
    _transport(p, body)


def _ipv6(p: Packet, data: bytes, off: int) -> None:
    if len(data) < off + 40 or data[off] >> 4 != 6:
        p.events.append("ipv6.trunc_pkt")
        return
    plen = struct.unpack_from("!H", data, off + 4)[0]
    end = min(len(data), off + 40 + plen)
    p.l3_offset = off
    p.ip_version = 6
    p.ip_header = data[off : off + 40]
    nh = data[off + 6]
    p.ttl = data[off + 7]
    p.src_ip = str(ipaddress.IPv6Address(data[off + 8 : off + 24]))
    p.dest_ip = str(ipaddress.IPv6Address(data[off + 24 : off + 40]))
    pos = off + 40
    while nh in _V6_EXT and pos + 8 <= end:
        if nh == 44:
            break
        hdr_len = (data[pos + 1] + 2) * 4 if nh == 51 else (data[pos + 1] + 1) * 8
        nh = data[pos]
        pos += hdr_len
    if nh == 44 and pos + 8 <= end:
        p.frag_next_header = data[pos]
        fo = struct.unpack_from("!H", data, pos + 2)[0]
        p.frag_offset = fo & 0xFFF8
        p.more_fragments = bool(fo & 1)
        p.frag_id = struct.unpack_from("!I", data, pos + 4)[0]
        p.is_fragment = True
        p.frag_unfrag_len = pos - off
        p.proto = p.frag_next_header
        p.payload = data[pos + 8 : end]
        return
    p.proto = nh
    _transport(p, data[pos:end])


def _transport(p: Packet, body: bytes) -> None:
    p.l4 = body
    if p.proto == 6:
        if len(body) < 20:
            p.l4_valid = False
            p.events.append("tcp.pkt_too_small")
            return
        sport, dport, seq, ack, offflags, win = struct.unpack_from("!HHIIHH", body, 0)
        hlen = (offflags >> 12) * 4
        if hlen < 20 or hlen > len(body):
            p.l4_valid = False
            p.events.append("tcp.hlen_too_small" if hlen < 20 else "tcp.invalid_optlen")
            return
        p.src_port, p.dest_port, p.seq, p.ack, p.window = sport, dport, seq, ack, win
        p.tcp_flags = offflags & 0xFF
        p.tfo_cookie = _has_tfo_option(body[20:hlen])
        p.payload = body[hlen:]
    elif p.proto == 17:
        if len(body) < 8:
            p.l4_valid = False
            p.events.append("udp.pkt_too_small")
            return
        sport, dport, ulen = struct.unpack_from("!HHH", body, 0)
        p.src_port, p.dest_port = sport, dport
        if 8 <= ulen <= len(body):
            p.l4 = body[:ulen]
        p.payload = p.l4[8:]
    elif p.proto in (1, 58):
        if len(body) < 4:
            p.l4_valid = False
            return
        p.icmp_type, p.icmp_code = body[0], body[1]
        p.payload = body[8:] if len(body) >= 8 else b""
    else:
        p.payload = body


def _has_tfo_option(opts: bytes) -> bool:
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            return False
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            return False
        if kind == 34:
            return True
        i += opts[i + 1]
    return False


def iter_frames(path: Path, *, stop_at_bad: bool = False) -> Iterator[Frame]:
    """Yield the records of a pcap or pcapng file one by one (read by ``pcap.iter_records``).

    Raises
    ------
    InputError
        If the file is empty or not a capture; or, unless ``stop_at_bad``, if a record is
        corrupt or cut short (with ``stop_at_bad`` reading stops there with a warning, after
        every record before it).
    """
    records = iter_records(path)
    while True:
        try:
            batch = next(records)
        except StopIteration:
            return
        except InputError as exc:
            if not stop_at_bad or exc.packet is None:
                raise
            logger.warning("%s; stopping there", exc)
            return
        buf = batch.buf.tobytes()
        for off, cap, ts, lt, no in zip(
            batch.offsets.tolist(),
            batch.caplen.tolist(),
            batch.ts_ns.tolist(),
            batch.linktype.tolist(),
            batch.packet_no.tolist(),
            strict=True,
        ):
            yield Frame(buf[off : off + cap], lt, ts, no)


def iter_packets(path: Path, *, stop_at_bad: bool = False) -> Iterator[Packet]:
    """Decode every frame of a capture (see ``iter_frames`` for errors)."""
    for fr in iter_frames(path, stop_at_bad=stop_at_bad):
        yield decode_packet(fr.data, linktype=fr.linktype, ts_ns=fr.ts_ns, number=fr.number)
