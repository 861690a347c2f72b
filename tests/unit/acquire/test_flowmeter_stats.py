"""Flow statistics on small packet sequences built directly as packet arrays."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import communityid
import numpy as np
import pyarrow as pa
import pytest

from swarmguard.acquire.flowmeter import FlowMeter, meter_flows
from swarmguard.acquire.packets import PacketChunk
from swarmguard.acquire.pcap import read_pcap
from swarmguard.config import FlowMeterSettings
from swarmguard.records.flow import validate_flow_table

FIN, SYN, RST, PSH, ACK, URG = 1, 2, 4, 8, 16, 32
A = ("10.0.0.1", 40000)
B = ("10.0.0.2", 80)
T0 = 1_700_000_000.0


def _v4(addr: str) -> int:
    a, b, c, d = (int(x) for x in addr.split("."))
    return 0xFFFF00000000 | (a << 24) | (b << 16) | (c << 8) | d


def chunk(pkts: list[dict[str, Any]]) -> PacketChunk:
    """Packets as dicts: t (s from T0), src/dst (addr, port), flags, payload, proto, ..."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in PacketChunk.__dataclass_fields__  # noqa: SIM118
    }
    for i, p in enumerate(pkts):
        src, dst = p.get("src", A), p.get("dst", B)
        proto = p.get("proto", 6)
        cols["packet_no"].append(i + 1)
        cols["ts_ns"].append(round((T0 + p["t"]) * 1e9))
        cols["src_hi"].append(0)
        cols["src_lo"].append(_v4(src[0]))
        cols["dst_hi"].append(0)
        cols["dst_lo"].append(_v4(dst[0]))
        cols["is_v6"].append(False)
        cols["sport"].append(src[1] if proto in (6, 17) else 0)
        cols["dport"].append(dst[1] if proto in (6, 17) else 0)
        cols["ip_proto"].append(proto)
        payload = p.get("payload", 0)
        hdr = {6: 20, 17: 8, 1: 8}.get(proto, 0)
        cols["frame_len"].append(14 + 20 + hdr + payload)
        cols["l4_hdr_len"].append(hdr)
        cols["payload_len"].append(payload)
        cols["tcp_flags"].append(p.get("flags", ACK) if proto == 6 else 0)
        cols["tcp_win"].append(p.get("win", 1000) if proto == 6 else -1)
        cols["ttl"].append(p.get("ttl", 64))
        cols["vlan"].append(p.get("vlan", -1))
        cols["icmp_type"].append(p.get("icmp", (-1, -1))[0])
        cols["icmp_code"].append(p.get("icmp", (-1, -1))[1])
        cols["ip_id"].append(0)
        cols["frag"].append(0)
    arrays = {
        k: np.array(
            v,
            dtype=np.bool_ if k == "is_v6" else np.uint64 if k[-3:] in ("_hi", "_lo") else np.int64,
        )
        for k, v in cols.items()
    }
    return PacketChunk(**arrays)


def rows(pkts: list[dict[str, Any]], **settings: float) -> list[dict[str, Any]]:
    table = meter_flows(chunk(pkts), FlowMeterSettings(**settings), sensor_id="t")
    validate_flow_table(table)
    return table.sort_by([("ts", "ascending")]).to_pylist()


def test_direction_is_the_sender_of_the_first_packet() -> None:
    (r,) = rows([{"t": 0, "src": B, "dst": A}, {"t": 1}, {"t": 2, "src": B, "dst": A}])
    assert (r["src_ip"], r["src_port"], r["dest_ip"], r["dest_port"]) == (
        "10.0.0.2",
        80,
        "10.0.0.1",
        40000,
    )
    assert (r["pkts_toserver"], r["pkts_toclient"]) == (2, 1)
    assert r["bytes_toserver"] == 2 * 54 and r["bytes_toclient"] == 54
    assert r["proto"] == "TCP" and r["ip_proto"] == 6 and r["vlan"] is None


def test_inter_arrival_times() -> None:
    (r,) = rows([{"t": 0}, {"t": 1, "src": B, "dst": A}, {"t": 3}, {"t": 3.5, "src": B, "dst": A}])
    assert r["duration_s"] == pytest.approx(3.5)
    assert r["flow_iat_mean_s"] == pytest.approx(3.5 / 3)
    assert r["flow_iat_max_s"] == pytest.approx(2.0)
    assert r["flow_iat_min_s"] == pytest.approx(0.5)
    assert r["flow_iat_std_s"] == pytest.approx(float(np.std([1, 2, 0.5], ddof=1)))
    assert (r["fwd_iat_total_s"], r["fwd_iat_mean_s"]) == pytest.approx((3.0, 3.0))
    assert r["fwd_iat_std_s"] == 0.0
    assert (r["bwd_iat_total_s"], r["bwd_iat_min_s"], r["bwd_iat_max_s"]) == pytest.approx(
        (2.5, 2.5, 2.5)
    )


