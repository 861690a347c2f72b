"""The local response loop: alerts to decisions to enforcement, timed, queued for the coordinator.

``Responder.handle`` runs on the detecting thread, so a decision is in force a few
milliseconds after the packet that raised its alert: alerts on a source already blocked skip
the policy; the rest go to the policy, each decision through the safety rails (allow-list,
caps, dry-run, ledger) to the enforcers. The time from detection to the last enforcer's
answer is the *detect-to-enforce* latency (a histogram metric, and a field of each decision's
event line). Alerts, local decisions and all feedback then enter the outbox.

After a real block the responder watches the target for ``effect_check_s`` seconds and counts
what this host still answers it: SYN-ACKs, resets, ICMP and UDP replies, i.e. new attempts
that got through (segments on TCP connections opened before the block are counted apart).
None means the attack no longer reaches a service: feedback ``effective``; otherwise
``ineffective``.
``shared`` enforces the coordinator's shared decisions (and lifts revoked ones); ``tick``
reports expiries and finished effect checks, and (at most every ``sync_s`` seconds) lifts what
was revoked in the local ledger from elsewhere (``swarmguard decisions revoke ID --db``). The
policy's context holds the decisions in force that cover an address of the alerts at hand
(kept in memory), so deciding costs the same with ten or ten thousand sources blocked.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.agent.outbox import Outbox
>>> from swarmguard.records.alert import Alert, AlertInfo
>>> from swarmguard.records.decision import Decision
>>> from swarmguard.respond.ledger import DecisionLedger
>>> from swarmguard.respond.rails import SafetyRails
>>> class BlockAll:
...     name = "demo"
...     def decide(self, alerts, context):
...         return [Decision(ts=context.now, action="block", scope="ip", value=a.src_ip,
...                          ttl_s=60, origin=context.origin) for a in alerts]
>>> box = Outbox(":memory:")
>>> resp = Responder(agent_id="edge1", policy=BlockAll(),
...                  rails=SafetyRails(DecisionLedger(":memory:")), outbox=box)
>>> alert = Alert(ts=datetime.now(UTC), src_ip="198.51.100.9", detector="rules", score=1.0,
...               alert=AlertInfo(signature_id=1, signature="x", category="dos", severity=1))
>>> [d.value for d in resp.handle([alert])]
['198.51.100.9']
>>> resp.handle([alert])  # already blocked: no second decision
[]
>>> box.pending()  # the same alert is queued once
{'alert': 1, 'decision': 1, 'feedback': 1}
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from swarmguard.acquire.rawpackets import Packet
from swarmguard.agent.metrics import AgentMetrics
from swarmguard.agent.outbox import Outbox
from swarmguard.records.alert import Alert
from swarmguard.records.decision import Decision, Feedback
from swarmguard.respond.base import Policy, PolicyContext
from swarmguard.respond.clock import Clock, utcnow
from swarmguard.respond.rails import SafetyRails

__all__ = ["EventLog", "Responder"]

logger = logging.getLogger(__name__)

_BLOCKING = ("block", "quarantine")
_SYN_OR_RST = 0x02 | 0x04


class EventLog:
    """Alerts, decisions and feedback as JSON lines (``{"type": ..., **record}``), flushed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, kind: str, record: dict[str, Any]) -> None:
        """Append one event."""
        line = json.dumps({"type": kind, **record}, separators=(",", ":"), default=str)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()


@dataclass
class _Watch:
    decision: Decision
    enforcer: str
    until: float
    since_ns: int
    replies: int = 0
    established: int = 0
    arrivals: int = 0


