"""The durable outbox: alerts, decisions and feedback waiting for the coordinator.

Records are written to SQLite (WAL mode) the moment they exist, keyed by ``(kind, uid)``; the
publisher reads the oldest ones, sends them, and deletes them only after the coordinator said
it stored them. A crash, a lost reply or a coordinator that is down therefore loses nothing
and at worst sends a record twice (at-least-once); the coordinator keeps one copy per uid, so
each record is stored exactly once. A small key-value table keeps the agent's cursors (the
position in the shared decision stream).

Examples
--------
>>> box = Outbox(":memory:")
>>> box.put("alert", "a1", '{"uid": "a1"}'), box.put("alert", "a1", '{"uid": "a1"}')
(True, False)
>>> batch = box.peek("alert", 10)
>>> [(item.uid, item.body) for item in batch]
[('a1', '{"uid": "a1"}')]
>>> box.ack([item.seq for item in batch]); box.pending()
{'alert': 0, 'decision': 0, 'feedback': 0}
>>> box.set_state("cursor", "42"); box.get_state("cursor")
'42'
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["KINDS", "Outbox", "OutboxItem", "RecordKind"]

RecordKind = Literal["alert", "decision", "feedback"]
KINDS: tuple[RecordKind, ...] = ("alert", "decision", "feedback")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    uid TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, uid)
);
CREATE TABLE IF NOT EXISTS dead (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    uid TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class OutboxItem:
    """One queued record: its queue position, kind, uid and JSON body."""

    seq: int
    kind: RecordKind
    uid: str
    body: str
    attempts: int


class Outbox:
    """A thread-safe SQLite queue of records for the coordinator (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.delivered = 0
        """Records acknowledged by the coordinator since this outbox was opened."""

    def close(self) -> None:
        """Close the database (queued records stay on disk)."""
        with self._lock:
            self._db.close()

    def put(self, kind: RecordKind, uid: str, body: str) -> bool:
        """Queue one record; False when a record of that kind and uid is already queued."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox (kind, uid, body, created) VALUES (?, ?, ?, ?)",
                (kind, uid, body, time.time()),
            )
            return cur.rowcount == 1

    def put_many(self, kind: RecordKind, items: Sequence[tuple[str, str]]) -> int:
        """Queue ``(uid, body)`` pairs in one transaction; returns how many were new."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox (kind, uid, body, created) VALUES (?, ?, ?, ?)",
                    [(kind, uid, body, now) for uid, body in items],
                )
                added = self._db.total_changes - before
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return added

    def peek(self, kind: RecordKind, limit: int) -> list[OutboxItem]:
        """The oldest ``limit`` queued records of ``kind`` (they stay queued until ``ack``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, uid, body, attempts FROM outbox WHERE kind = ? "
                "ORDER BY seq LIMIT ?",
                (kind, limit),
            ).fetchall()
        return [OutboxItem(int(r[0]), r[1], str(r[2]), str(r[3]), int(r[4])) for r in rows]

    def ack(self, seqs: Sequence[int]) -> None:
        """Forget records the coordinator has stored."""
        with self._lock:
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self.delivered += len(seqs)

    def attempted(self, seqs: Sequence[int]) -> None:
        """Count one more failed delivery attempt for these records."""
        with self._lock:
            self._db.executemany(
                "UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs]
            )

    def bury(self, item: OutboxItem, reason: str) -> None:
        """Move a record the coordinator rejected as invalid to the dead-letter table."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO dead (seq, kind, uid, body, reason) VALUES (?, ?, ?, ?, ?)",
                (item.seq, item.kind, item.uid, item.body, reason),
            )
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (item.seq,))
            self._db.execute("COMMIT")

    def pending(self) -> dict[str, int]:
        """Queued records per kind."""
        with self._lock:
            rows = dict(self._db.execute("SELECT kind, COUNT(*) FROM outbox GROUP BY kind"))
        return {k: int(rows.get(k, 0)) for k in KINDS}

    def dead_count(self) -> int:
        """Records the coordinator rejected (kept for inspection, never resent)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM dead").fetchone()
        return int(row[0])

    def get_state(self, key: str) -> str | None:
        """A value saved with ``set_state`` (None if never set)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        """Save a small value (a cursor) that must survive a restart."""
        with self._lock:
            self._db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