def test_payload_lengths_flags_windows_ttl() -> None:
    pkts = [
        {"t": 0, "flags": SYN, "win": 64240, "ttl": 61},
        {"t": 0.1, "src": B, "dst": A, "flags": SYN | ACK, "win": 65160, "ttl": 50},
        {"t": 0.2, "flags": ACK},
        {"t": 0.3, "flags": PSH | ACK, "payload": 100},
        {"t": 0.4, "src": B, "dst": A, "flags": PSH | ACK | URG, "payload": 300},
        {"t": 0.5, "flags": PSH | ACK, "payload": 50},
    ]
    (r,) = rows(pkts)
    assert (r["fwd_pkt_len_max"], r["fwd_pkt_len_min"], r["fwd_pkt_len_mean"]) == (100, 0, 37.5)
    assert r["fwd_pkt_len_std"] == pytest.approx(float(np.std([0, 0, 100, 50], ddof=1)))
    assert (r["bwd_pkt_len_max"], r["bwd_pkt_len_min"], r["bwd_pkt_len_mean"]) == (300, 0, 150)
    assert (r["pkt_len_max"], r["pkt_len_min"]) == (300, 0)
    assert r["pkt_len_mean"] == pytest.approx(450 / 6)
    assert (r["payload_bytes_toserver"], r["payload_bytes_toclient"]) == (150, 300)
    assert (r["header_bytes_toserver"], r["header_bytes_toclient"]) == (80, 40)
    assert (r["syn_count"], r["ack_count"], r["psh_count"], r["urg_count"]) == (2, 5, 3, 1)
    assert (r["fwd_psh_count"], r["bwd_psh_count"], r["fwd_urg_count"], r["bwd_urg_count"]) == (
        2,
        1,
        0,
        1,
    )
    assert (r["fin_count"], r["rst_count"], r["cwr_count"], r["ece_count"]) == (0, 0, 0, 0)
    assert r["tcp_flags_toserver"] == SYN | ACK | PSH
    assert r["tcp_flags_toclient"] == SYN | ACK | PSH | URG
    assert (r["fwd_init_win_bytes"], r["bwd_init_win_bytes"]) == (64240, 65160)
    assert (r["ttl_toserver"], r["ttl_toclient"]) == (61, 50)
    assert r["fwd_act_data_pkts"] == 2
    assert (r["icmp_type"], r["icmp_code"]) == (-1, -1)
    assert r["end_reason"] == "eof"


def test_one_way_flow_has_zero_backward_statistics_and_minus_one_defaults() -> None:
    (r,) = rows([{"t": 0, "flags": SYN}])
    assert r["pkts_toclient"] == 0 and r["bwd_pkt_len_max"] == 0.0 and r["bwd_iat_total_s"] == 0.0
    assert r["bwd_init_win_bytes"] == -1 and r["ttl_toclient"] == -1
    assert r["flow_iat_mean_s"] == 0.0 and r["duration_s"] == 0.0
    assert r["active_mean_s"] == 0.0 and r["idle_mean_s"] == 0.0


def test_active_and_idle_periods() -> None:
    times = [0, 1, 10, 12, 13, 30]
    (r,) = rows([{"t": t} for t in times], activity_threshold_s=5.0)
    # active runs: [0,1] -> 1 s, [10,13] -> 3 s, [30] -> 0 s (not counted); idle gaps 9 and 17
    assert (r["active_mean_s"], r["active_max_s"], r["active_min_s"]) == pytest.approx(
        (2.0, 3.0, 1.0)
    )
    assert r["active_std_s"] == pytest.approx(math.sqrt(2))
    assert (r["idle_mean_s"], r["idle_max_s"], r["idle_min_s"]) == pytest.approx((13.0, 17.0, 9.0))


def test_idle_timeout_splits_flows() -> None:
    r1, r2 = rows([{"t": 0}, {"t": 5}, {"t": 20}, {"t": 21}], idle_timeout_s=10.0)
    assert (r1["end_reason"], r1["pkts_toserver"]) == ("idle", 2)
    assert (r2["end_reason"], r2["pkts_toserver"]) == ("eof", 2)
    assert r1["uid"] != r2["uid"] and r1["community_id"] == r2["community_id"]


def test_active_timeout_splits_long_flows() -> None:
    r = rows([{"t": t} for t in range(0, 26)], active_timeout_s=10.0, idle_timeout_s=100.0)
    assert [x["pkts_toserver"] for x in r] == [11, 11, 4]
    assert [x["end_reason"] for x in r] == ["active", "active", "eof"]


def test_syn_after_fin_or_rst_starts_a_new_flow() -> None:
    pkts = [
        {"t": 0, "flags": SYN},
        {"t": 0.1, "src": B, "dst": A, "flags": SYN | ACK},
        {"t": 0.2, "flags": FIN | ACK},
        {"t": 0.3, "src": B, "dst": A, "flags": FIN | ACK},
        {"t": 0.4, "flags": ACK},
        {"t": 1.0, "flags": SYN},  # port reuse: new connection
        {"t": 1.1, "src": B, "dst": A, "flags": RST | ACK},
        {"t": 1.2, "flags": SYN},  # retry after RST: new flow again
        {"t": 1.3, "flags": SYN},  # plain retransmission: same flow
    ]
    r = rows(pkts)
    assert [x["pkts_toserver"] + x["pkts_toclient"] for x in r] == [5, 2, 2]
    assert [x["end_reason"] for x in r] == ["fin", "rst", "eof"]


