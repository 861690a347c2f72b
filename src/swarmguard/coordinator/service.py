"""The coordinator's work behind the HTTP routes: intake, correlation, the decision stream.

``CoordinatorService`` wires the store (agents, tokens, alerts), the decision ledger, the
allow-list and the optional correlator together; the FastAPI app only authenticates and
translates. Correlation decisions, agent reports and administrator decisions all enter the
same ledger, so every agent's pull and every CrowdSec bouncer sees them.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.decision import Decision
>>> svc = CoordinatorService(ServiceSettings(db=":memory:", correlate=False))
>>> d = Decision(ts=datetime.now(UTC), action="block", scope="ip", value="127.0.0.9",
...              ttl_s=60, origin="admin")
>>> svc.add_decisions([d], origin="admin")
DecisionsOutcome(accepted=0, refused=1, capped=0, duplicates=0)
>>> svc.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from swarmguard.coordinator.crowdsec import bannable, matches, stream_items
from swarmguard.coordinator.metrics import ServiceMetrics
from swarmguard.coordinator.settings import ServiceSettings
from swarmguard.coordinator.store import AgentRow, AlertRow, AlertStore
from swarmguard.records.alert import Alert
from swarmguard.records.decision import Decision, Feedback
from swarmguard.respond.allowlist import AllowList
from swarmguard.respond.ledger import DecisionLedger

__all__ = [
    "AlertObserver",
    "CoordinatorService",
    "DecisionsOutcome",
    "FeedbackOutcome",
    "load_correlator",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class AlertObserver(Protocol):
    """What the coordinator needs of a correlator: alerts in, decisions out."""

    def observe(self, alert: Alert) -> list[Decision]:
        """Take one alert into account; return the decisions it triggers now."""
        ...


def load_correlator(settings: ServiceSettings, ledger: DecisionLedger) -> AlertObserver:
    """The cross-agent ``Correlator`` configured from the settings.

    Repeat offenders come from the ledger, allow-listed sources are ignored, and its decisions
    are dry-run (simulated) unless ``settings.enforce``.
    """
    from swarmguard.correlate.correlator import Correlator

    return Correlator(
        window_s=settings.correlation_window_s,
        exclude=settings.allowlist,
        offences=ledger.offences,
        dry_run=not settings.enforce,
    )


@dataclass
class DecisionsOutcome:
    """What became of a batch of decisions.

    ``accepted`` are new and in force; ``refused`` are new but kept refused (allow-listed
    target, or ``capped``: the ``max_active`` cap was reached); ``duplicates`` were known.
    """

    accepted: int = 0
    refused: int = 0
    capped: int = 0
    duplicates: int = 0


@dataclass
class FeedbackOutcome:
    """What became of a batch of feedback reports.

    ``accepted`` were stored; ``duplicates`` were known (by uid); ``unknown`` name a decision
    the coordinator does not have and were dropped.
    """

    accepted: int = 0
    duplicates: int = 0
    unknown: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class CoordinatorService:
    """Store, ledger, allow-list, correlator and metrics of one coordinator.

    Parameters
    ----------
    settings
        Where the store and ledger live, limits, allow-list.
    clock
        Returns the current UTC time (injected so tests control TTLs).
    correlator
        Overrides the ``swarmguard.correlate`` correlator (``settings.correlate``).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        clock: Clock = _now,
        correlator: AlertObserver | None = None,
        ledger: DecisionLedger | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = AlertStore(settings.store_url)
        self.ledger = ledger if ledger is not None else DecisionLedger(settings.ledger_path)
        self._own_ledger = ledger is None
        self.allow = AllowList(settings.allowlist)
        self.metrics = ServiceMetrics()
        self.metrics.track(
            lambda: float(self.ledger.count_active(self.clock())),
            lambda: float(len(self.store.list_agents())),
        )
        if correlator is None and settings.correlate:
            correlator = load_correlator(settings, self.ledger)
        self.correlator = correlator
        self._correlate_lock = threading.Lock()
        self._decide_lock = threading.Lock()
        now = self.clock().timestamp()
        for agent_id, token in settings.agent_tokens.items():
            self.store.add_token(agent_id, token.get_secret_value(), now=now)

    def close(self) -> None:
        """Close the store (and the ledger when this service opened it)."""
        self.store.close()
        if self._own_ledger:
            self.ledger.close()

    # -- agents ---------------------------------------------------------------------------------

    def register(
        self, agent_id: str, *, version: str, addresses: Sequence[str], enforcers: Sequence[str]
    ) -> None:
        """Record an agent's registration (again after each restart)."""
        self.store.register_agent(
            agent_id,
            version=version,
            addresses=addresses,
            enforcers=enforcers,
            now=self.clock().timestamp(),
        )

    def heartbeat(self, agent_id: str, health: dict[str, Any]) -> None:
        """Record a heartbeat (registering the agent if this store lost its registration)."""
        now = self.clock().timestamp()
        if not self.store.heartbeat(agent_id, health, now=now):
            self.store.register_agent(agent_id, version="", addresses=(), enforcers=(), now=now)
            self.store.heartbeat(agent_id, health, now=now)

    def agents(self) -> list[tuple[AgentRow, bool]]:
        """Every agent, with whether it heartbeat within three intervals."""
        now = self.clock().timestamp()
        horizon = 3 * self.settings.heartbeat_s
        return [(a, now - a.last_seen <= horizon) for a in self.store.list_agents()]

    # -- alerts ---------------------------------------------------------------------------------

    def intake(self, agent_id: str, batch_id: str, alerts: Sequence[Alert]) -> tuple[int, int]:
        """Store one batch (one transaction), correlate the new alerts; ``(accepted, dups)``."""
        start = time.perf_counter()
        rows = [
            AlertRow(
                uid=a.uid,
                agent_id=agent_id,
                ts=a.ts.timestamp(),
                body=a.model_dump_json(),
                src_ip=a.src_ip,
                category=a.alert.category,
                detector=a.detector,
                score=a.score,
            )
            for a in alerts
        ]
        fresh, duplicates = self.store.add_alerts(
            agent_id, batch_id, rows, now=self.clock().timestamp()
        )
        if fresh and self.correlator is not None:
            new = set(fresh)
            # Attribute each alert to the agent that authenticated, not to the sensor_id it
            # claims: one agent must not pass for several and fake a consensus.
            self._correlate(
                [
                    a if a.sensor_id == agent_id else a.model_copy(update={"sensor_id": agent_id})
                    for a in alerts
                    if a.uid in new
                ]
            )
        self.metrics.batches.inc()
        self.metrics.alerts_received.inc(len(fresh))
        self.metrics.alerts_duplicate.inc(duplicates)
        self.metrics.intake_seconds.observe(time.perf_counter() - start)
        return len(fresh), duplicates

    def _correlate(self, alerts: Sequence[Alert]) -> None:
        assert self.correlator is not None
        decisions: list[Decision] = []
        with self._correlate_lock:
            for alert in alerts:
                decisions.extend(self.correlator.observe(alert))
        if decisions:
            self.add_decisions(decisions, origin="correlation")

    def recent_alerts(
        self, limit: int, offset: int = 0
    ) -> tuple[list[tuple[str, float, str]], int]:
        """``limit`` alerts from ``offset``, newest first, and the total stored."""
        return self.store.recent_alerts(limit, offset), self.store.alert_count()

    # -- decisions ------------------------------------------------------------------------------

    def add_decisions(
        self, decisions: Sequence[Decision], *, origin: str, agent_id: str | None = None
    ) -> DecisionsOutcome:
        """Enter decisions into the ledger; see ``DecisionsOutcome`` for what is counted how.

        ``origin`` labels the metric. Decisions sent by an agent (``agent_id``) are stored with
        origin ``agent:<agent_id>`` whatever they claim, so an agent cannot pass its decisions
        off as the coordinator's or another agent's. A decision already in the ledger (by uid)
        is a duplicate and changes nothing. An allow-listed target, or a new decision once
        ``max_active`` are in force, is kept as refused (for ``explain``) and never served.
        """
        out = DecisionsOutcome()
        forced = None if agent_id is None else f"agent:{agent_id}"
        cap = self.settings.max_active
        with self._decide_lock:
            active = self.ledger.count_active(self.clock())
            for decision in decisions:
                if forced is not None and decision.origin != forced:
                    decision = decision.model_copy(update={"origin": forced})
                if self.ledger.seq(decision.uid) is not None:
                    out.duplicates += 1
                    continue
                why = self.allow.check(decision)
                if why is None and decision.action != "unblock" and active >= cap:
                    why = f"cap of {cap} active decisions reached"
                    out.capped += 1
                self.ledger.add(decision, refused=why)
                if why is None:
                    out.accepted += 1
                    active += 1
                else:
                    out.refused += 1
                    log.warning("refused decision %s: %s", decision.uid, why)
        self.metrics.decisions_received.labels(origin=origin).inc(len(decisions))
        self.metrics.decisions_refused.inc(out.refused)
        return out

    def record_feedback(self, feedback: Sequence[Feedback]) -> FeedbackOutcome:
        """Store enforcer reports about known decisions; see ``FeedbackOutcome``."""
        out = FeedbackOutcome()
        for fb in feedback:
            if self.ledger.seq(fb.decision_uid) is None:
                out.unknown += 1
            elif self.ledger.record_feedback(fb):
                out.accepted += 1
            else:
                out.duplicates += 1
        if out.unknown:
            log.warning("ignored %d feedback report(s) about unknown decisions", out.unknown)
        return out

    def stream(self, since: int) -> tuple[list[Decision], list[Decision], int]:
        """The shared blocklist after cursor ``since``: new, revoked, next cursor."""
        return self.ledger.changes(since, now=self.clock())

    def active(self) -> list[Decision]:
        """Decisions in force now."""
        return self.ledger.active(self.clock())

    def explain(self, uid: str) -> dict[str, Any] | None:
        """Everything about one decision, or None if unknown."""
        if self.ledger.get(uid) is None:
            return None
        return self.ledger.explain(uid, now=self.clock())

    def revoke(self, uid: str, *, by: str, reason: str = "") -> Decision | None:
        """Revoke a decision; None if unknown."""
        return self.ledger.revoke(uid, by=by, reason=reason)

    # -- CrowdSec bouncers ----------------------------------------------------------------------

    def bouncer_stream(
        self, bouncer: str, *, startup: bool, **filters: str | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """CrowdSec ``new`` and ``deleted`` items for one bouncer's pull.

        ``startup`` (or a bouncer never seen) gets every decision in force and nothing to delete;
        later pulls get what was added or revoked since that bouncer's previous pull. Expired
        decisions need no delete: the bouncer gave each ban its remaining duration.
        """
        cursor = None if startup else self.store.bouncer_cursor(bouncer)
        now = self.clock()
        new, gone, nxt = self.ledger.changes(cursor or 0, now=now)
        if cursor is None:
            gone = []  # a starting bouncer has nothing to delete yet
        simulated = self.settings.bouncer_simulated
        new_items = stream_items(new, now=now, simulated=simulated, **filters)
        gone_items = stream_items(gone, now=now, simulated=simulated, **filters)
        self.store.set_bouncer_cursor(bouncer, nxt, now=now.timestamp())
        return new_items, gone_items

    def bouncer_query(self, **filters: str | None) -> list[dict[str, Any]]:
        """CrowdSec items for the decisions in force that match the query."""
        now = self.clock()
        return stream_items(
            self.active(), now=now, simulated=self.settings.bouncer_simulated, **filters
        )

    def is_banned(self, ip: str) -> bool:
        """True when a bannable decision in force covers ``ip``."""
        simulated = self.settings.bouncer_simulated
        return any(bannable(d, simulated=simulated) and matches(d, ip=ip) for d in self.active())
