from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from swarmguard.acquire.rawpackets import iter_packets
from swarmguard.cli.detect import default_rules_path
from swarmguard.defend.policy import RlPolicy
from swarmguard.detect.rules import EngineConfig, RuleEngine, parse_rules
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.respond.base import POLICIES, Policy, PolicyContext

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo" / "pcaps" / "synflood_first2000.pcap"


def _replayed_alerts() -> list[Alert]:
    engine = RuleEngine(parse_rules(default_rules_path()), EngineConfig())
    alerts = list(engine.run(iter_packets(DEMO)))
    return alerts + engine.finish()


def test_registered_and_protocol() -> None:
    policy = POLICIES.create("rl", "default") if hasattr(POLICIES, "create") else RlPolicy()
    assert isinstance(policy, Policy) and policy.name == "rl"


@pytest.mark.skipif(not DEMO.is_file(), reason="demo capture missing")
def test_replayed_spoofed_flood_blocks_no_bystander() -> None:
    # Every packet of this flood has its own random source, so the per-target alerts name no
    # attacker: blocking whichever address crossed the threshold would hurt its owner only.
    alerts = _replayed_alerts()
    assert alerts, "the SYN flood must raise rule alerts"
    assert all(a.attacker_ip() is None for a in alerts if "flood" in a.alert.signature.lower())
    policy = RlPolicy("default")
    ctx = PolicyContext(now=datetime(2026, 1, 1, tzinfo=UTC), local_hosts=("10.10.10.10",))
    decisions = []
    # the agent hands the policy one batch per second of capture
    batch: list[Alert] = []
    for a in alerts:
        batch.append(a)
        if len(batch) >= 20:
            decisions += policy.decide(batch, ctx)
            batch = []
    decisions += policy.decide(batch, ctx)
    sources = {a.src_ip for a in alerts}
    assert not [d for d in decisions if d.action == "block" and d.value in sources]
    for d in decisions:
        assert d.ttl_s > 0 and d.policy == "rl" and d.simulated
        assert d.reason.alert_uids and d.reason.summary


def test_no_alerts_no_decisions_and_active_blocks_are_not_repeated() -> None:
    policy = RlPolicy("default")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.decide([], PolicyContext(now=now)) == []
    info = AlertInfo(signature_id=1, signature="SSH brute force", category="credential", severity=2)
    burst = [
        Alert(
            ts=now,
            src_ip="198.51.100.4",
            dest_ip="10.0.0.5",
            detector="rules",
            score=0.9,
            alert=info,
        )
        for _ in range(3)
    ]
    first = policy.decide(burst, PolicyContext(now=now, local_hosts=("10.0.0.5",)))
    blocks = [d for d in first if d.action == "block"]
    assert blocks and all(d.value == "198.51.100.4" and d.ttl_s > 0 for d in blocks)
    again = policy.decide(burst, PolicyContext(now=now, active=blocks, local_hosts=("10.0.0.5",)))
    assert not [d for d in again if d.action == "block" and d.value == "198.51.100.4"]
