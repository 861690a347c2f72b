"""DryRunEnforcer: logs what it would do and remembers it, changing nothing on the host.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.decision import Decision
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> dry = DryRunEnforcer(clock=lambda: now)
>>> d = Decision(ts=now, action="block", scope="ip", value="203.0.113.7", ttl_s=60,
...              origin="agent:a")
>>> fb = dry.apply(d)
>>> fb.status, fb.detail, dry.list()
('applied', 'dry-run: would block ip 203.0.113.7 for 60 s', ['203.0.113.7'])
>>> dry.revoke(d).status, dry.list()
('revoked', [])
"""

from __future__ import annotations

import logging
import threading
import time

from swarmguard.records.decision import Decision, Feedback
from swarmguard.respond.clock import Clock, feedback, utcnow

__all__ = ["DryRunEnforcer"]

log = logging.getLogger(__name__)


class DryRunEnforcer:
    """The default enforcer: every decision is logged as what would have been done."""

    name = "dryrun"
    actions = frozenset({"block", "rate_limit", "quarantine", "notify", "unblock"})

    def __init__(self, *, clock: Clock = utcnow) -> None:
        self._clock = clock
        self._state: dict[str, Decision] = {}
        self._lock = threading.Lock()

    def apply(self, decision: Decision) -> Feedback:
        """Log and remember ``decision``."""
        started = time.perf_counter()
        what = f"{decision.action} {decision.scope} {decision.value}"
        if decision.action == "rate_limit":
            what += f" to {decision.rate_limit_pps} pps"
        detail = f"dry-run: would {what} for {decision.ttl_s:g} s"
        log.info("%s (decision %s)", detail, decision.uid)
        with self._lock:
            self._state[decision.uid] = decision
        return feedback(
            decision.uid, self.name, "applied", started, clock=self._clock, detail=detail
        )

    def revoke(self, decision: Decision) -> Feedback:
        """Forget ``decision``."""
        started = time.perf_counter()
        with self._lock:
            self._state.pop(decision.uid, None)
        log.info("dry-run: would lift %s %s", decision.action, decision.value)
        return feedback(
            decision.uid, self.name, "revoked", started, clock=self._clock, detail="dry-run"
        )

    def expire(self, decision: Decision) -> None:
        """Forget a decision whose TTL ran out."""
        with self._lock:
            self._state.pop(decision.uid, None)

    def list(self) -> list[str]:
        """Targets of the remembered decisions that have not expired."""
        now = self._clock()
        with self._lock:
            return [d.value for d in self._state.values() if d.expires_at > now]

    def close(self) -> None:
        """Nothing to release."""