class Responder:
    """Local policy and enforcement for one agent (see the module docstring).

    Parameters
    ----------
    agent_id
        Decisions are made with origin ``agent:<agent_id>``.
    policy
        The local policy.
    rails
        Safety rails holding the enforcers and the local ledger.
    outbox
        Where alerts, local decisions and feedback wait for the coordinator.
    metrics, events
        Optional metrics and JSON-lines event log.
    local_hosts
        Addresses this agent protects (policy context; quarantine targets).
    effect_check_s
        How long a real block is watched for answers to its target (0: not watched).
    clock
        Current time (injected for replays).
    sync_s
        Least interval between two reads of the ledger for revocations made elsewhere.
    on_queued
        Called after records were queued (wakes the publisher).
    """

    def __init__(
        self,
        *,
        agent_id: str,
        policy: Policy,
        rails: SafetyRails,
        outbox: Outbox,
        metrics: AgentMetrics | None = None,
        events: EventLog | None = None,
        local_hosts: Sequence[str] = (),
        effect_check_s: float = 2.0,
        clock: Clock = utcnow,
        sync_s: float = 1.0,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.origin = f"agent:{agent_id}"
        self.policy = policy
        self.rails = rails
        self.outbox = outbox
        self.metrics = metrics
        self.events = events
        self.local_hosts = list(local_hosts)
        self.effect_check_s = effect_check_s
        self.clock = clock
        self.on_queued = on_queued
        self.sync_s = sync_s
        self._next_sync = 0.0
        self._lock = threading.RLock()
        self._blocked: dict[str, float] = {}  # target -> monotonic expiry
        # uid -> (decision in force, its expiry): an in-memory mirror of the ledger's active set
        self._active: dict[str, tuple[Decision, datetime]] = {}
        self._watch: dict[str, _Watch] = {}
        self.latencies_ms: list[float] = []
        self.alert_count = 0

    # ------------------------------------------------------------------ hot path
    def handle(
        self,
        alerts: Sequence[Alert],
        detected: float | None = None,
        *,
        event_time: bool = False,
    ) -> list[Decision]:
        """Decide and enforce on ``alerts`` (``detected``: ``time.perf_counter()`` of detection).

        With ``event_time`` (a capture replay) the policy's "now" is the newest alert's time,
        so windows count as they did when the capture was made. Returns the local decisions
        taken (already enforced).
        """
        if not alerts:
            return []
        detected = time.perf_counter() if detected is None else detected
        taken: list[tuple[Decision, list[Feedback], float, float]] = []
        with self._lock:
            now_mono = time.monotonic()
            fresh = [a for a in alerts if not self._is_blocked(a.src_ip, now_mono)]
            if fresh:
                now = max(a.ts for a in fresh) if event_time else self.clock()
                for decision in self.policy.decide(fresh, self._context(fresh, now)):
                    feedback = self.rails.submit(decision)
                    taken.append((decision, feedback, time.perf_counter(), time.time()))
                    self._after_enforce(decision, feedback)
        self._record_alerts(alerts)
        out: list[Decision] = []
        for decision, feedback, done, wall in taken:
            stored = self.rails.ledger.get(decision.uid) or decision
            latency_ms = (done - detected) * 1000.0
            self._record_decision(stored, feedback, latency_ms, wall)
            out.append(stored)
        if self.on_queued is not None:
            self.on_queued()
        return out

    def observe(self, p: Packet) -> None:
        """Count packets to and from targets under an effect check (cheap when none)."""
        if not self._watch:
            return
        w = self._watch.get(p.dest_ip)
        if w is not None:
            if p.ts_ns > w.since_ns:
                if p.proto == 6 and not p.tcp_flags & _SYN_OR_RST:
                    w.established += 1  # on a connection opened before the block
                else:
                    w.replies += 1
            return
        w = self._watch.get(p.src_ip)
        if w is not None and p.ts_ns > w.since_ns:
            w.arrivals += 1

    # ------------------------------------------------------------------ shared + time
    def shared(self, new: Sequence[Decision], deleted: Sequence[Decision]) -> None:
        """Enforce the coordinator's shared decisions; lift those it revoked."""
        records: list[Feedback] = []
        for decision in new:
            if decision.origin == self.origin:
                continue
            with self._lock:
                if self.rails.ledger.get(decision.uid) is not None:
                    continue
                started = time.perf_counter()
                feedback = self.rails.submit(decision)
                self._after_enforce(decision, feedback)
            logger.info(
                "shared decision %s: %s %s from %s (%.1f ms)",
                decision.uid[:8],
                decision.action,
                decision.value,
                decision.origin,
                (time.perf_counter() - started) * 1000.0,
            )
            records.extend(feedback)
            if self.metrics is not None:
                self.metrics.decisions.labels(decision.origin, decision.action).inc()
        for decision in deleted:
            with self._lock:
                feedback = self.rails.revoke(decision.uid, by="coordinator", reason="shared revoke")
                self._forget(decision)
            records.extend(feedback)
        self._record_feedback(records)

    def tick(self) -> None:
        """Report expiries and finished effect checks, lift revocations made elsewhere."""
        records: list[Feedback] = []
        with self._lock:
            records.extend(self.rails.expire())
            now = self.clock()
            for uid in [u for u, (_d, until) in self._active.items() if until <= now]:
                del self._active[uid]
            now_mono = time.monotonic()
            if now_mono >= self._next_sync:
                self._next_sync = now_mono + self.sync_s
                lifted, feedback = self.rails.lift_revoked()
                records.extend(feedback)
                for decision in lifted:
                    logger.info(
                        "decision %s on %s revoked in the ledger: lifted",
                        decision.uid[:8],
                        decision.value,
                    )
                    self._forget(decision)
            for value in [v for v, until in self._blocked.items() if until <= now_mono]:
                del self._blocked[value]
            for value, w in list(self._watch.items()):
                if w.until > now_mono:
                    continue
                del self._watch[value]
                records.append(self._effect(w))
        self._record_feedback(records)
        if self.metrics is not None:
            self.metrics.active.set(self.rails.ledger.count_active(self.clock()))
            for kind, n in self.outbox.pending().items():
                self.metrics.queued.labels(kind).set(n)

    def reassert(self) -> None:
        """Put the ledger's active decisions back in force (after a restart)."""
        with self._lock:
            feedback = self.rails.reassert()
            now = self.clock()
            for decision in self.rails.ledger.active(now):
                self._active[decision.uid] = (decision, decision.expires_at)
                if decision.action in _BLOCKING:
                    left = (decision.expires_at - now).total_seconds()
                    self._blocked[decision.value] = time.monotonic() + max(left, 0.0)
        self._record_feedback(feedback)

    # ------------------------------------------------------------------ helpers
    def _forget(self, decision: Decision) -> None:
        """Drop a lifted decision from the in-memory state (its target is no longer blocked)."""
        self._active.pop(decision.uid, None)
        w = self._watch.get(decision.value)
        if w is not None and w.decision.uid == decision.uid:
            del self._watch[decision.value]
        still = any(
            d.value == decision.value and d.action in _BLOCKING for d, _ in self._active.values()
        )
        if not still:
            self._blocked.pop(decision.value, None)

    def _is_blocked(self, value: str | None, now_mono: float) -> bool:
        if value is None:
            return False
        until = self._blocked.get(value)
        return until is not None and until > now_mono

    def _relevant(self, addresses: set[str], now: datetime) -> list[Decision]:
        """Decisions in force whose target holds one of ``addresses``.

        A policy asks "is this address already covered?"; only these decisions can answer
        yes, and passing them (not every decision in force) keeps the cost of a decision flat
        however many sources are blocked.
        """
        out: list[Decision] = []
        ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None
        for d, until in self._active.values():
            if until <= now:
                continue
            if d.scope != "cidr":
                hit = d.value in addresses
            else:
                if ips is None:
                    ips = [ipaddress.ip_address(a) for a in addresses]
                net = ipaddress.ip_network(d.value, strict=False)
                hit = any(ip in net for ip in ips)
            if hit and not self.rails.ledger.is_revoked(d.uid):
                out.append(d)
        return out

    def _context(self, alerts: Sequence[Alert], now: datetime) -> PolicyContext:
        ledger = self.rails.ledger
        sources = {a.src_ip for a in alerts if a.src_ip}
        addresses = sources | {a.dest_ip for a in alerts if a.dest_ip}
        return PolicyContext(
            now=now,
            active=self._relevant(addresses, now),
            offences={ip: ledger.offences(ip) for ip in sources},
            local_hosts=self.local_hosts,
            origin=self.origin,
        )

    def _after_enforce(self, decision: Decision, feedback: Sequence[Feedback]) -> None:
        applied = [f for f in feedback if f.status == "applied"]
        if not applied:
            return
        stored = self.rails.ledger.get(decision.uid) or decision
        if stored.action != "unblock":
            self._active[stored.uid] = (stored, stored.expires_at)
        if decision.action not in _BLOCKING:
            return
        self._blocked[decision.value] = time.monotonic() + stored.ttl_s
        real = [f for f in applied if f.enforcer != "dryrun"]
        if real and not stored.simulated and self.effect_check_s > 0 and stored.scope == "ip":
            self._watch[decision.value] = _Watch(
                stored, real[0].enforcer, time.monotonic() + self.effect_check_s, time.time_ns()
            )

    def _effect(self, w: _Watch) -> Feedback:
        status = "effective" if w.replies == 0 else "ineffective"
        detail = (
            f"{w.replies} answer(s) to new attempts sent to {w.decision.value} in "
            f"{self.effect_check_s:g} s after enforcement ({w.established} more on connections "
            f"opened before it); {w.arrivals} attack packet(s) arrived and were dropped"
        )
        logger.info(
            "decision %s on %s: %s (%s)", w.decision.uid[:8], w.decision.value, status, detail
        )
        fb = Feedback(
            ts=self.clock(),
            sensor_id=self.agent_id,
            decision_uid=w.decision.uid,
            enforcer=w.enforcer,
            status=status,
            duration_ms=self.effect_check_s * 1000.0,
            detail=detail,
            packets_after=w.replies,
        )
        self.rails.ledger.record_feedback(fb)
        return fb

    def _record_alerts(self, alerts: Sequence[Alert]) -> None:
        self.alert_count += len(alerts)
        items = [(a.uid, a.model_dump_json()) for a in alerts]
        self.outbox.put_many("alert", items)
        for a in alerts:
            if self.metrics is not None:
                self.metrics.alerts.labels(a.detector).inc()
            if self.events is not None:
                self.events.write("alert", a.model_dump(mode="json"))

    def _record_decision(
        self, decision: Decision, feedback: Sequence[Feedback], latency_ms: float, wall: float
    ) -> None:
        self.outbox.put("decision", decision.uid, decision.model_dump_json())
        self.latencies_ms.append(latency_ms)
        statuses = ", ".join(f"{f.enforcer} {f.status}" for f in feedback) or "nothing"
        logger.info(
            "decision %s: %s %s for %g s (%s) -> %s in %.2f ms after detection",
            decision.uid[:8],
            decision.action,
            decision.value,
            decision.ttl_s,
            decision.reason.summary or decision.reason.category,
            statuses,
            latency_ms,
        )
        if self.metrics is not None:
            self.metrics.decisions.labels(decision.origin, decision.action).inc()
            if any(f.status == "applied" for f in feedback):
                self.metrics.detect_to_enforce.observe(latency_ms / 1000.0)
        if self.events is not None:
            self.events.write(
                "decision",
                {
                    **decision.model_dump(mode="json"),
                    "detect_to_enforce_ms": latency_ms,
                    "detected_at": wall - latency_ms / 1000.0,
                    "enforced_at": wall,
                    "applied": [f.enforcer for f in feedback if f.status == "applied"],
                },
            )
        self._record_feedback(feedback)

    def _record_feedback(self, feedback: Sequence[Feedback]) -> None:
        if not feedback:
            return
        self.outbox.put_many("feedback", [(f.uid, f.model_dump_json()) for f in feedback])
        for f in feedback:
            if self.metrics is not None:
                self.metrics.feedback.labels(f.enforcer, f.status).inc()
            if self.events is not None:
                self.events.write("feedback", f.model_dump(mode="json"))
