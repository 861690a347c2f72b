"""Every public capture becomes flows whose packets and bytes agree exactly with tshark.

Method: tshark exports one line per frame (``-T fields``, first occurrence of each field so an
ICMP error's quoted header does not count, IP reassembly off so each fragment is its own
frame). The test groups those lines into conversations with the rule documented in
``acquire.packets``: key = unordered endpoints + IP protocol + outer VLAN; ports only for TCP
and UDP; a later IP fragment takes the ports of its first fragment when that was seen before,
else ports 0. With idle and active timeouts far longer than any capture, every flow lies inside
one conversation, so summing our flows per key must give tshark's frame count and the sum of
``frame.len`` exactly, and the originator of a key's first flow must be the sender of its first
frame.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from swarmguard.acquire.pcap import read_pcap
from swarmguard.config import FlowMeterSettings
from swarmguard.records.flow import validate_flow_table

FIELDS = [
    "frame.len",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.proto",
    "ipv6.nxt",
    "ip.id",
    "ip.frag_offset",
    "ip.flags.mf",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "vlan.id",
]
Key = tuple[object, ...]


def _captures(datasets_dir: Path) -> list[Path]:
    root = datasets_dir / "pcaps"
    found = sorted([*root.rglob("*.pcap"), *root.rglob("*.pcapng")])
    assert found, f"no captures under {root}"
    return found


def _tshark() -> str:
    exe = shutil.which("tshark")
    if exe is None:
        pytest.fail("tshark is not installed: apt-get install -y tshark (the comparison needs it)")
    return exe


def _tshark_frames(path: Path) -> list[list[str]]:
    cmd = [_tshark(), "-r", str(path), "-n", "-o", "ip.defragment:FALSE"]
    cmd += ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    return [line.split("\t") for line in out.splitlines()]


def _key(src: str, sport: int, dst: str, dport: int, proto: int, vlan: int) -> Key:
    a, b = sorted([(src, sport), (dst, dport)], key=lambda e: (_addr_key(e[0]), e[1]))
    return (a, b, proto, vlan)


def _addr_key(addr: str) -> bytes:
    import ipaddress

    ip = ipaddress.ip_address(addr)
    return ip.packed if ip.version == 6 else b"\0" * 10 + b"\xff\xff" + ip.packed


def _tshark_conversations(path: Path) -> tuple[dict[Key, list[int]], dict[Key, tuple[str, int]]]:
    conv: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    first: dict[Key, tuple[str, int]] = {}
    frag_ports: dict[tuple[str, str, int, str], tuple[int, int]] = {}
    for row in _tshark_frames(path):
        f = dict(zip(FIELDS, row, strict=True))
        src = f["ip.src"] or f["ipv6.src"]
        dst = f["ip.dst"] or f["ipv6.dst"]
        if not src:
            continue  # not IP: no flow
        proto = int(f["ip.proto"] or f["ipv6.nxt"])
        sport = dport = 0
        if proto == 6 and f["tcp.srcport"]:
            sport, dport = int(f["tcp.srcport"]), int(f["tcp.dstport"])
        elif proto == 17 and f["udp.srcport"]:
            sport, dport = int(f["udp.srcport"]), int(f["udp.dstport"])
        fkey = (src, dst, proto, f["ip.id"])
        offset = int(f["ip.frag_offset"] or 0)
        if offset == 0 and f["ip.flags.mf"] in ("1", "True"):
            frag_ports[fkey] = (sport, dport)
        elif offset > 0:
            sport, dport = frag_ports.get(fkey, (0, 0))
        vlan = int(f["vlan.id"]) if f["vlan.id"] else -1
        key = _key(src, sport, dst, dport, proto, vlan)
        conv[key][0] += 1
        conv[key][1] += int(f["frame.len"])
        first.setdefault(key, (src, sport))
    return dict(conv), first


@pytest.mark.slow
def test_every_capture_matches_tshark(datasets_dir: Path) -> None:
    settings = FlowMeterSettings(idle_timeout_s=1e9, active_timeout_s=1e9)
    for path in _captures(datasets_dir):
        expected, first_sender = _tshark_conversations(path)
        table = validate_flow_table(read_pcap(path, settings=settings))
        assert table.num_rows > 0, path
        got: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
        originator: dict[Key, tuple[str, int]] = {}
        rows = table.sort_by([("ts", "ascending")]).to_pylist()
        for r in rows:
            vlan = r["vlan"] if r["vlan"] is not None else -1
            key = _key(
                r["src_ip"], r["src_port"], r["dest_ip"], r["dest_port"], r["ip_proto"], vlan
            )
            got[key][0] += r["pkts_toserver"] + r["pkts_toclient"]
            got[key][1] += r["bytes_toserver"] + r["bytes_toclient"]
            originator.setdefault(key, (r["src_ip"], r["src_port"]))
        assert dict(got) == expected, path.name
        assert originator == first_sender, path.name
        assert len(rows) >= len(expected)
        total_frames = sum(v[0] for v in expected.values())
        total_bytes = sum(v[1] for v in expected.values())
        assert sum(r["pkts_toserver"] + r["pkts_toclient"] for r in rows) == total_frames
        assert sum(r["bytes_toserver"] + r["bytes_toclient"] for r in rows) == total_bytes


def test_flow_count_equals_tshark_tcp_conversations_without_restarts(datasets_dir: Path) -> None:
    """On the whois capture (one TCP connection) flows == tshark's conversation table."""
    path = datasets_dir / "pcaps" / "esnet" / "whois" / "whois.pcap"
    out = subprocess.run(
        [_tshark(), "-r", str(path), "-n", "-q", "-z", "conv,tcp"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    lines = [ln for ln in out.splitlines() if "<->" in ln]
    table = read_pcap(path, settings=FlowMeterSettings(idle_timeout_s=1e9, active_timeout_s=1e9))
    assert table.num_rows == len(lines) == 1
    fields = lines[0].split()
    # A <-> B | frames, bytes "bytes" B->A | frames, bytes "bytes" A->B | total ...
    assert fields[5] == fields[8] == "bytes"
    row = table.to_pylist()[0]
    assert f"{row['src_ip']}:{row['src_port']}" == fields[0]
    assert (row["pkts_toclient"], row["bytes_toclient"]) == (int(fields[3]), int(fields[4]))
    assert (row["pkts_toserver"], row["bytes_toserver"]) == (int(fields[6]), int(fields[7]))
    assert row["end_reason"] == "fin"
