"""SafetyRails: the one door every decision goes through before any enforcer acts on it.

In order: the TTL is capped; a dry-run rail (the default) marks every decision simulated, and a
simulated decision only ever reaches the ``dryrun`` enforcer; an allow-listed target is refused;
a cap on active decisions refuses new ones beyond it; an ``unblock`` lifts the decisions on its
target. Everything, refused or not, is written to the ledger with each enforcer's feedback, so
any decision can be explained and revoked. ``expire()`` reports lapsed decisions once;
``reassert()`` puts the ledger's active decisions back after a restart; ``sync()`` lifts what
was revoked in the ledger from elsewhere (``swarmguard decisions revoke ID --db``).

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.decision import Decision
>>> from swarmguard.respond.ledger import DecisionLedger
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> rails = SafetyRails(DecisionLedger(":memory:"), clock=lambda: now)
>>> d = Decision(ts=now, action="block", scope="ip", value="203.0.113.7", ttl_s=10**6,
...              origin="agent:a", simulated=False)
>>> [(f.enforcer, f.status) for f in rails.submit(d)]
[('dryrun', 'applied')]
>>> rails.ledger.get(d.uid).ttl_s, rails.ledger.get(d.uid).simulated
(86400.0, True)
>>> lo = Decision(ts=now, action="block", scope="ip", value="127.0.0.1", ttl_s=60,
...               origin="agent:a")
>>> [(f.status, f.detail) for f in rails.submit(lo)]
[('refused', 'allow-listed: 127.0.0.1/32 overlaps 127.0.0.0/8 (loopback)')]
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from swarmguard.records.decision import Decision, Feedback
from swarmguard.respond.allowlist import AllowList
from swarmguard.respond.base import Enforcer
from swarmguard.respond.clock import Clock, feedback, utcnow
from swarmguard.respond.enforcers.dryrun import DryRunEnforcer
from swarmguard.respond.ledger import DecisionLedger

__all__ = ["RailsConfig", "SafetyRails"]

log = logging.getLogger(__name__)


class RailsConfig(BaseModel):
    """Limits every decision is held to."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(True, description="only log decisions (the dryrun enforcer)")
    max_active: int = Field(10_000, gt=0, description="refuse new decisions beyond this many")
    max_ttl_s: float = Field(86_400.0, gt=0, description="cap on any decision's TTL")


def _actions(enforcer: Enforcer) -> frozenset[str] | None:
    found = getattr(enforcer, "actions", None)
    return frozenset(found) if found is not None else None


