"""Engine mechanics on synthetic packets: flow, flowbits, thresholds, streams, HTTP, fragments."""

from __future__ import annotations

import struct

from swarmguard.acquire.rawpackets import Packet, decode_packet
from swarmguard.detect.rules import EngineConfig, RuleEngine, parse_rules_text


def _ip(src: str, dst: str) -> tuple[bytes, bytes]:
    return bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split("."))


def tcp(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    flags: int,
    seq: int,
    ack: int,
    data: bytes = b"",
    ts: int = 0,
    n: int = 1,
) -> Packet:
    s, d = _ip(src, dst)
    th = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 1, 0, 64, 6, 0, s, d)
    return decode_packet(ip + th + data, linktype=101, ts_ns=ts, number=n)


C, S = "10.0.0.1", "10.0.0.2"


def _session(req: bytes, resp: bytes) -> list[Packet]:
    return [
        tcp(C, S, 1111, 80, 0x02, 100, 0, n=1),
        tcp(S, C, 80, 1111, 0x12, 500, 101, n=2),
        tcp(C, S, 1111, 80, 0x10, 101, 501, n=3),
        tcp(C, S, 1111, 80, 0x18, 101, 501, req, n=4),
        tcp(S, C, 80, 1111, 0x18, 501, 101 + len(req), resp, n=5),
        tcp(C, S, 1111, 80, 0x10, 101 + len(req), 501 + len(resp), n=6),
        tcp(C, S, 1111, 80, 0x11, 101 + len(req), 501 + len(resp), n=7),
    ]


def _run(rules: str, packets: list[Packet], **cfg: bool) -> list[tuple[int, int | None]]:
    eng = RuleEngine(parse_rules_text(rules), EngineConfig(**cfg))  # type: ignore[arg-type]
    return [(a.alert.signature_id, a.pcap_cnt) for a in eng.run(packets)]


REQ = b"GET /x/../etc/passwd HTTP/1.1\r\nHost: Example.org\r\nUser-Agent: t\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nroot"


def test_stream_content_split_over_segments_alerts_once() -> None:
    pk = [
        tcp(C, S, 1, 2, 0x02, 0, 0, n=1),
        tcp(S, C, 2, 1, 0x12, 9, 1, n=2),
        tcp(C, S, 1, 2, 0x10, 1, 10, n=3),
        tcp(C, S, 1, 2, 0x18, 1, 10, b"xxpass", n=4),
        tcp(C, S, 1, 2, 0x18, 7, 10, b"wordyy", n=5),
        tcp(C, S, 1, 2, 0x18, 7, 10, b"wordyy", n=6),  # retransmission
    ]
    got = _run('alert tcp any any -> any any (content:"password"; sid:1;)', pk)
    assert got == [(1, 5)]


def test_out_of_order_segments_are_reassembled() -> None:
    pk = [
        tcp(C, S, 1, 2, 0x02, 0, 0, n=1),
        tcp(S, C, 2, 1, 0x12, 9, 1, n=2),
        tcp(C, S, 1, 2, 0x10, 1, 10, n=3),
        tcp(C, S, 1, 2, 0x18, 5, 10, b"word", n=4),
        tcp(C, S, 1, 2, 0x18, 1, 10, b"pass", n=5),
    ]
    assert _run('alert tcp any any -> any any (content:"password"; sid:1;)', pk) == [(1, 5)]


def test_flow_direction_and_established() -> None:
    rules = "\n".join(
        [
            "alert tcp any any -> any any (flow:to_client; flags:SA; sid:1;)",
            "alert tcp any any -> any any (flow:established,to_server; flags:PA; sid:2;)",
            "alert tcp any any -> any any (flow:not_established; flags:S; sid:3;)",
        ]
    )
    got = _run(rules, _session(REQ, RESP))
    assert sorted(got) == [(1, 2), (2, 4), (3, 1)]


