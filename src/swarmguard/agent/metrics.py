"""The agent's Prometheus metrics and its local ``/healthz`` + ``/metrics`` endpoint.

Metrics live in their own ``CollectorRegistry`` (not the process-wide default), so several
agents, or tests, can run in one process. ``HealthServer`` serves ``/metrics`` in the
Prometheus text format and ``/healthz`` as JSON from a callback, on a daemon thread.

Examples
--------
>>> m = AgentMetrics()
>>> m.packets.inc(3)
>>> m.detect_to_enforce.observe(0.004)
>>> text = m.exposition().decode()
>>> "swarmguard_agent_packets_total 3.0" in text
True
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["AgentMetrics", "HealthServer"]

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class AgentMetrics:
    """Every metric the agent exports (names start with ``swarmguard_agent_``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.packets = Counter("swarmguard_agent_packets", "packets inspected", registry=r)
        self.alerts = Counter("swarmguard_agent_alerts", "alerts raised", ["detector"], registry=r)
        self.decisions = Counter(
            "swarmguard_agent_decisions", "decisions taken", ["origin", "action"], registry=r
        )
        self.feedback = Counter(
            "swarmguard_agent_feedback", "enforcer feedback", ["enforcer", "status"], registry=r
        )
        self.detect_to_enforce = Histogram(
            "swarmguard_agent_detect_to_enforce_seconds",
            "from the alert to the decision being in force",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queued = Gauge(
            "swarmguard_agent_outbox_queued",
            "records waiting for the coordinator",
            ["kind"],
            registry=r,
        )
        self.delivered = Counter(
            "swarmguard_agent_delivered", "records the coordinator stored", ["kind"], registry=r
        )
        self.coordinator_up = Gauge(
            "swarmguard_agent_coordinator_up", "1 when the last round reached it", registry=r
        )
        self.active = Gauge("swarmguard_agent_active_decisions", "decisions in force", registry=r)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)


class HealthServer:
    """``/healthz`` (JSON from ``health()``) and ``/metrics`` on ``host:port`` (0: any free)."""

    def __init__(
        self,
        metrics: AgentMetrics,
        health: Callable[[], Mapping[str, Any]],
        *,
        host: str = "127.0.0.1",
        port: int = 9464,
    ) -> None:
        handler = _handler(metrics, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="agent-health", daemon=True
        )

    @property
    def port(self) -> int:
        """The port actually listened on."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve on a daemon thread."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


def _handler(
    metrics: AgentMetrics, health: Callable[[], Mapping[str, Any]]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path.split("?")[0] == "/metrics":
                body, ctype, code = metrics.exposition(), CONTENT_TYPE_LATEST, 200
            elif self.path.split("?")[0] in ("/healthz", "/health"):
                data = dict(health())
                body = json.dumps(data, default=str).encode()
                ctype, code = "application/json", 200 if data.get("ok", True) else 503
            else:
                body, ctype, code = b'{"detail": "not found"}', "application/json", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug("health endpoint: " + format, *args)

    return Handler