class SafetyRails:
    """Checks, records and routes decisions to enforcers.

    Parameters
    ----------
    ledger
        Where every decision and feedback is recorded.
    enforcers
        Real enforcers (a ``dryrun`` one among them is used for simulated decisions; one is
        made when absent). Each may declare ``actions``, the actions it handles.
    allowlist
        Targets never to act on (loopback only when omitted).
    config
        Dry-run switch, active cap and TTL cap.
    clock
        Current time (injected for replays and tests).
    """

    def __init__(
        self,
        ledger: DecisionLedger,
        enforcers: Sequence[Enforcer] = (),
        *,
        allowlist: AllowList | None = None,
        config: RailsConfig | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.ledger = ledger
        self.allowlist = allowlist if allowlist is not None else AllowList()
        self.config = config or RailsConfig()
        self.clock = clock
        dry = [e for e in enforcers if e.name == "dryrun"]
        self.dryrun: Enforcer = dry[0] if dry else DryRunEnforcer(clock=clock)
        self.enforcers: list[Enforcer] = [e for e in enforcers if e.name != "dryrun"]
        self._lock = threading.RLock()
        self._cursor = ledger.cursor()
        self._lifted: set[str] = set()

    # -- routing ---------------------------------------------------------------------------
    def _targets(self, decision: Decision) -> list[Enforcer]:
        if decision.simulated:
            return [self.dryrun]
        return [
            e for e in self.enforcers if (acts := _actions(e)) is None or decision.action in acts
        ]

    def _refuse(self, decision: Decision, why: str, started: float) -> list[Feedback]:
        log.warning("refused decision %s on %s: %s", decision.uid, decision.value, why)
        self.ledger.add(decision, refused=why)
        fb = feedback(decision.uid, "rails", "refused", started, clock=self.clock, detail=why)
        self.ledger.record_feedback(fb)
        return [fb]

    def _apply(self, decision: Decision, targets: Sequence[Enforcer]) -> list[Feedback]:
        return self._each(decision, targets, revoke=False)

    def _each(
        self, decision: Decision, targets: Sequence[Enforcer], *, revoke: bool
    ) -> list[Feedback]:
        """Apply (or revoke) ``decision`` on every target; a failure becomes feedback."""
        out: list[Feedback] = []
        for enforcer in targets:
            started = time.perf_counter()
            try:
                fb = enforcer.revoke(decision) if revoke else enforcer.apply(decision)
            except Exception as exc:  # noqa: BLE001 - an enforcer failure is feedback, not a crash
                log.error("enforcer %s failed on %s: %s", enforcer.name, decision.uid, exc)
                fb = feedback(
                    decision.uid,
                    enforcer.name,
                    "failed",
                    started,
                    clock=self.clock,
                    detail=str(exc),
                )
            self.ledger.record_feedback(fb)
            out.append(fb)
        return out

    # -- the door --------------------------------------------------------------------------
    def prepare(self, decision: Decision) -> Decision:
        """``decision`` with its TTL capped and, in dry-run mode, marked simulated."""
        update: dict[str, object] = {}
        if decision.ttl_s > self.config.max_ttl_s:
            update["ttl_s"] = self.config.max_ttl_s
        if self.config.dry_run and not decision.simulated:
            update["simulated"] = True
        return decision.model_copy(update=update) if update else decision

    def submit(self, decision: Decision) -> list[Feedback]:
        """Check, record and enforce one decision; return every enforcer's feedback."""
        started = time.perf_counter()
        with self._lock:
            known = self.ledger.get(decision.uid)
            if known is not None:
                if self.ledger.state(known.uid, self.clock()) != "active":
                    return []
                return self._apply(known, self._targets(known))
            decision = self.prepare(decision)
            why = self.allowlist.check(decision)
            if why is not None:
                return self._refuse(decision, f"allow-listed: {why}", started)
            if decision.action == "unblock":
                return self._unblock(decision, started)
            if self.ledger.count_active(self.clock()) >= self.config.max_active:
                why = f"cap of {self.config.max_active} active decisions reached"
                return self._refuse(decision, why, started)
            targets = self._targets(decision)
            if not targets:
                return self._refuse(decision, f"no enforcer handles '{decision.action}'", started)
            self.ledger.add(decision)
            return self._apply(decision, targets)

    def submit_many(self, decisions: Sequence[Decision]) -> list[Feedback]:
        """``submit`` each decision in turn."""
        out: list[Feedback] = []
        for d in decisions:
            out.extend(self.submit(d))
        return out

    def _unblock(self, decision: Decision, started: float) -> list[Feedback]:
        target = ipaddress.ip_network(decision.value, strict=False)
        self.ledger.add(decision)
        out: list[Feedback] = []
        for active in self.ledger.active(self.clock()):
            if active.uid == decision.uid or active.action == "notify":
                continue
            net = ipaddress.ip_network(active.value, strict=False)
            if net.version == target.version and net.subnet_of(target):  # type: ignore[arg-type]
                out.extend(
                    self._revoke(active, by=decision.origin, reason=f"unblock {decision.uid}")
                )
        self.ledger.revoke(decision.uid, by="rails", reason="unblock done")
        fb = feedback(
            decision.uid,
            "rails",
            "applied",
            started,
            clock=self.clock,
            detail=f"lifted {len(out)} enforcement(s)",
        )
        self.ledger.record_feedback(fb)
        return [*out, fb]

    # -- revoke, expiry, restart ------------------------------------------------------------
    def _revoke(self, decision: Decision, *, by: str, reason: str) -> list[Feedback]:
        self.ledger.revoke(decision.uid, by=by, reason=reason)
        return self._lift(decision)

    def _lift(self, decision: Decision) -> list[Feedback]:
        self._lifted.add(decision.uid)
        return self._each(decision, self._targets(decision), revoke=True)

    def revoke(self, uid: str, *, by: str, reason: str = "") -> list[Feedback]:
        """Lift decision ``uid`` everywhere it was enforced; [] when unknown or already lifted."""
        with self._lock:
            decision = self.ledger.get(uid)
            if decision is None or self.ledger.is_revoked(uid):
                return []
            return self._revoke(decision, by=by, reason=reason)

    def sync(self) -> list[Feedback]:
        """Lift what was revoked in the ledger by someone else (the CLI, another process)."""
        return self.lift_revoked()[1]

    def lift_revoked(self) -> tuple[list[Decision], list[Feedback]]:
        """Like ``sync``, and also return the decisions it lifted (to forget cached state)."""
        with self._lock:
            _, deleted, self._cursor = self.ledger.changes(self._cursor)
            lifted: list[Decision] = []
            out: list[Feedback] = []
            for decision in deleted:
                if decision.uid not in self._lifted:
                    lifted.append(decision)
                    out.extend(self._lift(decision))
            return lifted, out

    def expire(self) -> list[Feedback]:
        """Report (once) every decision whose TTL ran out; tell enforcers that keep state."""
        with self._lock:
            out: list[Feedback] = []
            for decision in self.ledger.lapsed(self.clock()):
                for enforcer in self._targets(decision):
                    hook = getattr(enforcer, "expire", None)
                    if callable(hook):
                        hook(decision)
                fb = feedback(decision.uid, "rails", "expired", 0.0, clock=self.clock)
                self.ledger.record_feedback(fb)
                out.append(fb)
            return out

    def reassert(self) -> list[Feedback]:
        """Apply every active decision in the ledger again (after a restart); idempotent."""
        with self._lock:
            out: list[Feedback] = []
            for decision in self.ledger.active(self.clock()):
                if decision.action in ("notify", "unblock"):
                    continue
                targets = [
                    e for e in self._targets(decision) if getattr(e, "replay_on_restart", True)
                ]
                out.extend(self._apply(decision, targets))
            return out
