"""Effectiveness: after a decision is enforced, check that the attacking traffic stopped.

A ``Probe`` gives two cumulative counts for a decision's target: packets from it that the
enforcement point dropped, and packets from it that still got through (for nftables: per-element
counters in the ``watch`` sets, matched by chains hooked after the drop rules, so a packet is
counted there only if the block did not stop it). ``EffectivenessChecker.watch`` takes a
baseline, waits, and reports ``effective`` (nothing got through) or ``ineffective`` Feedback
with ``packets_after``.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.decision import Decision
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> d = Decision(ts=now, action="block", scope="ip", value="203.0.113.7", ttl_s=60,
...              origin="agent:a", simulated=False)
>>> counts = iter([(0, 0), (120, 0)])
>>> check = EffectivenessChecker(CallbackProbe(lambda _d: next(counts)), clock=lambda: now)
>>> fb = check.watch(d, wait_s=0)
>>> fb.status, fb.packets_after, fb.detail
('effective', 0, 'dropped 120 packet(s) from 203.0.113.7, 0 got through in 0 s')
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from swarmguard.records.decision import Decision, Feedback, FeedbackStatus
from swarmguard.respond.clock import Clock, feedback, utcnow
from swarmguard.respond.enforcers.nftables import NftablesEnforcer

__all__ = ["CallbackProbe", "EffectivenessChecker", "NftCounterProbe", "Probe"]

Counts = tuple[int, int]


class Probe(Protocol):
    """Cumulative (dropped, got through) packet counts for a decision's target."""

    name: str

    def counts(self, decision: Decision) -> Counts | None:
        """The counts now, or None when the decision is not in force there."""
        ...


class NftCounterProbe:
    """Reads the per-element counters of an ``NftablesEnforcer``'s block and watch sets."""

    name = "nftables"

    def __init__(self, enforcer: NftablesEnforcer) -> None:
        self.enforcer = enforcer

    def counts(self, decision: Decision) -> Counts | None:
        """(dropped from the target, got past the drop rules) since its element was added."""
        return self.enforcer.counters(decision)


class CallbackProbe:
    """Wraps a function (for example the agent's capture counting packets per source)."""

    name = "callback"

    def __init__(self, fn: Callable[[Decision], Counts | None]) -> None:
        self.fn = fn

    def counts(self, decision: Decision) -> Counts | None:
        """Whatever the function says."""
        return self.fn(decision)


class EffectivenessChecker:
    """Turns probe counts before and after a wait into effective / ineffective Feedback.

    Parameters
    ----------
    probe
        Where the counts come from.
    tolerance
        Packets allowed through before the decision counts as ineffective (in-flight ones).
    """

    def __init__(self, probe: Probe, *, tolerance: int = 0, clock: Clock = utcnow) -> None:
        self.probe = probe
        self.tolerance = tolerance
        self.clock = clock

    def baseline(self, decision: Decision) -> Counts:
        """The counts right after enforcement (zeros when not readable yet)."""
        return self.probe.counts(decision) or (0, 0)

    def check(self, decision: Decision, before: Counts, waited_s: float) -> Feedback:
        """Compare the counts now with ``before``."""
        started = time.perf_counter()
        now = self.probe.counts(decision)
        if now is None:
            return feedback(
                decision.uid,
                self.probe.name,
                "ineffective",
                started,
                clock=self.clock,
                detail=f"{decision.value} is not in force at the enforcement point",
            )
        dropped, through = now[0] - before[0], now[1] - before[1]
        status: FeedbackStatus = "effective" if through <= self.tolerance else "ineffective"
        return feedback(
            decision.uid,
            self.probe.name,
            status,
            started,
            clock=self.clock,
            packets_after=through,
            detail=(
                f"dropped {dropped} packet(s) from {decision.value}, {through} got through"
                f" in {waited_s:g} s"
            ),
        )

    def watch(self, decision: Decision, *, wait_s: float = 2.0) -> Feedback:
        """Baseline, wait ``wait_s`` seconds, then check."""
        before = self.baseline(decision)
        if wait_s > 0:
            time.sleep(wait_s)
        return self.check(decision, before, wait_s)
