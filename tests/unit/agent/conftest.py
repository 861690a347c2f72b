"""Fixtures for the agent tests: a small synthetic capture (mechanics only, no quality claim)."""

from __future__ import annotations

import socket
from pathlib import Path

import dpkt
import pytest


def write_scan(path: Path, src: str = "198.51.100.9", ports: int = 40) -> None:
    with path.open("wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i in range(ports):
            tcp = dpkt.tcp.TCP(sport=40000 + i, dport=20 + i, flags=dpkt.tcp.TH_SYN, seq=i)
            ip = dpkt.ip.IP(
                src=socket.inet_aton(src), dst=socket.inet_aton("10.250.0.2"), p=6, data=tcp
            )
            ip.len = len(bytes(ip))
            eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=0x0800, data=ip)
            w.writepkt(bytes(eth), ts=1_700_000_000 + i * 0.01)


@pytest.fixture
def scan_pcap(tmp_path: Path) -> Path:
    """A SYN scan of 40 ports of 10.250.0.2 from 198.51.100.9, 10 ms apart."""
    path = tmp_path / "scan.pcap"
    write_scan(path)
    return path
