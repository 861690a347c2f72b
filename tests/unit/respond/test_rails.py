from datetime import UTC, datetime, timedelta

import pytest

from swarmguard.errors import SwarmguardError
from swarmguard.records.decision import Decision, Feedback
from swarmguard.respond.allowlist import AllowList, resolve_host
from swarmguard.respond.enforcers.dryrun import DryRunEnforcer
from swarmguard.respond.ledger import DecisionLedger
from swarmguard.respond.rails import RailsConfig, SafetyRails

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class RecordingEnforcer:
    """A fake real enforcer that remembers what it was asked to do."""

    name = "fake"
    actions = frozenset({"block", "rate_limit"})

    def __init__(self, fail: bool = False) -> None:
        self.applied: list[str] = []
        self.revoked: list[str] = []
        self.fail = fail

    def apply(self, decision: Decision) -> Feedback:
        if self.fail:
            raise RuntimeError("netlink said no")
        self.applied.append(decision.value)
        return Feedback(
            ts=T0, decision_uid=decision.uid, enforcer=self.name, status="applied", duration_ms=0.1
        )

    def revoke(self, decision: Decision) -> Feedback:
        self.revoked.append(decision.value)
        return Feedback(
            ts=T0, decision_uid=decision.uid, enforcer=self.name, status="revoked", duration_ms=0.1
        )

    def list(self) -> list[str]:
        return [v for v in self.applied if v not in self.revoked]


def _d(value: str, action: str = "block", ttl: float = 60, simulated: bool = False) -> Decision:
    return Decision(
        ts=T0,
        action=action,
        scope="cidr" if "/" in value else "ip",
        value=value,
        ttl_s=ttl,
        origin="agent:t",
        simulated=simulated,
        rate_limit_pps=10 if action == "rate_limit" else None,
    )


def _rails(**cfg: object) -> tuple[SafetyRails, RecordingEnforcer, Clock]:
    clock = Clock()
    fake = RecordingEnforcer()
    allow = AllowList({"10.220.0.1": "gateway", "192.0.2.0/28": "management"})
    rails = SafetyRails(
        DecisionLedger(":memory:"),
        [fake],
        allowlist=allow,
        config=RailsConfig(**cfg),
        clock=clock,
    )
    return rails, fake, clock


def test_allowlist_overlaps_both_families_and_labels() -> None:
    allow = AllowList(["2001:db8::/32", "10.0.0.0/8"])
    assert allow.covers("10.1.2.3") == "10.1.2.3/32 overlaps 10.0.0.0/8 (configured)"
    assert allow.covers("0.0.0.0/0") is not None  # a block of everything hits the loopback
    assert allow.covers("2001:db8:1::5") is not None
    assert allow.covers("203.0.113.9") is None
    assert allow.covers("2001:db9::1") is None
    with pytest.raises(SwarmguardError, match="not an address"):
        allow.add("example.org")
    notify = _d("10.1.2.3", action="notify")
    assert allow.check(notify) is None  # notify changes no traffic
    assert resolve_host("http://127.0.0.1:8080/api") == ["127.0.0.1"]
    assert resolve_host("localhost")


def test_allowlist_for_host_has_own_addresses() -> None:
    allow = AllowList.for_host(["198.51.100.0/24"], coordinator="https://127.0.0.2:8443")
    labels = dict(allow.entries())
    assert labels["198.51.100.0/24"] == "configured"
    assert labels["127.0.0.2/32"] == "coordinator"
    assert "own address" in labels.values() or "loopback" in labels.values()


def test_dry_run_is_the_default_and_reaches_only_dryrun() -> None:
    rails, fake, _ = _rails()
    fbs = rails.submit(_d("203.0.113.7"))
    assert [(f.enforcer, f.status) for f in fbs] == [("dryrun", "applied")]
    assert fake.applied == []
    assert rails.dryrun.list() == ["203.0.113.7"]


def test_simulated_decision_never_reaches_a_real_enforcer() -> None:
    rails, fake, _ = _rails(dry_run=False)
    assert [f.enforcer for f in rails.submit(_d("203.0.113.7", simulated=True))] == ["dryrun"]
    assert fake.applied == []
    assert [f.enforcer for f in rails.submit(_d("203.0.113.8"))] == ["fake"]
    assert fake.applied == ["203.0.113.8"]


