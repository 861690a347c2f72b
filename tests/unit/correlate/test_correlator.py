from datetime import UTC, datetime, timedelta

import pytest

from swarmguard.correlate.blocklist import SharedBlocklist
from swarmguard.correlate.correlator import Correlator, LeakyBucket
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.decision import Decision
from swarmguard.respond.ledger import DecisionLedger

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _a(
    agent: str, at: float, src: str = "203.0.113.7", score: float = 1.0, cat: str = "recon"
) -> Alert:
    return Alert(
        ts=T0 + timedelta(seconds=at),
        sensor_id=agent,
        src_ip=src,
        alert=AlertInfo(signature_id=1, signature="s", category=cat, severity=2),
        detector="rules",
        score=score,
    )


def test_confidence_rises_with_distinct_agents() -> None:
    c = Correlator(window_s=60, threshold=0.99)
    levels = []
    for i, agent in enumerate(["e1", "e1", "e2", "e3", "e4"]):
        c.observe(_a(agent, i))
        levels.append(c.confidence("203.0.113.7", "recon"))
    assert levels[2] > levels[1] and levels[3] > levels[2] and levels[4] > levels[3]
    assert c.agents("203.0.113.7") == ["e1", "e2", "e3", "e4"]


def test_one_agent_alone_does_not_decide_until_its_bucket_overflows() -> None:
    c = Correlator(window_s=60, capacity=5, leak_per_s=0.0)
    out = [c.observe(_a("e1", i * 0.1)) for i in range(5)]
    assert [len(x) for x in out] == [0, 0, 0, 0, 1]
    [d] = out[-1]
    assert d.reason.agents == ["e1"] and d.confidence >= 0.8


def test_reports_outside_the_window_do_not_count() -> None:
    c = Correlator(window_s=10)
    assert c.observe(_a("e1", 0)) == []
    assert c.observe(_a("e2", 30)) == []  # e1 is out of the window by now
    [d] = c.observe(_a("e1", 31))
    assert d.reason.agents == ["e1", "e2"]
    assert d.ts == T0 + timedelta(seconds=31)


def test_bucket_leaks() -> None:
    b = LeakyBucket(capacity=10, leak_per_s=2)
    for _ in range(10):
        b.add(0)
    assert b.fill_at(0) == 1.0
    assert b.level_at(3) == 4.0 and b.level_at(100) == 0.0
    b.add(100)
    assert b.level == 1.0


def test_decision_fields_ttl_growth_exclusion_and_once_per_ttl() -> None:
    led = DecisionLedger(":memory:")
    c = Correlator(window_s=60, ttl_s=100, offences=led.offences, exclude=["10.220.0.0/16"])
    assert c.observe(_a("e1", 0, src="10.220.1.1")) == []
    assert c.observe(_a("e2", 0, src="10.220.1.1")) == []  # excluded network
    c.observe(_a("e1", 0))
    [d] = c.observe(_a("e2", 1))
    assert (d.origin, d.policy, d.action, d.scope, d.ttl_s) == (
        "coordinator",
        "correlate",
        "block",
        "ip",
        100,
    )
    assert d.simulated and len(d.reason.alert_uids) == 2 and d.reason.category == "recon"
    led.add(d)
    assert c.observe(_a("e3", 50)) == []  # still in force
    [again] = c.observe(_a("e4", 101))
    assert again.ttl_s == 200  # repeat offender


def test_categories_have_separate_buckets_and_bad_config() -> None:
    c = Correlator(capacity=3, leak_per_s=0)
    for i in range(3):
        c.observe(_a("e1", i, cat="dos"))
    assert c.confidence("203.0.113.7", "dos") > c.confidence("203.0.113.7", "recon")
    with pytest.raises(ValueError):
        Correlator(window_s=0)
    with pytest.raises(ValueError):
        Correlator(threshold=1.5)
    assert c.observe(_a("e1", 0).model_copy(update={"src_ip": None})) == []


def test_shared_blocklist_follows_the_ledger() -> None:
    led = DecisionLedger(":memory:")
    now = [T0]
    bl = SharedBlocklist(clock=lambda: now[0])
    c = Correlator(window_s=60, ttl_s=30)
    decisions: list[Decision] = c.observe_many([_a("e1", 0), _a("e2", 0)])
    for d in decisions:
        led.add(d)
    # the ledger stream is evaluated at wall-clock time, so feed it explicitly
    new, deleted, cursor = led.changes(0, now=T0)
    bl.apply(new, deleted, cursor)
    hit = bl.lookup("203.0.113.7")
    assert hit is not None and hit.reason.agents == ["e1", "e2"]
    assert bl.lookup("203.0.113.8") is None
    now[0] = T0 + timedelta(seconds=31)
    assert bl.lookup("203.0.113.7") is None and len(bl) == 0
