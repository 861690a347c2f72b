"""Capture formats, link types, encapsulations and bad input, on hand-built captures."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from swarmguard.acquire.pcap import iter_flow_batches, read_pcap
from swarmguard.errors import InputError, SkipLog

T = 1_700_000_000


def ipv4(
    src: str, dst: str, proto: int, l4: bytes, *, ihl: int = 5, ident: int = 1, frag: int = 0
) -> bytes:
    total = ihl * 4 + len(l4)
    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        0,
        total,
        ident,
        frag,
        64,
        proto,
        0,
        bytes(map(int, src.split("."))),
        bytes(map(int, dst.split("."))),
    )
    return hdr + bytes((ihl - 5) * 4) + l4


def ipv6(src: str, dst: str, nh: int, l4: bytes, ext: bytes = b"") -> bytes:
    import ipaddress

    return (
        struct.pack("!IHBB", 0x60000000, len(ext) + len(l4), nh, 64)
        + ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
        + ext
        + l4
    )


def tcp(sport: int, dport: int, flags: int = 0x02, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, flags, 1024, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def eth(l3: bytes, ethertype: int = 0x0800, vlans: tuple[int, ...] = ()) -> bytes:
    tags = b"".join(
        struct.pack("!HH", 0x8100 if i else 0x88A8 if len(vlans) > 1 else 0x8100, v)
        for i, v in enumerate(vlans)
    )
    if vlans:
        # first tag's TPID goes right after the MACs, each tag followed by the next type
        parts = []
        tpids = [0x88A8 if len(vlans) > 1 else 0x8100] + [0x8100] * (len(vlans) - 1)
        for tpid, v in zip(tpids, vlans, strict=True):
            parts.append((tpid, v))
        out = bytes(12) + struct.pack("!H", parts[0][0])
        for i, (_, v) in enumerate(parts):
            nxt = parts[i + 1][0] if i + 1 < len(parts) else ethertype
            out += struct.pack("!HH", v, nxt)
        return out + l3
    del tags
    return bytes(12) + struct.pack("!H", ethertype) + l3


def pcap(frames: list[bytes], linktype: int = 1, *, endian: str = "<", ns: bool = False) -> bytes:
    magic = 0xA1B23C4D if ns else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, f in enumerate(frames):
        frac = i * (1000 if ns else 1)
        out += struct.pack(endian + "IIII", T + i, frac, len(f), len(f)) + f
    return out


def pcapng(frames: list[bytes], linktype: int = 1) -> bytes:
    def block(btype: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)  # if_tsresol = ns
    out += block(1, struct.pack("<HHI", linktype, 0, 65535) + opts)
    for i, f in enumerate(frames):
        ticks = (T + i) * 1_000_000_000 + i * 1000
        out += block(
            6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(f), len(f)) + f
        )
    return out


def write(tmp_path: Path, data: bytes, name: str = "c.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def conversation() -> list[bytes]:
    return [
        ipv4("10.1.0.1", "10.1.0.2", 6, tcp(1111, 80, 0x02)),
        ipv4("10.1.0.2", "10.1.0.1", 6, tcp(80, 1111, 0x12)),
        ipv4("10.1.0.1", "10.1.0.2", 17, udp(5353, 53, b"abcd")),
    ]


def summary(path: Path) -> list[tuple[str, int, str, int, str, int, int]]:
    t = read_pcap(path).sort_by([("ts", "ascending")])
    return [
        (
            r["src_ip"],
            r["src_port"],
            r["dest_ip"],
            r["dest_port"],
            r["proto"],
            r["pkts_toserver"] + r["pkts_toclient"],
            r["bytes_toserver"] + r["bytes_toclient"],
        )
        for r in t.to_pylist()
    ]


EXPECTED_IP = [
    ("10.1.0.1", 1111, "10.1.0.2", 80, "TCP", 2, 80),
    ("10.1.0.1", 5353, "10.1.0.2", 53, "UDP", 1, 32),
]


@pytest.mark.parametrize(
    ("linktype", "wrap"),
    [
        (101, lambda ip: ip),
        (228, lambda ip: ip),
        (12, lambda ip: ip),
        (0, lambda ip: struct.pack("<I", 2) + ip),
        (108, lambda ip: struct.pack("!I", 2) + ip),
        (113, lambda ip: struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800) + ip),
        (276, lambda ip: struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, bytes(8)) + ip),
    ],
)
def test_link_types(tmp_path: Path, linktype: int, wrap: object) -> None:
    frames = [wrap(f) for f in conversation()]  # type: ignore[operator]
    got = summary(write(tmp_path, pcap(frames, linktype)))
    extra = len(frames[0]) - len(conversation()[0])
    assert got == [(*e[:6], e[6] + e[5] * extra) for e in EXPECTED_IP]


def test_ethernet_pcap_pcapng_byte_orders_and_ns_agree(tmp_path: Path) -> None:
    frames = [eth(f) for f in conversation()]
    want = [(*e[:6], e[6] + 14 * e[5]) for e in EXPECTED_IP]
    assert summary(write(tmp_path, pcap(frames), "a.pcap")) == want
    assert summary(write(tmp_path, pcap(frames, endian=">"), "b.pcap")) == want
    assert summary(write(tmp_path, pcap(frames, ns=True), "c.pcap")) == want
    assert summary(write(tmp_path, pcapng(frames), "d.bin")) == want
    # a classic pcap named .pcapng is read by its magic bytes
    assert summary(write(tmp_path, pcap(frames), "e.pcapng")) == want
    a = read_pcap(tmp_path / "a.pcap")
    assert a["ts"].to_pylist() == read_pcap(tmp_path / "c.pcap")["ts"].to_pylist()
    d = read_pcap(tmp_path / "d.bin")
    assert a["ts"].to_pylist() == d["ts"].to_pylist()


def test_vlan_and_qinq_keep_the_outer_id(tmp_path: Path) -> None:
    frames = [eth(conversation()[0], vlans=(100,)), eth(conversation()[0], vlans=(200, 7))]
    t = read_pcap(write(tmp_path, pcap(frames))).sort_by([("ts", "ascending")])
    assert t["vlan"].to_pylist() == [100, 200]
    assert t["dest_port"].to_pylist() == [80, 80]


def test_ipv6_with_extension_headers_and_non_ip(tmp_path: Path) -> None:
    hop = struct.pack("!BB6s", 60, 0, bytes(6))  # hop-by-hop -> destination options
    dst_opts = struct.pack("!BB6s", 6, 0, bytes(6))  # destination options -> TCP
    frames = [
        eth(ipv6("fd00::1", "fd00::2", 0, tcp(2222, 443, 0x02, b"xy"), hop + dst_opts), 0x86DD),
        eth(bytes(28), 0x0806),  # ARP: not IP, no flow, no error
    ]
    (r,) = read_pcap(write(tmp_path, pcap(frames))).to_pylist()
    assert (r["src_ip"], r["dest_ip"], r["src_port"], r["dest_port"]) == (
        "fd00::1",
        "fd00::2",
        2222,
        443,
    )
    assert (r["payload_bytes_toserver"], r["header_bytes_toserver"], r["ip_proto"]) == (2, 20, 6)


def test_fragments_join_the_flow_of_their_first_fragment(tmp_path: Path) -> None:
    data = udp(5000, 53, bytes(40))
    frames = [
        eth(ipv4("10.2.0.1", "10.2.0.2", 17, data[:24], ident=7, frag=0x2000)),
        eth(ipv4("10.2.0.1", "10.2.0.2", 17, data[24:], ident=7, frag=3)),
        eth(ipv4("10.2.0.1", "10.2.0.2", 17, bytes(16), ident=9, frag=3)),  # first never seen
    ]
    t = read_pcap(write(tmp_path, pcap(frames))).sort_by([("ts", "ascending")]).to_pylist()
    assert [(r["src_port"], r["dest_port"], r["pkts_toserver"]) for r in t] == [
        (5000, 53, 2),
        (0, 0, 1),
    ]
    assert t[0]["payload_bytes_toserver"] == 16 + 24


def test_progress_reports_bytes_consumed(tmp_path: Path) -> None:
    data = pcap([eth(f) for f in conversation()] * 50)
    path = write(tmp_path, data)
    seen: list[int] = []
    batches = list(iter_flow_batches(path, progress=seen.append, chunk_bytes=1000))
    assert seen == sorted(seen) and seen[-1] == len(data) and len(seen) > 3
    assert sum(b.num_rows for b in batches) == 2


# ---- bad input ---------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty file"):
        read_pcap(write(tmp_path, b""))


def test_garbage_and_gzip(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a pcap or pcapng capture"):
        read_pcap(write(tmp_path, b"hello, this is not a capture file at all\n"))
    with pytest.raises(InputError, match="gzip"):
        read_pcap(write(tmp_path, b"\x1f\x8b\x08\x00" + bytes(30)))


def test_truncated_header(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="header cut short"):
        read_pcap(write(tmp_path, pcap([])[:10]))


@pytest.mark.parametrize("fmt", [pcap, pcapng])
def test_truncated_last_record(tmp_path: Path, fmt: object) -> None:
    data = fmt([eth(f) for f in conversation()])  # type: ignore[operator]
    path = write(tmp_path, data[:-7])
    with pytest.raises(InputError, match="cut inside") as err:
        read_pcap(path)
    assert err.value.packet == 3 and "\n" not in str(err.value)
    log = SkipLog()
    t = read_pcap(path, skip_bad=True, skip_log=log)
    assert log.count == 1 and log.first[str(path)][0] == "packet 3"
    assert t.num_rows == 1 and t["pkts_toclient"].to_pylist() == [1]


def test_malformed_packet_is_named_or_counted(tmp_path: Path) -> None:
    bad = eth(ipv4("10.1.0.1", "10.1.0.2", 6, tcp(1, 2))[:20].replace(b"\x45", b"\x43", 1))
    frames = [eth(conversation()[0]), bad, eth(conversation()[2])]
    path = write(tmp_path, pcap(frames))
    with pytest.raises(InputError, match="packet 2: broken IPv4 header") as err:
        read_pcap(path)
    assert err.value.packet == 2
    log = SkipLog()
    assert read_pcap(path, skip_bad=True, skip_log=log).num_rows == 2
    assert log.count == 1


def test_unsupported_link_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="packet 1: unsupported link type 105"):
        read_pcap(write(tmp_path, pcap([b"\x00" * 40], linktype=105)))


def test_corrupt_record_length(tmp_path: Path) -> None:
    data = bytearray(pcap([eth(f) for f in conversation()]))
    struct.pack_into("<I", data, 24 + 8, 0x7FFFFFFF)
    with pytest.raises(InputError, match="packet 1: corrupt record header"):
        read_pcap(write(tmp_path, bytes(data)))


def test_real_capture_cut_mid_record(tmp_path: Path, datasets_dir: Path) -> None:
    src = datasets_dir / "pcaps" / "esnet" / "nmap" / "nmap_80_all.pcap"
    data = src.read_bytes()
    path = write(tmp_path, data[: len(data) // 2])
    with pytest.raises(InputError, match="cut inside"):
        read_pcap(path)
    log = SkipLog()
    assert read_pcap(path, skip_bad=True, skip_log=log).num_rows > 0 and log.count == 1
    shutil.copy(src, tmp_path / "whole.pcapng")
    assert read_pcap(tmp_path / "whole.pcapng").num_rows == read_pcap(src).num_rows
