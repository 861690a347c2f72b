"""Correlator: the same source seen by several agents within a window raises confidence.

For each attacking source the correlator keeps, within a sliding window, the best score each
agent (``alert.sensor_id``) reported, and a leaky bucket per (source, category) that fills by one
per alert and leaks at ``leak_per_s``. Confidence combines them as independent evidence
(noisy-OR)::

    confidence = 1 - (1 - bucket_weight * fill) * prod_i (1 - agent_weight * score_i)

so one agent alone stays below the threshold unless its bucket overflows, and two or three agents
agreeing cross it. When it does, a coordinator Decision (origin ``coordinator``, policy
``correlate``, ``reason.agents`` listing the agents) is emitted once per source and TTL.

Examples
--------
>>> from datetime import datetime, timedelta, UTC
>>> from swarmguard.records.alert import Alert, AlertInfo
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> def seen_by(agent, s):
...     return Alert(ts=t0 + timedelta(seconds=s), sensor_id=agent, src_ip="203.0.113.7",
...                  alert=AlertInfo(signature_id=1, signature="scan", category="recon",
...                                  severity=2), detector="rules", score=1.0)
>>> c = Correlator(window_s=60)
>>> c.observe(seen_by("edge1", 0)), round(c.confidence("203.0.113.7", "recon"), 2)
([], 0.61)
>>> [d] = c.observe(seen_by("edge2", 5))
>>> d.origin, d.reason.agents, round(d.confidence, 2), d.value
('coordinator', ['edge1', 'edge2'], 0.84, '203.0.113.7')
>>> c.observe(seen_by("edge3", 6))  # already decided while the decision lasts
[]
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from swarmguard.records.alert import Alert
from swarmguard.records.decision import Decision, DecisionReason

__all__ = ["Correlator", "LeakyBucket"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class LeakyBucket:
    """A bucket that fills by ``amount`` per event and leaks ``leak_per_s`` per second.

    Examples
    --------
    >>> b = LeakyBucket(capacity=3, leak_per_s=1.0)
    >>> b.add(0.0), b.add(0.0), b.add(0.5), b.add(0.5)
    (1.0, 2.0, 2.5, 3.0)
    >>> b.level_at(2.5), b.fill_at(0.5)
    (1.0, 1.0)
    """

    capacity: float
    leak_per_s: float
    level: float = 0.0
    last_s: float = 0.0

    def level_at(self, t_s: float) -> float:
        """The level at time ``t_s`` (seconds on any monotonic scale)."""
        return max(0.0, self.level - max(0.0, t_s - self.last_s) * self.leak_per_s)

    def add(self, t_s: float, amount: float = 1.0) -> float:
        """Leak up to ``t_s``, pour ``amount`` in (overflow is lost) and return the level."""
        self.level = min(float(self.capacity), self.level_at(t_s) + amount)
        self.last_s = max(self.last_s, t_s)
        return self.level

    def fill_at(self, t_s: float) -> float:
        """Level over capacity, in [0, 1]."""
        return self.level_at(t_s) / self.capacity


@dataclass
class _Source:
    agents: dict[str, tuple[datetime, float]] = field(default_factory=dict)
    buckets: dict[str, LeakyBucket] = field(default_factory=dict)
    alerts: list[tuple[datetime, str, str]] = field(default_factory=list)  # ts, uid, detector
    last: datetime | None = None


class Correlator:
    """Cross-agent correlation of alerts by source (see the module docstring).

    Parameters
    ----------
    window_s
        How long an agent's report of a source counts.
    capacity, leak_per_s
        Leaky bucket per (source, category).
    agent_weight, bucket_weight
        How much one agent's report (times its score) and a full bucket count as evidence.
    threshold
        Confidence at which a decision is emitted.
    ttl_s, ttl_growth, max_ttl_s
        Decision lifetime, grown per earlier offence (``offences``), capped.
    action
        ``block`` (default) or ``notify``.
    exclude
        Networks never to decide on (the coordinator's allow-list).
    offences
        Earlier decisions against a value (for example ``DecisionLedger.offences``).
    dry_run
        Emit simulated decisions.
    """

    def __init__(
        self,
        window_s: float = 60.0,
        *,
        capacity: float = 20.0,
        leak_per_s: float = 0.5,
        agent_weight: float = 0.6,
        bucket_weight: float = 0.5,
        threshold: float = 0.8,
        ttl_s: float = 900.0,
        ttl_growth: float = 2.0,
        max_ttl_s: float = 86_400.0,
        action: Literal["block", "notify"] = "block",
        exclude: Iterable[str] = (),
        offences: Callable[[str], int] | None = None,
        dry_run: bool = True,
        sensor_id: str = "coordinator",
    ) -> None:
        if window_s <= 0 or capacity <= 0 or leak_per_s < 0:
            raise ValueError("window_s and capacity must be > 0 and leak_per_s >= 0")
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        self.window_s = window_s
        self.capacity = capacity
        self.leak_per_s = leak_per_s
        self.agent_weight = agent_weight
        self.bucket_weight = bucket_weight
        self.threshold = threshold
        self.ttl_s = ttl_s
        self.ttl_growth = ttl_growth
        self.max_ttl_s = max_ttl_s
        self.action = action
        self.exclude: list[Network] = [ipaddress.ip_network(n, strict=False) for n in exclude]
        self.offences = offences
        self.dry_run = dry_run
        self.sensor_id = sensor_id
        self._sources: dict[str, _Source] = {}
        self._issued: dict[str, datetime] = {}
        self._epoch: datetime | None = None
        self._seen = 0
        self._lock = threading.Lock()

    # -- state -----------------------------------------------------------------------------
    def _t(self, when: datetime) -> float:
        if self._epoch is None:
            self._epoch = when
        return (when - self._epoch).total_seconds()

    def _excluded(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return True
        return any(addr.version == n.version and addr in n for n in self.exclude)

    def _expire(self, src: _Source, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.window_s)
        src.agents = {a: v for a, v in src.agents.items() if v[0] >= horizon}
        src.alerts = [x for x in src.alerts if x[0] >= horizon][-200:]

    def _prune(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.window_s)
        self._sources = {
            ip: s for ip, s in self._sources.items() if s.last is not None and s.last >= horizon
        }
        self._issued = {ip: t for ip, t in self._issued.items() if t > now}

    def confidence(self, source: str, category: str, now: datetime | None = None) -> float:
        """Current confidence that ``source`` is attacking (``category`` bucket)."""
        src = self._sources.get(source)
        if src is None or src.last is None:
            return 0.0
        when = now or src.last
        self._expire(src, when)
        bucket = src.buckets.get(category)
        fill = bucket.fill_at(self._t(when)) if bucket else 0.0
        doubt = 1.0 - self.bucket_weight * fill
        for _, score in src.agents.values():
            doubt *= 1.0 - self.agent_weight * score
        return 1.0 - doubt

    def agents(self, source: str) -> list[str]:
        """Agents that reported ``source`` within the window (as of its last alert)."""
        src = self._sources.get(source)
        return sorted(src.agents) if src else []

    # -- input -----------------------------------------------------------------------------
    def observe(self, alert: Alert, now: datetime | None = None) -> list[Decision]:
        """Take one alert; return the decision it triggers, if any."""
        ip = alert.attacker_ip()
        if ip is None or self._excluded(ip):
            return []
        when = now or alert.ts
        category = alert.alert.category
        with self._lock:
            self._seen += 1
            if self._seen % 1000 == 0:
                self._prune(when)
            src = self._sources.setdefault(ip, _Source())
            src.last = max(src.last, when) if src.last else when
            best = src.agents.get(alert.sensor_id, (when, 0.0))[1]
            src.agents[alert.sensor_id] = (when, max(best, alert.score))
            src.alerts.append((when, alert.uid, alert.detector))
            bucket = src.buckets.setdefault(
                category, LeakyBucket(self.capacity, self.leak_per_s, last_s=self._t(when))
            )
            bucket.add(self._t(when))
            conf = self.confidence(ip, category, when)
            if conf < self.threshold:
                return []
            until = self._issued.get(ip)
            if until is not None and until > when:
                return []
            decision = self._decide(ip, category, conf, src, when)
            self._issued[ip] = decision.expires_at
            return [decision]

    def observe_many(self, alerts: Sequence[Alert]) -> list[Decision]:
        """``observe`` each alert in turn."""
        out: list[Decision] = []
        for alert in alerts:
            out.extend(self.observe(alert))
        return out

    def _decide(
        self, ip: str, category: str, conf: float, src: _Source, when: datetime
    ) -> Decision:
        earlier = self.offences(ip) if self.offences else 0
        ttl = min(self.max_ttl_s, self.ttl_s * self.ttl_growth**earlier)
        agents = sorted(src.agents)
        detectors = sorted({d for _, _, d in src.alerts})
        return Decision(
            ts=when,
            sensor_id=self.sensor_id,
            action=self.action,
            scope="ip",
            value=str(ipaddress.ip_address(ip)),
            ttl_s=ttl,
            origin="coordinator",
            policy="correlate",
            reason=DecisionReason(
                alert_uids=[uid for _, uid, _ in src.alerts][-100:],
                detector=",".join(detectors),
                category=category,
                summary=(
                    f"{ip} seen by {len(agents)} agent(s) in {self.window_s:g} s"
                    f" (confidence {conf:.2f})"
                ),
                agents=agents,
            ),
            confidence=round(min(1.0, conf), 6),
            simulated=self.dry_run,
        )
