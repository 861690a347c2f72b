"""Composition root of an edge agent: sources, detectors, policy and enforcers wired together.

``config.load_agent_config`` reads the TOML configuration (``examples/agent.toml``);
``runtime.AgentRuntime`` builds every part from it and runs them: per-packet inspection
(``counters`` for floods, scans and brute force, then the signature rules) on each source's
thread, local response through the respond stage's rails (``responder``), and delivery to the
coordinator through a durable SQLite ``outbox`` (``publisher``: at-least-once, deduplicated by
the coordinator, shared decisions pulled back). ``metrics`` serves ``/healthz`` and
``/metrics``. ``swarmguard agent run --config FILE`` is the command; docs/agent.md the manual.
"""

__all__: list[str] = []