def test_synack_after_fin_does_not_split() -> None:
    r = rows([{"t": 0, "flags": FIN | ACK}, {"t": 0.1, "src": B, "dst": A, "flags": SYN | ACK}])
    assert len(r) == 1 and r[0]["end_reason"] == "fin"


def test_vlans_are_separate_flows_and_icmp_has_no_ports() -> None:
    r = rows(
        [
            {"t": 0, "vlan": 10},
            {"t": 1, "vlan": 20},
            {"t": 2, "proto": 1, "icmp": (8, 0)},
            {"t": 3, "proto": 1, "icmp": (0, 0), "src": B, "dst": A},
        ]
    )
    assert [x["vlan"] for x in r] == [10, 20, None]
    icmp = r[2]
    assert (icmp["proto"], icmp["src_port"], icmp["dest_port"]) == ("ICMP", 0, 0)
    assert (icmp["icmp_type"], icmp["icmp_code"], icmp["pkts_toclient"]) == (8, 0, 1)
    tpl = communityid.FlowTuple.make_icmp("10.0.0.1", "10.0.0.2", 8, 0)
    assert icmp["community_id"] == communityid.CommunityID(0).calc(tpl)


def test_incremental_flushes_equal_one_batch() -> None:
    rng = np.random.default_rng(7)
    hosts = [(f"10.0.0.{i}", 1000 + i) for i in range(1, 6)]
    pkts = []
    t = 0.0
    for _ in range(400):
        t += float(rng.exponential(2.0))
        a, b = rng.choice(len(hosts), size=2, replace=False)
        flags = int(rng.choice([SYN, ACK, FIN | ACK, RST, PSH | ACK]))
        pkts.append(
            {
                "t": t,
                "src": hosts[a],
                "dst": hosts[b],
                "flags": flags,
                "payload": int(rng.integers(0, 500)),
            }
        )
    settings = FlowMeterSettings(
        idle_timeout_s=15.0, active_timeout_s=60.0, activity_threshold_s=3.0
    )
    whole = meter_flows(chunk(pkts), settings, sensor_id="s")
    meter = FlowMeter(settings, sensor_id="s")
    parts = []
    full = chunk(pkts)
    for lo in range(0, len(pkts), 37):
        part = full.take(np.arange(lo, min(lo + 37, len(pkts))))
        meter.add(part)
        parts.append(meter.flush(now_ts=float(part.ts_ns.max()) / 1e9))
    parts.append(meter.close())
    assert meter.open_packets == 0
    inc = pa.concat_tables(parts)
    key = [("ts", "ascending"), ("uid", "ascending")]
    assert inc.num_rows == whole.num_rows > 50
    assert inc.sort_by(key).equals(whole.sort_by(key))


def test_flush_returns_only_expired_flows() -> None:
    meter = FlowMeter(FlowMeterSettings(idle_timeout_s=10.0), sensor_id="s")
    meter.add(chunk([{"t": 0}, {"t": 1, "src": ("10.0.0.3", 5), "dst": B}]))
    assert meter.flush(now_ts=T0 + 5).num_rows == 0
    (r,) = meter.flush(now_ts=T0 + 10.5).to_pylist()
    assert r["src_ip"] == "10.0.0.1" and r["end_reason"] == "idle"
    assert meter.open_packets == 1
    assert meter.close().num_rows == 1


def test_uid_is_deterministic_and_depends_on_sensor() -> None:
    pkts = [{"t": 0}, {"t": 1}]
    u1 = meter_flows(chunk(pkts), sensor_id="a")["uid"].to_pylist()
    u2 = meter_flows(chunk(pkts), sensor_id="a")["uid"].to_pylist()
    u3 = meter_flows(chunk(pkts), sensor_id="b")["uid"].to_pylist()
    assert u1 == u2 != u3 and u1[0].startswith("C")


def test_community_id_agrees_with_the_package(datasets_dir: Path) -> None:
    cid = communityid.CommunityID(0)
    for name in ("esnet/nmap/nmap_80_all.pcap", "stopddos/amp.dns.RRSIG.fragmented.pcap"):
        table = read_pcap(datasets_dir / "pcaps" / name)
        for r in table.to_pylist():
            p = r["ip_proto"]
            if p == 6:
                tpl = communityid.FlowTuple.make_tcp(
                    r["src_ip"], r["dest_ip"], r["src_port"], r["dest_port"]
                )
            elif p == 17:
                tpl = communityid.FlowTuple.make_udp(
                    r["src_ip"], r["dest_ip"], r["src_port"], r["dest_port"]
                )
            elif p == 1:
                tpl = communityid.FlowTuple.make_icmp(
                    r["src_ip"], r["dest_ip"], r["icmp_type"], r["icmp_code"]
                )
            else:
                tpl = communityid.FlowTuple.make_ip(r["src_ip"], r["dest_ip"], p)
            assert r["community_id"] == cid.calc(tpl), r
