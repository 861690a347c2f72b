"""Composition root of the coordinator service: REST API, store, correlation, dashboard.

``app.create_app(ServiceSettings)`` builds the FastAPI app (agents register and send alert
batches with their own tokens; alerts are stored once per uid; accepted alerts go through the
cross-agent ``Correlator``; decisions live in the respond ``DecisionLedger`` and are served as a
cursor stream to agents and in CrowdSec's Local API shape to firewall bouncers; ``/dashboard``,
``/metrics``, ``/docs``). ``server.serve`` runs it under uvicorn, with TLS when given a
certificate. ``swarmguard coordinator serve`` is the command; docs/coordinator.md the manual.
"""