def test_allow_listed_targets_are_refused_and_explained() -> None:
    rails, fake, _ = _rails(dry_run=False)
    for value in ("10.220.0.1", "10.220.0.0/16", "192.0.2.5", "127.0.0.1"):
        d = _d(value)
        [fb] = rails.submit(d)
        assert fb.status == "refused" and "allow-listed" in fb.detail
        assert rails.ledger.explain(d.uid)["state"] == "refused"
    assert fake.applied == []
    assert rails.ledger.active(T0) == []


def test_ttl_is_capped() -> None:
    rails, fake, _ = _rails(dry_run=False, max_ttl_s=100)
    d = _d("203.0.113.7", ttl=10_000)
    rails.submit(d)
    stored = rails.ledger.get(d.uid)
    assert stored is not None and stored.ttl_s == 100


def test_cap_on_active_decisions() -> None:
    rails, fake, clock = _rails(dry_run=False, max_active=2)
    ok = [rails.submit(_d(f"203.0.113.{i}"))[0].status for i in range(1, 4)]
    assert ok == ["applied", "applied", "refused"]
    assert fake.applied == ["203.0.113.1", "203.0.113.2"]
    clock.now = T0 + timedelta(seconds=61)  # both expired: room again
    assert rails.submit(_d("203.0.113.4"))[0].status == "applied"


def test_failure_is_feedback_and_no_enforcer_is_refused() -> None:
    ledger = DecisionLedger(":memory:")
    rails = SafetyRails(ledger, [RecordingEnforcer(fail=True)], config=RailsConfig(dry_run=False))
    d = _d("203.0.113.7")
    [fb] = rails.submit(d)
    assert fb.status == "failed" and "netlink said no" in fb.detail
    [fb] = rails.submit(_d("203.0.113.9", action="notify"))
    assert fb.status == "refused" and "no enforcer handles 'notify'" in fb.detail


def test_revoke_expire_and_unblock() -> None:
    rails, fake, clock = _rails(dry_run=False)
    a, b, c = _d("203.0.113.1", ttl=10), _d("203.0.113.2"), _d("198.51.100.7")
    for d in (a, b, c):
        rails.submit(d)
    assert [f.status for f in rails.revoke(b.uid, by="admin", reason="fp")] == ["revoked"]
    assert rails.revoke(b.uid, by="admin") == []
    assert rails.revoke("unknown", by="admin") == []
    assert fake.revoked == ["203.0.113.2"]
    unblock = _d("198.51.100.0/24", action="unblock")
    fbs = rails.submit(unblock)
    assert fake.revoked == ["203.0.113.2", "198.51.100.7"]
    assert fbs[-1].detail == "lifted 1 enforcement(s)"
    clock.now = T0 + timedelta(seconds=11)
    assert [f.status for f in rails.expire()] == ["expired"]
    assert rails.expire() == []
    assert rails.ledger.explain(a.uid)["feedback"][-1]["status"] == "expired"
    assert rails.ledger.active(clock.now) == []


def test_resubmitting_is_idempotent_and_reassert_replays() -> None:
    rails, fake, _ = _rails(dry_run=False)
    d = _d("203.0.113.7")
    rails.submit(d)
    rails.submit(d)
    assert rails.ledger.offences("203.0.113.7") == 1
    assert [f.status for f in rails.reassert()] == ["applied"]
    assert fake.applied == ["203.0.113.7"] * 3
    rails.revoke(d.uid, by="admin")
    assert rails.submit(d) == []  # a revoked decision does not come back


def test_dryrun_forgets_expired() -> None:
    clock = Clock()
    dry = DryRunEnforcer(clock=clock)
    d = _d("203.0.113.7", ttl=5)
    dry.apply(d)
    assert dry.list() == ["203.0.113.7"]
    clock.now = T0 + timedelta(seconds=6)
    assert dry.list() == []


def test_sync_lifts_revocations_made_elsewhere(tmp_path: object) -> None:
    rails, fake, _ = _rails(dry_run=False)
    d = _d("203.0.113.7")
    rails.submit(d)
    assert rails.sync() == []
    rails.ledger.revoke(d.uid, by="cli", reason="fp")  # e.g. `swarmguard decisions revoke`
    assert [f.status for f in rails.sync()] == ["revoked"]
    assert fake.revoked == ["203.0.113.7"]
    assert rails.sync() == []
    own = _d("203.0.113.8")
    rails.submit(own)
    rails.revoke(own.uid, by="admin")
    assert rails.sync() == []  # lifted already
    assert fake.revoked == ["203.0.113.7", "203.0.113.8"]
