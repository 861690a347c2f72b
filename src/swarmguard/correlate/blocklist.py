"""SharedBlocklist: the decisions in force across the swarm, kept current from a change stream.

It follows any source of ``changes(since) -> (new, deleted, cursor)`` (the coordinator's
``DecisionLedger``, or the agent's pull of ``GET /api/v1/decisions/stream``) and answers "is this
address blocked, and by which decision?", dropping decisions as they expire.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.decision import Decision
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> net = Decision(ts=t0, action="block", scope="cidr", value="198.51.100.0/24", ttl_s=60,
...                origin="coordinator")
>>> bl = SharedBlocklist(clock=lambda: t0)
>>> bl.apply([net], [], cursor=7)
7
>>> bl.lookup("198.51.100.20").uid == net.uid, bl.lookup("198.51.100.20", action="notify")
(True, None)
>>> bl.apply([], [net], cursor=8), bl.lookup("198.51.100.20"), len(bl)
(8, None, 0)
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from swarmguard.records.decision import Decision

__all__ = ["ChangeSource", "SharedBlocklist"]


class ChangeSource(Protocol):
    """Anything with a decision change stream (``DecisionLedger`` has one)."""

    def changes(self, since: int) -> tuple[list[Decision], list[Decision], int]:
        """(new and active, revoked, next cursor) after cursor ``since``."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class SharedBlocklist:
    """An in-memory view of the active shared decisions, updated from a cursor."""

    def __init__(self, *, clock: Callable[[], datetime] = _now) -> None:
        self.clock = clock
        self.cursor = 0
        self._by_uid: dict[str, Decision] = {}
        self._lock = threading.Lock()

    def apply(self, new: Sequence[Decision], deleted: Sequence[Decision], cursor: int) -> int:
        """Take one batch of changes; return the cursor to ask from next time."""
        with self._lock:
            for d in new:
                self._by_uid[d.uid] = d
            for d in deleted:
                self._by_uid.pop(d.uid, None)
            self.cursor = max(self.cursor, cursor)
            return self.cursor

    def pull(self, source: ChangeSource) -> tuple[list[Decision], list[Decision]]:
        """Fetch and apply the changes since the last pull; return them."""
        new, deleted, cursor = source.changes(self.cursor)
        self.apply(new, deleted, cursor)
        return new, deleted

    def active(self) -> list[Decision]:
        """Decisions in force now (expired ones are dropped)."""
        now = self.clock()
        with self._lock:
            self._by_uid = {u: d for u, d in self._by_uid.items() if d.expires_at > now}
            return list(self._by_uid.values())

    def lookup(self, ip: str, *, action: str = "block") -> Decision | None:
        """The active ``action`` decision covering address ``ip``, if any."""
        addr = ipaddress.ip_address(ip)
        for d in self.active():
            if d.action != action:
                continue
            net = ipaddress.ip_network(d.value, strict=False)
            if net.version == addr.version and addr in net:
                return d
        return None

    def __len__(self) -> int:
        return len(self.active())
