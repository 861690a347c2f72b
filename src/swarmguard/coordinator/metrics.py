"""Prometheus metrics of the coordinator, in a registry of their own (one per app).

Examples
--------
>>> m = ServiceMetrics()
>>> m.alerts_received.inc(3)
>>> b"swarmguard_alerts_received_total 3.0" in m.render()
True
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "ServiceMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    """Counters, gauges and the intake latency histogram of one coordinator."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts_received = Counter(
            "swarmguard_alerts_received",
            "Alerts accepted (stored for the first time)",
            registry=self.registry,
        )
        self.alerts_duplicate = Counter(
            "swarmguard_alerts_duplicate",
            "Alerts received again (same uid) and not stored twice",
            registry=self.registry,
        )
        self.batches = Counter(
            "swarmguard_batches", "Alert batches received", registry=self.registry
        )
        self.decisions_received = Counter(
            "swarmguard_decisions_received",
            "Decisions reported by agents or made by correlation",
            ["origin"],
            registry=self.registry,
        )
        self.decisions_refused = Counter(
            "swarmguard_decisions_refused",
            "Decisions refused because their target is allow-listed",
            registry=self.registry,
        )
        self.rejected = Counter(
            "swarmguard_requests_rejected",
            "Requests answered with a 4xx",
            ["status"],
            registry=self.registry,
        )
        self.intake_seconds = Histogram(
            "swarmguard_intake_seconds",
            "Time to validate, store and correlate one alert batch",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions_active = Gauge(
            "swarmguard_decisions_active", "Decisions in force", registry=self.registry
        )
        self.agents = Gauge("swarmguard_agents", "Registered agents", registry=self.registry)

    def track(self, decisions_active: Callable[[], float], agents: Callable[[], float]) -> None:
        """Compute the two gauges on every scrape from these functions."""
        self.decisions_active.set_function(decisions_active)
        self.agents.set_function(agents)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
