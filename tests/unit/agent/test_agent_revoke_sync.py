"""A revocation made in the agent's ledger from elsewhere is lifted by the running responder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from swarmguard.agent.outbox import Outbox
from swarmguard.agent.responder import Responder
from swarmguard.cli.decisions import decisions_app
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.decision import Decision, Feedback
from swarmguard.respond.base import PolicyContext
from swarmguard.respond.clock import feedback
from swarmguard.respond.ledger import DecisionLedger
from swarmguard.respond.rails import RailsConfig, SafetyRails


class _BlockSources:
    name = "block-sources"

    def __init__(self) -> None:
        self.asked = 0

    def decide(self, alerts: Sequence[Alert], context: PolicyContext) -> list[Decision]:
        self.asked += 1
        return [
            Decision(
                ts=context.now,
                action="block",
                scope="ip",
                value=str(a.src_ip),
                ttl_s=600,
                origin=context.origin,
                simulated=False,
            )
            for a in alerts
        ]


class _Recording:
    """An enforcer that only records what it was asked to do."""

    name = "recording"

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.revoked: list[str] = []

    def apply(self, decision: Decision) -> Feedback:
        self.applied.append(decision.value)
        return feedback(decision.uid, self.name, "applied", 0.0)

    def revoke(self, decision: Decision) -> Feedback:
        self.revoked.append(decision.value)
        return feedback(decision.uid, self.name, "revoked", 0.0)

    def list(self) -> list[str]:
        return sorted(set(self.applied) - set(self.revoked))


def _alert(src: str) -> Alert:
    return Alert(
        ts=datetime.now(UTC),
        src_ip=src,
        dest_ip="10.250.0.2",
        detector="rules",
        score=1.0,
        alert=AlertInfo(signature_id=1, signature="x", category="dos", severity=1),
    )


def _responder(db: Path) -> tuple[Responder, _Recording, _BlockSources]:
    enforcer = _Recording()
    rails = SafetyRails(DecisionLedger(db), [enforcer], config=RailsConfig(dry_run=False))
    policy = _BlockSources()
    resp = Responder(
        agent_id="edge1",
        policy=policy,
        rails=rails,
        outbox=Outbox(":memory:"),
        effect_check_s=0,
        sync_s=0.0,
    )
    return resp, enforcer, policy


def test_revoke_in_a_second_ledger_is_lifted_on_tick(tmp_path: Path) -> None:
    db = tmp_path / "decisions.sqlite"
    resp, enforcer, policy = _responder(db)
    [decision] = resp.handle([_alert("198.51.100.9")])
    assert enforcer.applied == ["198.51.100.9"]
    resp.tick()
    assert enforcer.revoked == []
    assert resp.handle([_alert("198.51.100.9")]) == []  # blocked: the policy is not asked
    assert policy.asked == 1

    with DecisionLedger(db) as other:  # e.g. `swarmguard decisions revoke ID --db`
        assert other.revoke(decision.uid, by="cli", reason="false positive") is not None
    resp.tick()
    assert enforcer.revoked == ["198.51.100.9"]
    resp.tick()
    assert enforcer.revoked == ["198.51.100.9"]  # lifted once
    assert not resp._is_blocked("198.51.100.9", 0.0)
    assert decision.uid not in resp._active
    [again] = resp.handle([_alert("198.51.100.9")])  # no longer considered blocked
    assert policy.asked == 2 and again.uid != decision.uid
    assert enforcer.applied == ["198.51.100.9", "198.51.100.9"]


def test_cli_revoke_on_the_agent_ledger_is_lifted(tmp_path: Path) -> None:
    db = tmp_path / "decisions.sqlite"
    resp, enforcer, _ = _responder(db)
    [decision] = resp.handle([_alert("203.0.113.50")])
    res = CliRunner().invoke(decisions_app, ["revoke", decision.uid, "--db", str(db)])
    assert res.exit_code == 0, res.output
    resp.tick()
    assert enforcer.revoked == ["203.0.113.50"]
    fb = resp.rails.ledger.feedback(decision.uid)
    assert [f.status for f in fb if f.enforcer == "recording"] == ["applied", "revoked"]


def test_sync_is_rate_limited(tmp_path: Path) -> None:
    db = tmp_path / "decisions.sqlite"
    resp, enforcer, _ = _responder(db)
    resp.sync_s = 3600.0
    [decision] = resp.handle([_alert("203.0.113.51")])
    resp.tick()  # the first tick reads the ledger, the next not before sync_s
    with DecisionLedger(db) as other:
        other.revoke(decision.uid, by="cli")
    resp.tick()
    assert enforcer.revoked == []
    resp._next_sync = 0.0
    resp.tick()
    assert enforcer.revoked == ["203.0.113.51"]
