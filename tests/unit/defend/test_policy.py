from __future__ import annotations

import shutil
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
    # no alert names an attacker, so there is nobody to act on: no decision at all
    assert decisions == []
    # the same flood with a real attacker's brute force mixed in: the policy acts on the
    # attacker and only on it, never on a spoofed source of the flood
    now = datetime(2026, 1, 1, tzinfo=UTC)
    info = AlertInfo(signature_id=9, signature="SSH brute force", category="credential", severity=2)
    brute = [
        Alert(
            ts=now,
            src_ip="198.51.100.4",
            dest_ip="10.10.10.10",
            detector="rules",
            score=0.9,
            alert=info,
        )
        for _ in range(3)
    ]
    mixed = RlPolicy("default").decide(alerts[:20] + brute, ctx)
    assert mixed, "the brute-forcing attacker must be acted on"
    assert {d.value for d in mixed} == {"198.51.100.4"}
    for d in mixed:
        assert d.ttl_s > 0 and d.policy == "rl" and d.simulated
        assert d.reason.alert_uids and d.reason.summary


def test_rl_path_loads_a_policy_folder(tmp_path: Path) -> None:
    from swarmguard.agent.config import PolicyConfig
    from swarmguard.agent.runtime import build_policy
    from swarmguard.defend.policy import DEFAULT_POLICY

    folder = tmp_path / "ckpt"
    shutil.copytree(DEFAULT_POLICY, folder)
    policy = build_policy(PolicyConfig(name=f"rl:{folder}"))
    assert isinstance(policy, RlPolicy) and policy.path == str(folder)
    assert policy.manifest["seed"] == RlPolicy("default").manifest["seed"]


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
