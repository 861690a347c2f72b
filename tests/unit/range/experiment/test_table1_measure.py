"""Measurement mechanics on small synthetic artifacts: the join and every figure of a row."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from t1_synthetic import alert, attempt, decision, tcp_frame, write_jsonl, write_pcap

from swarmguard.errors import InputError
from swarmguard.range.experiment.artifacts import (
    AlertEvent,
    Attempt,
    BenignRequest,
    Enforcement,
    FlowIndex,
    epoch,
    parse_fail2ban_lines,
    read_benign_log,
    read_events,
    read_flows,
    read_ground_truth,
)
from swarmguard.range.experiment.measure import fail2ban_row, measure_row

ATK, SRV, WS = "10.209.0.21", "10.202.0.10", "10.201.0.10"
T = 1_800_000_000.0


def _flows(rows: list[tuple[float, float, str, str, int, int]]) -> FlowIndex:
    return FlowIndex(
        ts=np.array([r[0] for r in rows], dtype=float),
        end=np.array([r[1] for r in rows], dtype=float),
        src=np.array([r[2] for r in rows], dtype=str),
        dst=np.array([r[3] for r in rows], dtype=str),
        sport=np.array([r[4] for r in rows], dtype=np.int64),
        dport=np.array([r[5] for r in rows], dtype=np.int64),
        proto=np.array(["tcp"] * len(rows), dtype=str),
        zone=np.array(["servers"] * len(rows), dtype=str),
    )


def _attempt(
    aid: str, src: str, dst: str, start: float, end: float, tool: str = "hydra-ssh"
) -> Attempt:
    cat = {"hydra-ssh": "brute_force", "nmap": "probe", "hping3": "dos"}[tool]
    return Attempt(aid, tool, tool, cat, src, dst, 22, "servers", start, end)


def test_detected_and_blocked_attempt() -> None:
    a = _attempt("1", ATK, SRV, T, T + 10)
    flows = _flows([(T + 0.2 + i, T + 0.5 + i, ATK, SRV, 40000 + i, 22) for i in range(6)])
    alerts = [AlertEvent(T + 1.5, ATK, SRV), AlertEvent(T + 2.5, ATK, SRV)]
    blocks = [Enforcement(T + 3.7, "block", "ip", ATK, 600, "agent:servers")]
    row = measure_row("rules", [a], flows, alerts, blocks, [])
    assert row["detection_rate"] == 1.0
    assert row["response_ms_p50"] == pytest.approx(3500.0)  # first packet T+0.2 -> T+3.7
    assert row["response_ms_p95"] == pytest.approx(3500.0)
    assert row["detect_to_enforce_ms_p50"] == pytest.approx(2200.0)  # first alert T+1.5
    assert row["attempts_before_block_median"] == 4.0  # flows at T+0.2 .. T+3.2
    assert row["per_attempt"][0]["first_packet_from"] == "capture"
    assert row["false_alerts"] == 0 and row["false_alarm_rate"] == 0.0


def test_detection_to_enforcement_uses_the_agents_detection_stamp() -> None:
    a = _attempt("1", ATK, SRV, T, T + 10)
    flows = _flows([(T + 0.2, T + 0.5, ATK, SRV, 40000, 22)])
    # a flow alert carries the flow's first packet time; the agent saw it at T+3.5
    alerts = [AlertEvent(T + 0.2, ATK, SRV)]
    blocks = [Enforcement(T + 3.6, "block", "ip", ATK, 600, "agent:servers", detected_at=T + 3.5)]
    row = measure_row("svm", [a], flows, alerts, blocks, [])
    assert row["detect_to_enforce_ms_p50"] == pytest.approx(100.0)
    assert row["response_ms_p50"] == pytest.approx(3400.0)


def test_undetected_attempt_and_per_attack_rates() -> None:
    a1 = _attempt("1", ATK, SRV, T, T + 5)
    a2 = _attempt("2", "10.209.0.22", SRV, T + 20, T + 25, tool="nmap")
    flows = _flows([(T + 1, T + 2, ATK, SRV, 1, 22), (T + 21, T + 21.1, "10.209.0.22", SRV, 2, 80)])
    row = measure_row("svm", [a1, a2], flows, [AlertEvent(T + 2, ATK, SRV)], [], [])
    assert row["detection_rate"] == 0.5
    assert row["per_attack"]["hydra-ssh"]["detection_rate"] == 1.0
    assert row["per_attack"]["nmap"]["detection_rate"] == 0.0
    assert row["response_ms_p50"] is None and row["attempts_before_block_median"] is None
    assert row["enforced"] == 0


def test_alert_outside_the_window_or_on_another_target_is_false() -> None:
    a = _attempt("1", ATK, SRV, T, T + 5)
    flows = _flows([(T + 1, T + 2, ATK, SRV, 1, 22)])
    late = AlertEvent(T + 5 + 60, ATK, SRV)
    other = AlertEvent(T + 2, ATK, "10.202.0.99")
    row = measure_row("x", [a], flows, [late, other], [], [])
    assert row["detection_rate"] == 0.0
    assert row["false_alerts"] == 2


def test_false_alarm_rate_counts_benign_flows_an_unmatched_alert_covers() -> None:
    a = _attempt("1", ATK, SRV, T, T + 5)
    benign = [(T + 30 + i, T + 30.5 + i, WS, SRV, 50000 + i, 80) for i in range(4)]
    other = [(T + 30 + i, T + 30.5 + i, "10.201.0.11", SRV, 50100 + i, 80) for i in range(4)]
    flows = _flows([(T + 1, T + 2, ATK, SRV, 1, 22), *benign, *other])
    row = measure_row("x", [a], flows, [AlertEvent(T + 31.2, WS, SRV)], [], [])
    assert row["benign_flows"] == 8
    # the alert at T+31.2 covers WS's flows that began by then (1 s slack: T+30, 31, 32),
    # not the one at T+33 nor the other host's
    assert row["benign_flows_alerted"] == 3
    assert row["false_alarm_rate"] == pytest.approx(3 / 8)


def test_block_already_live_is_not_a_response_time() -> None:
    a = _attempt("1", ATK, SRV, T + 100, T + 105)
    flows = _flows([(T + 100.5, T + 101, ATK, SRV, 1, 22)])
    blocks = [Enforcement(T + 10, "block", "ip", ATK, 600, "agent:servers")]
    row = measure_row("x", [a], flows, [AlertEvent(T + 101, ATK, SRV)], blocks, [])
    assert row["blocked_before_start"] == 1
    assert row["response_ms_p50"] is None


def test_cidr_block_and_scan_target_network_match() -> None:
    a = Attempt("1", "nmap", "nmap", "probe", ATK, "10.202.0.0/24", None, "servers", T, T + 5)
    flows = _flows([(T + 0.5 + i / 10, T + 0.6, ATK, f"10.202.0.{i + 1}", 1, i) for i in range(5)])
    alerts = [AlertEvent(T + 0.8, ATK, "10.202.0.3")]
    blocks = [Enforcement(T + 1.0, "block", "cidr", "10.209.0.0/24", 600, "agent:users")]
    row = measure_row("x", [a], flows, alerts, blocks, [])
    assert row["detection_rate"] == 1.0
    assert row["response_ms_p50"] == pytest.approx(500.0)
    assert row["attempts_before_block_median"] == 5.0


def test_first_packet_falls_back_to_ground_truth_and_says_so() -> None:
    a = Attempt("1", "hping3", "hping3", "dos", ATK, SRV, 80, "servers", T, T + 5, T + 0.3)
    blocks = [Enforcement(T + 1.3, "block", "ip", ATK, 600, "agent:servers")]
    row = measure_row("x", [a], _flows([]), [], blocks, [])
    assert row["per_attempt"][0]["first_packet_from"] == "ground truth"
    assert row["response_ms_p50"] == pytest.approx(1000.0)


def test_benign_requests_inside_the_window_only() -> None:
    reqs = [
        BenignRequest(T - 10, "u", "users", "browse", "srv1", False),
        BenignRequest(T + 1, "u", "users", "browse", "srv1", True),
        BenignRequest(T + 2, "u", "users", "ssh", "srv1", False, "timeout"),
    ]
    row = measure_row("x", [], _flows([]), [], [], reqs, window=(T, T + 60))
    assert (row["benign_requests"], row["benign_requests_failed"]) == (2, 1)
    assert row["detection_rate"] is None


def test_fail2ban_row_is_judged_on_ssh_guessing_only() -> None:
    ssh = _attempt("1", ATK, SRV, T, T + 10)
    scan = _attempt("2", "10.209.0.22", SRV, T + 20, T + 25, tool="nmap")
    flows = _flows(
        [(T + 0.5 + i, T + 0.7 + i, ATK, SRV, 40000 + i, 22) for i in range(5)]
        + [(T + 40, T + 41, WS, SRV, 50000, 22), (T + 21, T + 22, "10.209.0.22", SRV, 3, 80)]
    )
    lines = [
        "{} fail2ban.filter [1]: INFO [sshd] Found {} - x",
        "{} fail2ban.actions [1]: NOTICE [sshd] Ban {}",
    ]

    def stamp(t: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f",{int(t % 1 * 1000):03d}"

    events = parse_fail2ban_lines(
        [
            lines[0].format(stamp(T + 1.5), ATK),
            lines[1].format(stamp(T + 2.5), ATK),
            lines[0].format(stamp(T + 40.2), WS),
        ]
    )
    row = fail2ban_row("fail2ban", [ssh, scan], flows, events, [])
    assert row["attempts"] == 1 and row["detection_rate"] == 1.0
    assert row["response_ms_p50"] == pytest.approx(2000.0)
    assert row["attempts_before_block_median"] == 2.0
    assert row["benign_flows"] == 1 and row["benign_flows_alerted"] == 1
    # guessing against a server fail2ban did not watch is not held against it, nor benign
    other = fail2ban_row("fail2ban", [ssh, scan], flows, events, [], watched={"10.202.0.99"})
    assert other["attempts"] == 0 and other["benign_flows"] == 1


def test_artifacts_from_files_end_to_end(tmp_path: Path) -> None:
    """Files as the range writes them -> the same figures (capture metered by read_pcap)."""
    truth = write_jsonl(
        tmp_path / "truth.jsonl", [attempt("1", "hydra-ssh", "brute_force", ATK, SRV, 22, T, T + 5)]
    )
    pcap = write_pcap(
        tmp_path / "servers.pcap",
        [(T + 0.25 + i, tcp_frame(ATK, SRV, 40000 + i, 22)) for i in range(4)]
        + [(T + 0.3, tcp_frame(WS, SRV, 50000, 80))],
    )
    # the same flow seen again on the other zone's interface is counted once
    copy = write_pcap(tmp_path / "users.pcap", [(T + 0.301, tcp_frame(WS, SRV, 50000, 80))])
    events = write_jsonl(
        tmp_path / "events.jsonl",
        [
            alert("2027-01-15T08:00:01.000000Z", ATK, SRV),
            decision("d1", ATK, T + 2.75),
            decision("d0", WS, T + 0.1, simulated=True),
            decision("d2", WS, T + 0.1, action="notify"),
            {"type": "feedback", "decision_uid": "d1", "status": "applied", "ts": T + 2.5},
        ],
    )
    flows = read_flows({"servers": pcap, "users": copy})
    assert len(flows) == 5
    attempts = read_ground_truth(truth)
    alerts, enforcements = read_events([events])
    assert [e.uid for e in enforcements] == ["d1"]
    assert enforcements[0].ts == pytest.approx(T + 2.5)  # feedback before enforced_at
    assert alerts[0].ts == epoch("2027-01-15T08:00:01Z")
    row = measure_row("rules", attempts, flows, alerts, enforcements, [])
    assert row["response_ms_p50"] == pytest.approx(2250.0, abs=1.0)
    assert row["attempts_before_block_median"] == 3.0
    assert row["benign_flows"] == 1


def test_bad_ground_truth_names_the_record(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"attempt_id": "1", "src_ip": ATK}])
    with pytest.raises(InputError, match="record 1"):
        read_ground_truth(path)


def test_torn_last_line_is_skipped_and_benign_log_read(tmp_path: Path) -> None:
    path = tmp_path / "benign.jsonl"
    path.write_text(
        '{"ts": 1.5, "user": "ws1", "zone": "users", "kind": "dns", "target": "srv1", '
        '"ok": false, "error": "timeout"}\n{"ts": 2, "us',
        encoding="utf-8",
    )
    reqs = read_benign_log(path)
    assert len(reqs) == 1 and not reqs[0].ok and reqs[0].error == "timeout"
