"""UEBA behaviour baselines and the ``detect --logs`` body (``cli.detect_logs``).

Mechanics use synthetic events; the loghub check uses the shared OpenSSH log and only asserts
properties the log itself determines (a flagged source really has a burst of failures), not a
tuned figure.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from swarmguard.acquire.logs import read_logs
from swarmguard.cli.detect_logs import detect_logs
from swarmguard.detect.base import DETECTORS
from swarmguard.detect.ueba import UebaDetector, failed_attempts
from swarmguard.records.log import LogEvent

T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)


def login(user: str, ip: str, ts: datetime) -> LogEvent:
    return LogEvent(
        ts=ts,
        user=user,
        src_ip=ip,
        action="auth_success",
        outcome="success",
        message="Accepted password",
    )


def failure(ip: str, ts: datetime, user: str = "root") -> LogEvent:
    return LogEvent(
        ts=ts,
        user=user,
        src_ip=ip,
        action="auth_failure",
        outcome="failure",
        auth_method="password",
        program="sshd",
        message="Failed password",
        source_file="auth.log",
        source_line=1,
    )


def test_registered() -> None:
    assert DETECTORS.get("ueba") is UebaDetector


def test_login_hour_and_new_source_score() -> None:
    det = UebaDetector()
    det.fit_events([login("ann", "10.0.0.5", T0 + timedelta(days=d)) for d in range(30)])
    usual = login("ann", "10.0.0.5", T0 + timedelta(days=40))
    night = login("ann", "10.0.0.5", T0 + timedelta(days=40, hours=17))  # 02:00
    new_ip = login("ann", "198.51.100.1", T0 + timedelta(days=40))
    scores = det.score_events([usual, night, new_ip])
    assert scores[0] == 0.0
    assert scores[1] > 0.5
    assert scores[2] == 1.0


def test_first_seen_process_pair() -> None:
    def proc(parent: str, image: str) -> LogEvent:
        return LogEvent(ts=T0, host="ws1", process=image, parent_process=parent, message="m")

    det = UebaDetector()
    det.fit_events([proc("C:/explorer.exe", "C:/word.exe")] * 3)
    got = det.score_events(
        [proc("C:/explorer.exe", "C:/word.exe"), proc("C:/word.exe", "C:/powershell.exe")]
    )
    assert got.tolist() == [0.0, 0.8]


def test_failure_burst_flags_only_the_fast_source() -> None:
    fast = [failure("203.0.113.7", T0 + timedelta(seconds=3 * i)) for i in range(12)]
    slow = [failure("198.51.100.9", T0 + timedelta(minutes=5 * i)) for i in range(12)]
    det = UebaDetector()
    assert det.flag_sources(fast + slow) == ["203.0.113.7"]
    (alert,) = det.burst_alerts(fast + slow, sensor_id="s1")
    eve = alert.to_eve()
    assert eve["src_ip"] == "203.0.113.7"
    assert eve["alert"]["category"] == "brute_force"
    assert "failures:12 in 60 s" in eve["evidence"]


def test_pam_duplicates_are_not_counted_twice() -> None:
    pam = LogEvent(ts=T0, src_ip="1.2.3.4", action="auth_failure", message="pam")
    sshd = failure("1.2.3.4", T0)
    assert failed_attempts([pam, sshd]) == [sshd]


def test_parameters_aggregate_by_sum() -> None:
    a, b, both = UebaDetector(), UebaDetector(), UebaDetector()
    ev_a = [login("ann", "10.0.0.5", T0 + timedelta(days=d)) for d in range(10)]
    ev_b = [login("bob", "10.0.0.6", T0 + timedelta(days=d, hours=5)) for d in range(10)]
    a.fit_events(ev_a)
    b.fit_events(ev_b)
    both.fit_events(ev_a + ev_b)
    merged = UebaDetector()
    merged.set_parameters(
        [pa + pb for pa, pb in zip(a.get_parameters(), b.get_parameters(), strict=True)]
    )
    probe = [login("ann", "10.0.0.5", T0), login("bob", "10.0.0.5", T0)]
    np.testing.assert_array_equal(merged.score_events(probe), both.score_events(probe))


def test_loghub_flags_are_real_bursts(datasets_dir: Path) -> None:
    path = datasets_dir / "logs" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    if not path.exists():
        pytest.skip("loghub not available")
    events = read_logs(path, "auth")
    det = UebaDetector()
    flagged = det.flag_sources(events)
    assert flagged
    attempts = Counter(e.src_ip for e in failed_attempts(events))
    assert all(attempts[ip] >= det.burst_failures for ip in flagged)


def test_detect_logs_writes_sigma_ueba_and_rule_alerts(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ssh.yml").write_text(
        "title: SSH root failure\nid: 7a1b2c3d-0000-4000-8000-000000000001\nlevel: low\n"
        "tags: [attack.credential-access, attack.t1110]\n"
        "logsource: {product: linux, service: sshd}\n"
        "detection: {kw: ['Failed password for root'], condition: kw}\n"
    )
    log = tmp_path / "auth.log"
    log.write_text(
        "".join(
            f"Mar  1 09:00:{i:02d} h sshd[{i}]: Failed password for root from 203.0.113.7 "
            f"port {4000 + i} ssh2\n"
            for i in range(12)
        )
    )
    eve = tmp_path / "out" / "eve.jsonl"
    n = detect_logs(
        log, "auto", rules, eve, skip_unsupported=False, skip_bad=False, sensor_id="s1", show=False
    )
    lines = [json.loads(x) for x in eve.read_text().splitlines()]
    assert n == len(lines) == 14
    # 12 Sigma hits, one ueba burst, one threshold-rule alert (12 failed passwords in 60 s).
    assert Counter(x["detector"] for x in lines) == {"sigma": 12, "ueba": 1, "rules": 1}
    sigma = next(x for x in lines if x["detector"] == "sigma")
    assert sigma["alert"]["category"] == "brute_force"
    assert sigma["src_ip"] == "203.0.113.7"
    assert f"{log}:1" in sigma["evidence"]
