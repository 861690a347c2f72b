"""The injected clock of the response stage, and Feedback built from a timing.

Examples
--------
>>> from datetime import datetime, UTC
>>> fixed = lambda: datetime(2026, 1, 1, tzinfo=UTC)
>>> fb = feedback("d1", "dryrun", "applied", 0.0, clock=fixed, detail="x")
>>> fb.status, fb.duration_ms >= 0, fb.ts.year
('applied', True, 2026)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from swarmguard.records.decision import Feedback, FeedbackStatus

__all__ = ["Clock", "feedback", "utcnow"]

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, UTC (the default clock)."""
    return datetime.now(UTC)


def feedback(
    decision_uid: str,
    enforcer: str,
    status: FeedbackStatus,
    started: float,
    *,
    clock: Clock = utcnow,
    detail: str = "",
    packets_after: int | None = None,
    sensor_id: str = "local",
) -> Feedback:
    """Feedback whose ``duration_ms`` runs from ``started`` (a ``time.perf_counter()``) to now."""
    return Feedback(
        ts=clock(),
        decision_uid=decision_uid,
        enforcer=enforcer,
        status=status,
        duration_ms=max(0.0, (time.perf_counter() - started) * 1000.0) if started else 0.0,
        detail=detail,
        packets_after=packets_after,
        sensor_id=sensor_id,
    )
