"""Packets/s of candidate packet parsers on the StopDDoS SYN-flood capture.

Each candidate reads the file and extracts the fields the flow meter needs (time, addresses,
ports, protocol, lengths, TCP flags and window, TTL). Run: ``.venv/bin/python
benchmarks/parser_candidates.py``. Slow candidates parse a prefix and are extrapolated.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from _paths import synflood_pcap
from swarmguard.acquire.packets import decode_frames
from swarmguard.acquire.pcap import iter_records

PREFIX = 5000


def numpy_reader(path: Path) -> int:
    n = 0
    for rb in iter_records(path):
        res = decode_frames(
            rb.buf,
            offsets=rb.offsets,
            caplen=rb.caplen,
            wirelen=rb.wirelen,
            ts_ns=rb.ts_ns,
            linktype=rb.linktype,
            packet_no=rb.packet_no,
        )
        n += len(res.packets) + int(res.bad_packet_no.size) + res.non_ip
    return n


def dpkt_reader_numpy_decode(path: Path) -> int:
    import dpkt

    with path.open("rb") as fh:
        recs = list(dpkt.pcap.Reader(fh))
    lengths = np.array([len(b) for _, b in recs], dtype=np.int64)
    offsets = np.zeros(len(recs), dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)[:-1]
    res = decode_frames(
        np.frombuffer(b"".join(b for _, b in recs), dtype=np.uint8),
        offsets=offsets,
        caplen=lengths,
        wirelen=lengths,
        ts_ns=np.array([int(t * 1e9) for t, _ in recs]),
        linktype=np.ones(len(recs), dtype=np.int64),
        packet_no=np.arange(1, len(recs) + 1),
    )
    return len(res.packets)


def dpkt_full(path: Path) -> int:
    import dpkt

    n = 0
    with path.open("rb") as fh:
        for ts, buf in dpkt.pcap.Reader(fh):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                l4 = ip.data
                _ = (ts, ip.src, ip.dst, ip.p, ip.ttl, ip.len, len(buf))
                if isinstance(l4, dpkt.tcp.TCP):
                    _ = (l4.sport, l4.dport, l4.flags, l4.win, len(l4.data))
            n += 1
    return n


def scapy_prefix(path: Path) -> int:
    from scapy.layers.inet import IP, TCP
    from scapy.utils import PcapReader

    n = 0
    with PcapReader(str(path)) as reader:
        for pkt in reader:
            if IP in pkt:
                ip = pkt[IP]
                _ = (pkt.time, ip.src, ip.dst, ip.proto, ip.ttl, ip.len, len(pkt))
                if TCP in pkt:
                    t = pkt[TCP]
                    _ = (t.sport, t.dport, int(t.flags), t.window, len(t.payload))
            n += 1
            if n >= PREFIX:
                break
    return n


def nfstream_flows(path: Path) -> int:
    from nfstream import NFStreamer

    return sum(f.bidirectional_packets for f in NFStreamer(source=str(path), n_meters=1))


def main() -> None:
    path = synflood_pcap()
    candidates: list[tuple[str, Callable[[Path], int]]] = [
        ("hand-rolled record walk + numpy decode (chosen)", numpy_reader),
        ("dpkt record reader + numpy decode", dpkt_reader_numpy_decode),
        ("dpkt per-packet objects", dpkt_full),
        (f"scapy PcapReader (first {PREFIX} packets)", scapy_prefix),
        ("nfstream (C flow meter, flows out)", nfstream_flows),
    ]
    cpus = os.cpu_count()
    print(f"# {path.name}, {platform.machine()}, {cpus} CPUs, python {platform.python_version()}")
    for name, fn in candidates:
        try:
            fn(path)  # warm up imports and page cache
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                n = fn(path)
                best = min(best, time.perf_counter() - t0)
                if best > 5:
                    break
            print(f"{name:55s} {n / best:>12,.0f} packets/s  ({n} packets, {best:.3f} s)")
        except Exception as exc:  # a candidate that cannot run is reported, not fatal
            print(f"{name:55s} failed: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
