"""DecisionLedger: the SQLite store of every decision, its feedback and its revocation.

Both the agent (locally) and the coordinator keep one. Every addition and every revocation takes
the next number of one sequence, so ``changes(since)`` can feed a shared blocklist stream (the
agents' pull and CrowdSec's bouncer stream) from a cursor.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.decision import Decision
>>> led = DecisionLedger(":memory:")
>>> d = Decision(ts=datetime(2026, 1, 1, tzinfo=UTC), action="block", scope="ip",
...              value="203.0.113.7", ttl_s=600, origin="agent:edge1")
>>> led.add(d), led.add(d)
(1, 1)
>>> [x.value for x in led.active(datetime(2026, 1, 1, 0, 5, tzinfo=UTC))]
['203.0.113.7']
>>> new, gone, cursor = led.changes(0, now=datetime(2026, 1, 1, tzinfo=UTC))
>>> len(new), len(gone), cursor
(1, 0, 1)
>>> led.revoke(d.uid, by="admin").uid == d.uid
True
>>> led.changes(cursor)[1][0].value, led.offences("203.0.113.7")
('203.0.113.7', 1)
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmguard.errors import SwarmguardError
from swarmguard.records.decision import Decision, Feedback

__all__ = ["DecisionLedger", "UnknownDecisionError"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    value TEXT NOT NULL,
    ts REAL NOT NULL,
    expires REAL NOT NULL,
    body TEXT NOT NULL,
    revoked_seq INTEGER,
    revoked_at REAL,
    revoked_by TEXT,
    revoked_reason TEXT,
    refused TEXT,
    lapsed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS decisions_value ON decisions(value);
CREATE INDEX IF NOT EXISTS decisions_expires ON decisions(expires);
CREATE INDEX IF NOT EXISTS decisions_revoked_seq ON decisions(revoked_seq);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    decision_uid TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_decision ON feedback(decision_uid);
CREATE TABLE IF NOT EXISTS sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
INSERT OR IGNORE INTO sequence (id, last) VALUES (1, 0);
"""


class UnknownDecisionError(SwarmguardError, KeyError):
    """No decision with that uid is in the ledger."""

    def __str__(self) -> str:
        return str(self.args[0])


