"""IPv4 and IPv6 defragmentation for packet-level detection.

Fragments are kept per (version, source, destination, protocol, id) until the last fragment
has arrived and the pieces cover the datagram without holes; the datagram is then rebuilt as
one packet: the link header and IP header of the first fragment (IPv4: length, flags and
checksum fixed; IPv6: the Fragment header removed and the payload length fixed), followed by
the reassembled payload, and decoded again. Overlapping bytes follow the BSD policy, Suricata's
default: the fragment with the lower offset wins, and of two fragments at the same offset the
first one seen. Incomplete datagrams older than ``timeout_s`` and datagrams over 64 KiB are dropped.

Example
-------
>>> from swarmguard.acquire.rawpackets import decode_packet
>>> import struct
>>> def frag(off, mf, data):
...     flags = (0x2000 if mf else 0) | (off // 8)
...     hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), 7, flags, 64, 17, 0,
...                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
...     return decode_packet(hdr + data, linktype=101, ts_ns=0, number=1)
>>> udp = struct.pack("!HHHH", 1000, 53, 8 + 12, 0) + b"abcdefghijkl"
>>> d = Defragmenter()
>>> d.add(frag(0, True, udp[:16])) is None
True
>>> whole = d.add(frag(16, False, udp[16:]))
>>> whole.dest_port, whole.payload
(53, b'abcdefghijkl')
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from swarmguard.acquire.rawpackets import Packet, decode_packet, internet_checksum

__all__ = ["Defragmenter"]

_Key = tuple[int, str, str, int, int]


@dataclass
class _Datagram:
    first_seen_ns: int
    pieces: dict[int, bytes] = field(default_factory=dict)
    first: Packet | None = None
    total: int | None = None


class Defragmenter:
    """Collect fragments; ``add`` returns the rebuilt packet once a datagram is complete."""

    def __init__(self, timeout_s: float = 60.0, max_datagrams: int = 65536) -> None:
        self.timeout_ns = int(timeout_s * 1e9)
        self.max_datagrams = max_datagrams
        self._open: dict[_Key, _Datagram] = {}
        self.dropped = 0

    def add(self, p: Packet) -> Packet | None:
        """Take one fragment; return the whole packet when this fragment completes it."""
        key = (p.ip_version, p.src_ip, p.dest_ip, p.proto, p.frag_id)
        dg = self._open.get(key)
        if dg is None:
            if len(self._open) >= self.max_datagrams:
                self._expire(p.ts_ns, force=True)
            dg = self._open[key] = _Datagram(first_seen_ns=p.ts_ns)
        if p.frag_offset not in dg.pieces:
            dg.pieces[p.frag_offset] = p.payload
        if p.frag_offset == 0 and dg.first is None:
            dg.first = p
        if not p.more_fragments:
            dg.total = p.frag_offset + len(p.payload)
        whole = self._complete(dg)
        if whole is None:
            if len(self._open) > 1024:
                self._expire(p.ts_ns)
            return None
        del self._open[key]
        assert dg.first is not None
        return _rebuild(dg.first, whole, p)

    def _complete(self, dg: _Datagram) -> bytes | None:
        if dg.total is None or dg.first is None or dg.total > 65535:
            return None
        out = bytearray()
        for off in sorted(dg.pieces):
            data = dg.pieces[off]
            if off > len(out):
                return None
            out += data[len(out) - off :]
        if len(out) < dg.total:
            return None
        return bytes(out[: dg.total])

    def _expire(self, now_ns: int, *, force: bool = False) -> None:
        old = [k for k, d in self._open.items() if now_ns - d.first_seen_ns > self.timeout_ns]
        if force and not old:
            old = list(self._open)[: max(1, len(self._open) // 10)]
        for k in old:
            del self._open[k]
            self.dropped += 1


def _rebuild(first: Packet, payload: bytes, last: Packet) -> Packet:
    link = first.frame[: first.l3_offset]
    if first.ip_version == 4:
        hdr = bytearray(first.ip_header)
        struct.pack_into("!H", hdr, 2, len(hdr) + len(payload))
        struct.pack_into("!H", hdr, 6, 0)
        struct.pack_into("!H", hdr, 10, 0)
        struct.pack_into("!H", hdr, 10, internet_checksum(bytes(hdr)))
        ip = bytes(hdr) + payload
    else:
        start = first.l3_offset
        unfrag = bytearray(first.frame[start : start + first.frag_unfrag_len])
        _set_v6_next_header(unfrag, first.frag_next_header)
        struct.pack_into("!H", unfrag, 4, len(unfrag) - 40 + len(payload))
        ip = bytes(unfrag) + payload
    p = decode_packet(link + ip, linktype=first.linktype, ts_ns=last.ts_ns, number=last.number)
    p.reassembled = True
    return p


def _set_v6_next_header(unfrag: bytearray, next_header: int) -> None:
    """Point the last header before the (removed) Fragment header at ``next_header``."""
    pos, field_at = 40, 6
    nh = unfrag[6]
    while pos < len(unfrag):
        field_at = pos
        hdr_len = (unfrag[pos + 1] + 2) * 4 if nh == 51 else (unfrag[pos + 1] + 1) * 8
        nh = unfrag[pos]
        pos += hdr_len
    unfrag[field_at] = next_header