def test_http_uri_is_normalised_and_inspected_after_ack() -> None:
    rules = (
        'alert http any any -> any any (msg:"p"; http.uri; content:"/etc/passwd"; '
        "classtype:web-application-attack; sid:7;)\n"
        'alert http any any -> any any (http.stat_code; content:"200"; sid:8;)\n'
        'alert http any any -> any any (http.host; content:"example.org"; sid:9;)'
    )
    eng = RuleEngine(parse_rules_text(rules), EngineConfig())
    alerts = list(eng.run(_session(REQ, RESP)))
    by_sid = {a.alert.signature_id: a for a in alerts}
    assert set(by_sid) == {7, 8, 9}
    a = by_sid[7]
    # the request is parsed when the server acknowledges it (packet 5) and inspected on the
    # next packet to the server (6), as Suricata does in IDS mode
    assert a.pcap_cnt == 6 and a.app_proto == "http" and a.tx_id == 0
    assert a.http is not None and a.http.url == "/x/../etc/passwd" and a.http.status == 200
    assert a.alert.category == "Web Application Attack" and a.alert.severity == 1


def test_flowbits_chain() -> None:
    rules = "\n".join(
        [
            'alert tcp any any -> any any (content:"B"; flowbits:isset,seen; sid:2;)',
            'alert tcp any any -> any any (content:"A"; flowbits:set,seen; flowbits:noalert; '
            "sid:1;)",
            'alert tcp any any -> any any (content:"C"; flowbits:isnotset,seen; sid:3;)',
        ]
    )
    pk = [
        tcp(C, S, 1, 2, 0x02, 0, 0, n=1),
        tcp(S, C, 2, 1, 0x12, 9, 1, n=2),
        tcp(C, S, 1, 2, 0x10, 1, 10, n=3),
        tcp(C, S, 1, 2, 0x18, 1, 10, b"B", n=4),
        tcp(C, S, 1, 2, 0x18, 2, 10, b"A", n=5),
        tcp(C, S, 1, 2, 0x18, 3, 10, b"B", n=6),
        tcp(C, S, 1, 2, 0x18, 4, 10, b"C", n=7),
    ]
    assert _run(rules, pk) == [(2, 6)]


def test_threshold_and_detection_filter() -> None:
    syns = [
        tcp(f"10.9.0.{i}", S, 1000 + i, 80, 0x02, 0, 0, ts=i * 10**8, n=i) for i in range(1, 30)
    ]
    head = "alert tcp any any -> any any (flags:S; "
    both = head + "threshold:type both, track by_dst, count 10, seconds 60; sid:1;)"
    limit = head + "threshold:type limit, track by_dst, count 2, seconds 60; sid:2;)"
    thr = head + "threshold:type threshold, track by_dst, count 10, seconds 60; sid:3;)"
    df = head + "detection_filter:track by_dst, count 25, seconds 60; sid:4;)"
    assert [n for _, n in _run(both, syns)] == [10]
    assert [n for _, n in _run(limit, syns)] == [1, 2]
    assert [n for _, n in _run(thr, syns)] == [10, 20]
    assert [n for _, n in _run(df, syns)] == [26, 27, 28, 29]


def test_bad_checksum_packets_skip_the_stream_only_when_validating() -> None:
    p = tcp(C, S, 1, 2, 0x02, 0, 0, b"zzz", n=1)  # checksum field left at 0: invalid
    assert not p.checksums_ok()
    rule = 'alert tcp any any -> any any (content:"zzz"; sid:1;)'
    assert _run(rule, [p], checksum_validation=True) == [(1, 1)]  # packet payload still seen
    assert _run(rule, [p]) == [(1, 1)]


def test_midstream_pickup() -> None:
    pk = [tcp(S, C, 80, 1111, 0x18, 500, 101, b"uid=0(root)", n=1)]
    rules = 'alert tcp any any -> any any (flow:established; content:"uid=0(root)"; sid:1;)'
    assert _run(rules, pk) == []
    assert _run(rules, pk, midstream=True) == [(1, 1)]


