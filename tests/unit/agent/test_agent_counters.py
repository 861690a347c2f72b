"""The fast per-source counters: thresholds, sliding windows, no alarms on ordinary traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmguard.acquire.rawpackets import Packet
from swarmguard.agent.counters import PacketCounters, load_packet_rules, parse_packet_rules
from swarmguard.errors import InputError

MS = 1_000_000


def tcp(src: str, dport: int, t_ms: float, flags: int = 0x02, sport: int = 40000) -> Packet:
    return Packet(
        ts_ns=int(t_ms * MS),
        number=1,
        linktype=101,
        frame=b"",
        ip_version=4,
        src_ip=src,
        dest_ip="10.250.0.2",
        proto=6,
        src_port=sport,
        dest_port=dport,
        tcp_flags=flags,
    )


def sids(counters: PacketCounters, packets: list[Packet]) -> list[int]:
    return [a.alert.signature_id for p in packets for a in counters.observe(p)]


def test_syn_flood_fires_once_at_the_threshold() -> None:
    c = PacketCounters()
    flood = [tcp("198.51.100.1", 8080, i * 1.0, sport=1000 + i) for i in range(400)]
    fired = [
        i for i, p in enumerate(flood) if any(a.alert.signature_id == 9310002 for a in c.observe(p))
    ]
    assert fired == [199]  # the 200th SYN; then quiet for one window


def test_the_window_slides() -> None:
    c = PacketCounters()
    # 150 SYNs per second for 3 s never makes 200 within any 1 s window.
    slow = [tcp("198.51.100.2", 80, i * (1000 / 150), sport=i % 60000) for i in range(450)]
    assert 9310002 not in sids(c, slow)


def test_port_scan_and_ssh_bruteforce() -> None:
    c = PacketCounters()
    scan = [tcp("198.51.100.3", port, port * 0.5) for port in range(1, 30)]
    assert sids(c, scan).count(9310001) == 1
    ssh = [tcp("198.51.100.4", 22, i * 2000.0, sport=50000 + i) for i in range(6)]
    got = sids(c, ssh)
    assert got == [9310003]


def test_ordinary_clients_raise_nothing() -> None:
    c = PacketCounters()
    web = []
    for i in range(600):  # 4 new connections a second to one web server for 150 s
        t = i * 250.0
        web.append(tcp("10.250.0.4", 8080, t, sport=30000 + i))
        web.append(tcp("10.250.0.4", 8080, t + 1, flags=0x10, sport=30000 + i))
    ssh = [tcp("10.250.0.5", 22, i * 10_000.0, sport=50000 + i) for i in range(20)]
    assert sids(c, web + ssh) == []


def test_answers_are_not_counted_as_attempts() -> None:
    c = PacketCounters()
    synack = [tcp("10.250.0.2", 40000 + i, i * 1.0, flags=0x12) for i in range(500)]
    assert sids(c, synack) == []


def test_idle_groups_are_forgotten() -> None:
    c = PacketCounters(purge_every=100)
    for i in range(99):
        c.observe(tcp(f"198.51.{i // 250}.{i % 250}", 80, 0.0))
    assert c.groups() > 0
    c.observe(tcp("203.0.113.1", 80, 120_000.0))  # two minutes later: the sweep runs
    assert c.groups() <= 3


def test_rule_files_are_checked(tmp_path: Path) -> None:
    assert len(load_packet_rules()) >= 4
    with pytest.raises(InputError, match="unknown field"):
        parse_packet_rules(
            "- {sid: 1, msg: x, classtype: attempted-dos, where: 'bogus == 1',"
            " aggregate: {by: [src_ip], window_s: 1, threshold: 2}}"
        )
    with pytest.raises(InputError, match="needs an 'aggregate'"):
        parse_packet_rules("- {sid: 1, msg: x, classtype: attempted-dos, where: 'syn == 1'}")
    path = tmp_path / "r.yaml"
    path.write_text(
        "- {sid: 7, msg: udp burst, classtype: attempted-dos, family: dos,"
        " where: 'proto == 17', aggregate: {by: [src_ip], window_s: 1, threshold: 3}}\n"
    )
    c = PacketCounters(load_packet_rules(path))
    udp = [
        Packet(
            ts_ns=i * MS,
            number=i,
            linktype=101,
            frame=b"",
            ip_version=4,
            src_ip="192.0.2.9",
            dest_ip="10.250.0.2",
            proto=17,
            src_port=5000,
            dest_port=53,
        )
        for i in range(3)
    ]
    assert sids(c, udp) == [7]
    with pytest.raises(InputError, match="cannot read"):
        load_packet_rules(tmp_path / "missing.yaml")


def test_a_per_target_rule_names_no_attacker() -> None:
    rules = parse_packet_rules(
        "- sid: 1\n  msg: many SYN to one host\n  classtype: attempted-dos\n"
        "  where: 'proto == 6 and syn == 1 and ack == 0'\n"
        "  aggregate: {by: [dest_ip], window_s: 1, threshold: 5}\n"
    )
    c = PacketCounters(rules)
    out = [a for i in range(5) for a in c.observe(tcp(f"198.51.100.{i}", 80, i, sport=2000 + i))]
    [a] = out
    assert a.src_ip == "198.51.100.4" and a.attacker_ip() is None
    assert a.alert.target is not None and a.alert.target.ip == "10.250.0.2"
