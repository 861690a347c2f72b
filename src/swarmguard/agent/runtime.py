"""The agent's composition root: builds every part from an ``AgentConfig`` and runs them.

Threads: one per source (packets are inspected and answered on the source's own thread, the
fast path), one publisher (outbox to the coordinator, shared decisions back), one
housekeeper (expiries, effect checks, a progress line every ``progress_s``), and the health
endpoint. ``AgentRuntime.run`` returns when ``stop`` is set, after ``max_seconds``, or, when
every source is finite (a pcap replay, files not followed), once they are all read. An agent
without sources runs on: it enforces the coordinator's shared decisions.

Examples
--------
>>> import tempfile, threading
>>> from swarmguard.agent.config import parse_agent_config
>>> with tempfile.TemporaryDirectory() as tmp:
...     cfg = parse_agent_config(f'''
... agent_id = "edge1"
... [queue]
... dir = "{tmp}"
... [metrics]
... port = 0
... ''')
...     agent = AgentRuntime(cfg)
...     agent.run(threading.Event(), max_seconds=0.3)
0
"""

from __future__ import annotations

import inspect
import logging
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from swarmguard import __version__
from swarmguard.acquire.rawpackets import Packet
from swarmguard.agent.config import AgentConfig, EnforcerConfig, PolicyConfig, SourceConfig
from swarmguard.agent.detection import FlowInspector, PacketInspector
from swarmguard.agent.metrics import AgentMetrics, HealthServer
from swarmguard.agent.outbox import Outbox
from swarmguard.agent.publisher import Publisher
from swarmguard.agent.responder import EventLog, Responder
from swarmguard.agent.sources import eve_loop, flow_loop, live_loop, log_loop, pcap_flows, pcap_loop
from swarmguard.config import FlowMeterSettings
from swarmguard.errors import InputError, SwarmguardError
from swarmguard.records.alert import Alert
from swarmguard.registry import UnknownPluginError
from swarmguard.respond.allowlist import AllowList, local_addresses
from swarmguard.respond.base import ENFORCERS, POLICIES, Enforcer, Policy
from swarmguard.respond.builtins import register_builtins
from swarmguard.respond.enforcers.dryrun import DryRunEnforcer
from swarmguard.respond.ledger import DecisionLedger
from swarmguard.respond.rails import RailsConfig, SafetyRails

__all__ = ["AgentRuntime", "build_enforcer", "build_policy", "coordinator_client"]

logger = logging.getLogger(__name__)


def build_policy(cfg: PolicyConfig, *, dry_run: bool = True, agent_id: str = "local") -> Policy:
    """The policy named in the configuration (``rl:default`` / ``rl:PATH`` for a trained one).

    ``dry_run`` and ``sensor_id`` are passed to policy classes that take them, unless the
    options set them; ``file`` (a playbook in TOML or YAML) is read for ``from_config``.
    """
    register_builtins()
    name, _, arg = cfg.name.partition(":")
    cls: Any = POLICIES.get(name)
    kwargs: dict[str, Any] = {}
    if cfg.file is not None:
        from swarmguard.respond.playbook import load_playbook

        kwargs.update(load_playbook(cfg.file))
    kwargs.update(cfg.options)
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        params = {}  # type: ignore[assignment]
    if "dry_run" in params:
        kwargs.setdefault("dry_run", dry_run)
    if "sensor_id" in params:
        kwargs.setdefault("sensor_id", agent_id)
    try:
        if name == "rl" and arg and arg != "default":
            if hasattr(cls, "load"):
                return cls.load(Path(arg), **kwargs)  # type: ignore[no-any-return]
            return cls(path=Path(arg), **kwargs)  # type: ignore[no-any-return]
        if cfg.file is not None and hasattr(cls, "from_config"):
            return cls.from_config(kwargs)  # type: ignore[no-any-return]
        return cls(**kwargs)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise SwarmguardError(f"policy {cfg.name!r}: bad options: {exc}") from None