def _epoch(when: datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class DecisionLedger:
    """Thread-safe SQLite store of decisions, feedback and revocations (WAL mode on files).

    Parameters
    ----------
    path
        Database file, created if missing; ``":memory:"`` for a private in-memory ledger.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> DecisionLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        self._db.execute("UPDATE sequence SET last = last + 1 WHERE id = 1")
        row = self._db.execute("SELECT last FROM sequence WHERE id = 1").fetchone()
        return int(row[0])

    # -- writes ----------------------------------------------------------------------------
    def add(self, decision: Decision, *, refused: str | None = None) -> int:
        """Store ``decision`` and return its sequence number; adding it again returns the same.

        A decision the safety rails ``refused`` (with that reason) is kept for ``explain`` but is
        never active, streamed, or counted as an offence.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT seq FROM decisions WHERE uid = ?", (decision.uid,)
            ).fetchone()
            if row is not None:
                return int(row[0])
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._next_seq()
                self._db.execute(
                    "INSERT INTO decisions (seq, uid, value, ts, expires, body, refused)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        decision.uid,
                        decision.value,
                        _epoch(decision.ts),
                        _epoch(decision.expires_at),
                        decision.model_dump_json(),
                        refused,
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return seq

    def revoke(self, uid: str, *, by: str, reason: str = "") -> Decision | None:
        """Mark decision ``uid`` revoked (once); return it, or None if the uid is unknown."""
        with self._lock:
            row = self._db.execute(
                "SELECT body, revoked_seq FROM decisions WHERE uid = ?", (uid,)
            ).fetchone()
            if row is None:
                return None
            if row[1] is None:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    seq = self._next_seq()
                    self._db.execute(
                        "UPDATE decisions SET revoked_seq = ?, revoked_at = ?, revoked_by = ?,"
                        " revoked_reason = ? WHERE uid = ?",
                        (seq, datetime.now(UTC).timestamp(), by, reason, uid),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            return Decision.model_validate_json(row[0])

    def record_feedback(self, fb: Feedback) -> bool:
        """Append one enforcer report (idempotent on the feedback uid); False when known."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO feedback (uid, decision_uid, ts, body) VALUES (?, ?, ?, ?)",
                (fb.uid, fb.decision_uid, _epoch(fb.ts), fb.model_dump_json()),
            )
            return cur.rowcount == 1

    # -- reads -----------------------------------------------------------------------------
    def get(self, uid: str) -> Decision | None:
        """The decision stored as ``uid``, or None."""
        with self._lock:
            row = self._db.execute("SELECT body FROM decisions WHERE uid = ?", (uid,)).fetchone()
        return None if row is None else Decision.model_validate_json(row[0])

    def seq(self, uid: str) -> int | None:
        """The sequence number decision ``uid`` was added with (a stable integer id), or None."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM decisions WHERE uid = ?", (uid,)).fetchone()
        return None if row is None else int(row[0])

    def is_revoked(self, uid: str) -> bool:
        """True when decision ``uid`` was revoked."""
        with self._lock:
            row = self._db.execute(
                "SELECT revoked_seq FROM decisions WHERE uid = ?", (uid,)
            ).fetchone()
        return row is not None and row[0] is not None

    def state(self, uid: str, now: datetime) -> str | None:
        """``active``, ``expired``, ``revoked`` or ``refused`` at ``now``; None when unknown."""
        with self._lock:
            row = self._db.execute(
                "SELECT expires, revoked_seq, refused FROM decisions WHERE uid = ?", (uid,)
            ).fetchone()
        if row is None:
            return None
        if row[2] is not None:
            return "refused"
        if row[1] is not None:
            return "revoked"
        return "active" if row[0] > _epoch(now) else "expired"

    def active(self, now: datetime) -> list[Decision]:
        """Decisions neither revoked nor expired at ``now``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM decisions WHERE revoked_seq IS NULL AND refused IS NULL"
                " AND expires > ? ORDER BY seq",
                (_epoch(now),),
            ).fetchall()
        return [Decision.model_validate_json(r[0]) for r in rows]

    def count_active(self, now: datetime) -> int:
        """How many decisions are in force at ``now``."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM decisions WHERE revoked_seq IS NULL AND refused IS NULL"
                " AND expires > ?",
                (_epoch(now),),
            ).fetchone()
        return int(row[0])

    def changes(
        self, since: int, *, now: datetime | None = None
    ) -> tuple[list[Decision], list[Decision], int]:
        """New active decisions and revoked ones after cursor ``since``, and the next cursor.

        New ones are those added after ``since`` and still in force at ``now``; revoked ones are
        those revoked after ``since``.
        """
        when = _epoch(now or datetime.now(UTC))
        with self._lock:
            new = self._db.execute(
                "SELECT body FROM decisions WHERE seq > ? AND revoked_seq IS NULL"
                " AND refused IS NULL AND expires > ?"
                " ORDER BY seq",
                (since, when),
            ).fetchall()
            gone = self._db.execute(
                "SELECT body FROM decisions WHERE revoked_seq > ? ORDER BY revoked_seq", (since,)
            ).fetchall()
            cursor = int(self._db.execute("SELECT last FROM sequence WHERE id = 1").fetchone()[0])
        return (
            [Decision.model_validate_json(r[0]) for r in new],
            [Decision.model_validate_json(r[0]) for r in gone],
            cursor,
        )

    def cursor(self) -> int:
        """The sequence number of the latest addition or revocation (0 when empty)."""
        with self._lock:
            return int(self._db.execute("SELECT last FROM sequence WHERE id = 1").fetchone()[0])

    def offences(self, value: str) -> int:
        """How many decisions ever targeted ``value``."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM decisions WHERE value = ? AND refused IS NULL", (value,)
            ).fetchone()
        return int(row[0])

    def lapsed(self, now: datetime) -> list[Decision]:
        """Decisions expired by ``now`` (not revoked or refused) not yet handed out as lapsed.

        Each is returned once: the call marks them, so expiry is reported exactly once.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT uid, body FROM decisions WHERE lapsed = 0 AND revoked_seq IS NULL"
                " AND refused IS NULL AND expires <= ? ORDER BY expires",
                (_epoch(now),),
            ).fetchall()
            self._db.executemany(
                "UPDATE decisions SET lapsed = 1 WHERE uid = ?", [(r[0],) for r in rows]
            )
        return [Decision.model_validate_json(r[1]) for r in rows]

    def feedback(self, uid: str) -> list[Feedback]:
        """Every enforcer report about decision ``uid``, in arrival order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM feedback WHERE decision_uid = ? ORDER BY id", (uid,)
            ).fetchall()
        return [Feedback.model_validate_json(r[0]) for r in rows]

    def history(self, limit: int = 100) -> list[Decision]:
        """The ``limit`` most recent decisions, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM decisions ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Decision.model_validate_json(r[0]) for r in rows]

    def explain(self, uid: str, *, now: datetime | None = None) -> dict[str, Any]:
        """Everything known about decision ``uid``: what, why, who, feedback, revocation, TTL.

        Raises
        ------
        UnknownDecisionError
            When no decision has that uid.
        """
        when = now or datetime.now(UTC)
        with self._lock:
            row = self._db.execute(
                "SELECT body, seq, revoked_at, revoked_by, revoked_reason, revoked_seq, refused"
                " FROM decisions WHERE uid = ?",
                (uid,),
            ).fetchone()
        if row is None:
            raise UnknownDecisionError(f"unknown decision '{uid}'")
        decision = Decision.model_validate_json(row[0])
        remaining = max(0.0, (decision.expires_at - when).total_seconds())
        revoked = row[5] is not None
        if row[6] is not None:
            state = "refused"
        elif revoked:
            state = "revoked"
        elif remaining <= 0:
            state = "expired"
        else:
            state = "active"
        return {
            "uid": decision.uid,
            "seq": int(row[1]),
            "state": state,
            "action": decision.action,
            "scope": decision.scope,
            "value": decision.value,
            "origin": decision.origin,
            "policy": decision.policy,
            "confidence": decision.confidence,
            "simulated": decision.simulated,
            "decided_at": decision.ts.isoformat(),
            "expires_at": decision.expires_at.isoformat(),
            "ttl_s": decision.ttl_s,
            "remaining_ttl_s": 0.0 if state != "active" else round(remaining, 3),
            "refused": row[6],
            "reason": decision.reason.model_dump(mode="json"),
            "alert_uids": list(decision.reason.alert_uids),
            "offences": self.offences(decision.value),
            "feedback": [
                {
                    "ts": fb.ts.isoformat(),
                    "enforcer": fb.enforcer,
                    "status": fb.status,
                    "duration_ms": fb.duration_ms,
                    "detail": fb.detail,
                    "packets_after": fb.packets_after,
                }
                for fb in self.feedback(uid)
            ],
            "revocation": (
                {
                    "at": datetime.fromtimestamp(row[2], UTC).isoformat(),
                    "by": row[3],
                    "reason": row[4] or "",
                }
                if revoked
                else None
            ),
            "decision": decision.model_dump(mode="json"),
        }