def test_ipv4_fragments_are_reassembled() -> None:
    s, d = _ip(C, S)
    udp = struct.pack("!HHHH", 5000, 53, 8 + 20, 0) + b"A" * 12 + b"needle!!"
    frames = []
    for off, chunk, mf in ((0, udp[:16], True), (16, udp[16:], False)):
        flags = (0x2000 if mf else 0) | (off // 8)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(chunk), 9, flags, 64, 17, 0, s, d)
        frames.append(decode_packet(hdr + chunk, linktype=101, ts_ns=0, number=len(frames) + 1))
    rules = 'alert udp any any -> any 53 (content:"needle"; dsize:20; sid:1;)'
    assert _run(rules, frames[::-1]) == [(1, 1)]  # completed by the first fragment


def test_random_and_mangled_frames_never_raise() -> None:
    import random

    from swarmguard.cli.detect import default_rules_path
    from swarmguard.detect.rules import parse_rules

    rng = random.Random(7)
    eng = RuleEngine(
        parse_rules(default_rules_path()), EngineConfig(midstream=True, checksum_validation=True)
    )
    base = tcp(C, S, 1, 80, 0x18, 1, 1, b"GET / HTTP/1.1\r\n\r\n").frame
    for i in range(3000):
        lt = rng.choice([1, 9, 101, 113, 276, 0])
        if rng.random() < 0.5:
            data = bytearray(base)
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            frame = bytes(data)
        else:
            frame = rng.randbytes(rng.randint(0, 80))
        eng.process(decode_packet(frame, linktype=lt, ts_ns=i, number=i + 1))
    eng.finish()
    assert eng.stats.packets == 3000


def test_per_target_threshold_alerts_name_the_target_not_a_source() -> None:
    syns = [
        tcp(f"10.9.0.{i}", S, 1000 + i, 80, 0x02, 0, 0, ts=i * 10**8, n=i) for i in range(1, 30)
    ]
    head = "alert tcp any any -> any any (flags:S; "
    by_dst = head + "threshold:type both, track by_dst, count 10, seconds 60; sid:1;)"
    by_src = head + "threshold:type both, track by_src, count 1, seconds 60; sid:2;)"
    eng = RuleEngine(parse_rules_text(by_dst + "\n" + by_src))
    alerts = list(eng.run(syns))
    [agg] = [a for a in alerts if a.alert.signature_id == 1]
    assert agg.src_ip == "10.9.0.10"  # whoever sent the tenth SYN
    assert agg.alert.target is not None and agg.alert.target.ip == S
    assert agg.alert.source is None and agg.attacker_ip() is None
    own = [a for a in alerts if a.alert.signature_id == 2]
    assert own and all(a.attacker_ip() == a.src_ip and a.alert.target is None for a in own)


def test_shipped_ftp_failed_login_rule_names_the_guesser() -> None:
    # Five "530" answers on one FTP session: counted per client, and the client is the
    # alert's source (target:src_ip), so a policy blocks the guesser, not the server.
    from swarmguard.agent.detection import default_rules_path
    from swarmguard.detect.rules.parser import RuleVars, parse_rules

    pk = [tcp(C, S, 1111, 21, 0x02, 100, 0, n=1), tcp(S, C, 21, 1111, 0x12, 500, 101, n=2)]
    pk.append(tcp(C, S, 1111, 21, 0x10, 101, 501, n=3))
    cseq, sseq = 101, 501
    for i in range(5):
        req, resp = b"PASS guess%d\r\n" % i, b"530 Login incorrect.\r\n"
        pk.append(tcp(C, S, 1111, 21, 0x18, cseq, sseq, req, ts=i * 10**9, n=4 + 3 * i))
        cseq += len(req)
        pk.append(tcp(S, C, 21, 1111, 0x18, sseq, cseq, resp, ts=i * 10**9 + 1, n=5 + 3 * i))
        sseq += len(resp)
        pk.append(tcp(C, S, 1111, 21, 0x10, cseq, sseq, ts=i * 10**9 + 2, n=6 + 3 * i))
    variables = RuleVars()
    variables.addresses["HOME_NET"] = f"[{S}/32]"
    eng = RuleEngine(parse_rules(default_rules_path(), variables, skip_unsupported=True))
    [a] = [a for a in eng.run(pk) if a.alert.signature_id == 9200202]
    assert a.src_ip == S and a.attacker_ip() == C
