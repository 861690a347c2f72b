import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from swarmguard.records.decision import Decision, DecisionReason, Feedback
from swarmguard.respond.ledger import DecisionLedger, UnknownDecisionError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _d(value: str = "203.0.113.7", ttl: float = 60, ts: datetime = T0) -> Decision:
    return Decision(
        ts=ts,
        action="block",
        scope="ip",
        value=value,
        ttl_s=ttl,
        origin="agent:a",
        reason=DecisionReason(alert_uids=["al1", "al2"], detector="rules", category="probe"),
    )


def test_add_is_idempotent_and_sequences_grow(tmp_path: Path) -> None:
    led = DecisionLedger(tmp_path / "l.db")
    a, b = _d(), _d("198.51.100.1")
    assert led.add(a) == 1
    assert led.add(b) == 2
    assert led.add(a) == 1
    assert led.seq(a.uid) == 1 and led.seq(b.uid) == 2 and led.seq("x") is None
    assert led.cursor() == 2
    assert led.get(a.uid) == a
    assert led.get("nope") is None
    assert [d.uid for d in led.history()] == [b.uid, a.uid]
    assert led.history(limit=1) == [b]


def test_persisted_across_reopen_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    d = _d()
    with DecisionLedger(path) as led:
        led.add(d)
        mode = led._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    with DecisionLedger(path) as led:
        assert led.get(d.uid) == d
        assert led.add(_d("192.0.2.9")) == 2


def test_active_excludes_expired_and_revoked() -> None:
    led = DecisionLedger(":memory:")
    short, long_, gone = _d("192.0.2.1", 10), _d("192.0.2.2", 100), _d("192.0.2.3", 100)
    for d in (short, long_, gone):
        led.add(d)
    assert led.revoke(gone.uid, by="admin", reason="false positive") == gone
    now = T0 + timedelta(seconds=30)
    assert [d.value for d in led.active(now)] == ["192.0.2.2"]
    assert led.count_active(now) == 1
    assert led.revoke("unknown", by="admin") is None
    assert led.is_revoked(gone.uid) and not led.is_revoked(long_.uid)


def test_changes_cursor_feeds_new_and_deleted() -> None:
    led = DecisionLedger(":memory:")
    a, b = _d("192.0.2.1"), _d("192.0.2.2")
    led.add(a)
    new, gone, cur = led.changes(0, now=T0)
    assert [d.uid for d in new] == [a.uid] and gone == [] and cur == 1
    led.add(b)
    led.revoke(a.uid, by="admin")
    new, gone, cur2 = led.changes(cur, now=T0)
    assert [d.uid for d in new] == [b.uid]
    assert [d.uid for d in gone] == [a.uid]
    assert cur2 == 3
    # revoking twice changes nothing; nothing new after the cursor
    led.revoke(a.uid, by="admin")
    assert led.changes(cur2, now=T0) == ([], [], 3)
    # from the start: the revoked one is only in "deleted"
    new, gone, _ = led.changes(0, now=T0)
    assert [d.uid for d in new] == [b.uid] and [d.uid for d in gone] == [a.uid]
    # expired ones are not streamed as new
    assert led.changes(0, now=T0 + timedelta(hours=1))[0] == []


def test_offences_count_every_decision_on_a_value() -> None:
    led = DecisionLedger(":memory:")
    for i in range(3):
        led.add(_d("192.0.2.1", ts=T0 + timedelta(minutes=i)))
    led.add(_d("192.0.2.2"))
    assert led.offences("192.0.2.1") == 3
    assert led.offences("192.0.2.9") == 0


def test_explain_has_reason_feedback_revocation_and_ttl() -> None:
    led = DecisionLedger(":memory:")
    d = _d(ttl=100)
    led.add(d)
    fb = Feedback(ts=T0, decision_uid=d.uid, enforcer="nftables", status="applied", duration_ms=1.5)
    led.record_feedback(fb)
    led.record_feedback(fb)  # idempotent
    info = led.explain(d.uid, now=T0 + timedelta(seconds=40))
    assert info["state"] == "active"
    assert info["remaining_ttl_s"] == pytest.approx(60.0)
    assert info["alert_uids"] == ["al1", "al2"]
    assert info["reason"]["detector"] == "rules"
    assert info["policy"] == "playbook"
    assert [f["status"] for f in info["feedback"]] == ["applied"]
    assert info["feedback"][0]["duration_ms"] == 1.5
    assert info["revocation"] is None
    led.revoke(d.uid, by="admin", reason="fp")
    info = led.explain(d.uid, now=T0 + timedelta(seconds=40))
    assert info["state"] == "revoked"
    assert info["revocation"]["by"] == "admin" and info["revocation"]["reason"] == "fp"
    assert led.explain(d.uid, now=T0 + timedelta(hours=1))["state"] == "revoked"
    with pytest.raises(UnknownDecisionError, match="unknown decision 'x'"):
        led.explain("x")


def test_concurrent_adds_from_threads(tmp_path: Path) -> None:
    led = DecisionLedger(tmp_path / "l.db")
    decisions = [_d(f"10.220.{i // 250}.{i % 250 + 1}") for i in range(200)]

    def work(chunk: list[Decision]) -> None:
        for d in chunk:
            led.add(d)
            led.add(d)

    threads = [threading.Thread(target=work, args=(decisions[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    new, _, cur = led.changes(0, now=T0)
    assert len(new) == 200 and cur == 200


def test_refused_decisions_are_explained_but_never_active_or_streamed() -> None:
    led = DecisionLedger(":memory:")
    d = _d("127.0.0.1")
    led.add(d, refused="target 127.0.0.1 is allow-listed")
    assert led.active(T0) == [] and led.count_active(T0) == 0
    assert led.changes(0, now=T0)[:2] == ([], [])
    assert led.offences("127.0.0.1") == 0
    info = led.explain(d.uid, now=T0)
    assert info["state"] == "refused" and "allow-listed" in info["refused"]


def test_lapsed_reports_each_expiry_once() -> None:
    led = DecisionLedger(":memory:")
    a, b, c = _d("192.0.2.1", 10), _d("192.0.2.2", 20), _d("192.0.2.3", 10)
    for d in (a, b, c):
        led.add(d)
    led.revoke(c.uid, by="admin")
    assert led.lapsed(T0 + timedelta(seconds=5)) == []
    assert led.lapsed(T0 + timedelta(seconds=15)) == [a]
    assert led.lapsed(T0 + timedelta(seconds=15)) == []
    assert led.lapsed(T0 + timedelta(seconds=25)) == [b]