def build_enforcer(cfg: EnforcerConfig, index: int) -> Enforcer:
    """One enforcer from its registry name and options."""
    register_builtins()
    try:
        cls: Any = ENFORCERS.get(cfg.name)
    except UnknownPluginError:
        if cfg.name != "dryrun":
            raise
        cls = DryRunEnforcer
    try:
        return cls(**cfg.options)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise SwarmguardError(f"enforcers.{index} ({cfg.name}): bad options: {exc}") from None


def coordinator_client(cfg: AgentConfig) -> httpx.Client | None:
    """The authenticated HTTP client for the coordinator (None when none is configured)."""
    c = cfg.coordinator
    if c is None:
        return None
    headers = {"user-agent": f"swarmguard-agent/{__version__}"}
    token = c.bearer()
    if token:
        headers["authorization"] = f"Bearer {token}"
    verify: ssl.SSLContext | bool = True
    if c.ca is not None:
        if not c.ca.is_file():
            raise InputError(c.ca, "coordinator CA certificate not found")
        verify = ssl.create_default_context(cafile=str(c.ca))
    return httpx.Client(base_url=c.url, headers=headers, verify=verify, timeout=c.timeout_s)


class AgentRuntime:
    """Everything one agent runs (see the module docstring).

    Parameters
    ----------
    cfg
        The agent configuration.
    client
        HTTP client for the coordinator (default: built from ``cfg.coordinator``).
    progress_s
        Seconds between progress log lines.
    """

    def __init__(
        self,
        cfg: AgentConfig,
        *,
        client: httpx.Client | None = None,
        progress_s: float = 10.0,
    ) -> None:
        self.cfg = cfg
        self.progress_s = progress_s
        self.started = time.monotonic()
        self.stop_event = threading.Event()
        self.metrics = AgentMetrics()
        qdir = cfg.queue.dir
        try:
            qdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(qdir, f"cannot create the queue directory: {exc.strerror}") from None
        self.outbox = Outbox(qdir / "outbox.sqlite")
        self.ledger = DecisionLedger(qdir / "decisions.sqlite")
        self.enforcers = [build_enforcer(e, i) for i, e in enumerate(cfg.enforcers)]
        self.allowlist = self._allowlist()
        self.rails = SafetyRails(
            self.ledger,
            self.enforcers,
            allowlist=self.allowlist,
            config=RailsConfig(
                dry_run=cfg.response.dry_run,
                max_active=cfg.response.max_active,
                max_ttl_s=cfg.response.max_ttl_s,
            ),
        )
        self.events = EventLog(cfg.events_file) if cfg.events_file else None
        self.client = client if client is not None else coordinator_client(cfg)
        self.publisher: Publisher | None = None
        self.responder = Responder(
            agent_id=cfg.agent_id,
            policy=build_policy(cfg.policy, dry_run=cfg.response.dry_run, agent_id=cfg.agent_id),
            rails=self.rails,
            outbox=self.outbox,
            metrics=self.metrics,
            events=self.events,
            local_hosts=cfg.protected or local_addresses(),
            effect_check_s=cfg.response.effect_check_s,
            on_queued=self._wake_publisher,
        )
        if self.client is not None and cfg.coordinator is not None:
            self.publisher = Publisher(
                self.outbox,
                self.client,
                agent_id=cfg.agent_id,
                on_shared=self.responder.shared if cfg.response.shared else None,
                health=self.health,
                batch_size=cfg.coordinator.batch_size,
                heartbeat_s=cfg.coordinator.heartbeat_s,
                backoff_max_s=cfg.coordinator.backoff_max_s,
                registration={
                    "version": __version__,
                    "addresses": local_addresses(),
                    "enforcers": [e.name for e in self.enforcers],
                },
                pull=cfg.response.shared,
                pull_s=cfg.coordinator.pull_s,
            )
        self.health_server: HealthServer | None = None
        self._threads: list[tuple[threading.Thread, bool]] = []  # (thread, runs forever)
        self._errors: list[str] = []
        self.packet_count = 0

    # ------------------------------------------------------------------ building
    def _allowlist(self) -> AllowList:
        cfg = self.cfg
        allow = AllowList.for_host(
            cfg.allowlist.cidrs,
            coordinator=cfg.coordinator.url if cfg.coordinator else None,
            own=cfg.allowlist.own_addresses,
        )
        if cfg.allowlist.own_addresses:
            for e in cfg.enforcers:
                netns = e.options.get("netns")
                if isinstance(netns, str) and netns:
                    for addr in local_addresses(netns):
                        allow.add(addr, f"own address in {netns}")
        return allow

    def _wake_publisher(self) -> None:
        if self.publisher is not None:
            self.publisher.wake()

    def _packet_handler(self, *, event_time: bool = False) -> Callable[[Packet], None]:
        inspector = PacketInspector(self.cfg.detectors, sensor_id=self.cfg.agent_id)
        responder = self.responder
        packets = self.metrics.packets

        def on_packet(p: Packet) -> None:
            packets.inc()
            self.packet_count += 1
            responder.observe(p)
            alerts = inspector.inspect(p)
            if alerts:
                responder.handle(alerts, time.perf_counter(), event_time=event_time)

        return on_packet

    def _flow_handler(
        self, inspector: FlowInspector, *, event_time: bool = False
    ) -> Callable[[pa.Table], None]:
        def on_flows(flows: pa.Table) -> None:
            alerts = inspector.inspect(flows)
            if alerts:
                self.responder.handle(alerts, time.perf_counter(), event_time=event_time)

        return on_flows

    def _on_alerts(self, alerts: list[Alert]) -> None:
        self.responder.handle(alerts, time.perf_counter())

    def _spawn(self, name: str, target: Callable[[], None], *, forever: bool) -> None:
        def guarded() -> None:
            try:
                target()
            except Exception as exc:  # noqa: BLE001 - reported in health and the log, not lost
                logger.exception("%s stopped: %s", name, exc)
                self._errors.append(f"{name}: {exc}")

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        self._threads.append((thread, forever))
        thread.start()

    def _start_source(self, i: int, src: SourceConfig, flows: FlowInspector) -> None:
        stop = self.stop_event
        agent_id = self.cfg.agent_id
        name = f"source{i}-{src.kind}"
        if src.kind == "live":
            assert src.interface is not None
            loop = live_loop(src.interface, self._packet_handler(), stop)
            self._spawn(name, loop, forever=True)
            if flows.enabled:
                floop = flow_loop(
                    src.interface,
                    self._flow_handler(flows),
                    stop,
                    batch_s=self.cfg.detectors.flow_batch_s,
                    sensor_id=agent_id,
                    settings=FlowMeterSettings(
                        idle_timeout_s=self.cfg.detectors.flow_idle_timeout_s
                    ),
                )
                self._spawn(f"{name}-flows", floop, forever=True)
            return
        assert src.path is not None
        path = src.path
        if src.kind in ("pcap",) and not path.is_file():
            raise InputError(path, "no such capture file")
        if src.kind == "pcap":
            on_packet = self._packet_handler(event_time=True)
            realtime = src.realtime

            def replay() -> None:
                pcap_loop(path, on_packet, stop, realtime=realtime)
                if flows.enabled:
                    handler = self._flow_handler(flows, event_time=True)
                    pcap_flows(path, handler, sensor_id=agent_id)

            self._spawn(name, replay, forever=False)
        elif src.kind == "eve":

            def eve() -> None:
                eve_loop(
                    path,
                    self._on_alerts,
                    stop,
                    sensor_id=agent_id,
                    poll_s=src.poll_s,
                    follow=src.follow,
                )

            self._spawn(name, eve, forever=src.follow)
        else:

            def logs() -> None:
                log_loop(
                    path,
                    self._on_alerts,
                    stop,
                    fmt=src.format,
                    sensor_id=agent_id,
                    poll_s=src.poll_s,
                    follow=src.follow,
                )

            self._spawn(name, logs, forever=src.follow)

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Open enforcers, re-assert active decisions, start every thread."""
        for e in self.enforcers:
            opener = getattr(e, "start", None)
            if callable(opener):
                opener()
        self.responder.reassert()
        flows = FlowInspector(self.cfg.detectors, sensor_id=self.cfg.agent_id)
        for i, src in enumerate(self.cfg.sources):
            self._start_source(i, src, flows)
        if self.publisher is not None and self.cfg.coordinator is not None:
            publisher, flush_s = self.publisher, self.cfg.coordinator.flush_s
            self._spawn("publisher", lambda: publisher.run(self.stop_event, flush_s), forever=True)
        self._spawn("housekeeper", self._housekeep, forever=True)
        if self.cfg.metrics.enabled:
            self.health_server = HealthServer(
                self.metrics, self.health, host=self.cfg.metrics.host, port=self.cfg.metrics.port
            )
            self.health_server.start()
        logger.info(
            "agent %s started: %d source(s), enforcers %s (%s), policy %s, coordinator %s, "
            "health on %s:%s",
            self.cfg.agent_id,
            len(self.cfg.sources),
            ", ".join(e.name for e in self.enforcers),
            "dry-run" if self.cfg.response.dry_run else "enforcing",
            self.cfg.policy.name,
            self.cfg.coordinator.url if self.cfg.coordinator else "none",
            self.cfg.metrics.host,
            self.health_server.port if self.health_server else "off",
        )

    def _housekeep(self) -> None:
        next_progress = time.monotonic() + self.progress_s
        while not self.stop_event.wait(0.25):
            self.responder.tick()
            if self.publisher is not None:
                self.metrics.coordinator_up.set(1 if self.publisher.stats.connected else 0)
            if time.monotonic() >= next_progress:
                next_progress += self.progress_s
                h = self.health()
                logger.info(
                    "packets %d, alerts %d, decisions %d, active %d, queued %s, coordinator %s",
                    h["packets"],
                    h["alerts"],
                    h["decisions"],
                    h["active_decisions"],
                    h["queued"],
                    h["coordinator"],
                )

    def _finite_sources_done(self) -> bool:
        """True when there are sources, none runs forever, and all have finished."""
        sources = [(t, forever) for t, forever in self._threads if t.name.startswith("source")]
        if not sources or any(forever for _, forever in sources):
            return False
        return all(not t.is_alive() for t, _ in sources)

    def run(self, stop: threading.Event, *, max_seconds: float | None = None) -> int:
        """Run until ``stop`` is set, ``max_seconds`` pass or finite sources are done.

        Returns 0, or 1 when a source failed.
        """
        self.start()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            while not stop.wait(0.2):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self._finite_sources_done():
                    self.responder.tick()
                    break
        finally:
            self.close()
        return 1 if self._errors else 0

    def close(self) -> None:
        """Stop the threads, try a last delivery, close everything (graceful shutdown)."""
        self.stop_event.set()
        if self.publisher is not None:
            self.publisher.wake()
        for thread, _ in self._threads:
            thread.join(timeout=5.0)
        if self.health_server is not None:
            self.health_server.close()
        for e in self.enforcers:
            closer = getattr(e, "close", None)
            if callable(closer):
                closer()
        if self.client is not None:
            self.client.close()
        if self.events is not None:
            self.events.close()
        pending = self.outbox.pending()
        if any(pending.values()):
            logger.info("stopping with records still queued (sent on next start): %s", pending)
        self.outbox.close()
        self.ledger.close()
        logger.info("agent %s stopped", self.cfg.agent_id)

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` and the heartbeat report."""
        pub = self.publisher
        return {
            "ok": not self._errors,
            "agent_id": self.cfg.agent_id,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "packets": self.packet_count,
            "alerts": self.responder.alert_count,
            "decisions": len(self.responder.latencies_ms),
            "active_decisions": self.ledger.count_active(self.rails.clock()),
            "queued": self.outbox.pending(),
            "coordinator": "none" if pub is None else ("up" if pub.stats.connected else "down"),
            "errors": list(self._errors),
        }
