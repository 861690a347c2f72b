"""Distributed sandbox: detonations scheduled on Ray, with reports and detector alerts.

Contract: ``run_sandbox(SandboxConfig)`` runs each distinct sample once, as a Ray task that
asks for one ``sandbox_slots`` unit, on a local cluster of N nodes or an existing cluster;
each task detonates the sample on a ``swarmguard.acquire.sandbox.SandboxNode`` and builds its
report (``report.build_report``: DNS names, HTTP requests, endpoints, bytes, flows and
``alerts_by_category`` from the configured detectors). Results are keyed by sample hash and
run id and published once with an atomic rename, so retried tasks (a worker or node that died)
never duplicate a result. The output folder holds per-sample pcaps, services logs, labelled
flows (Parquet) and CIC-IDS2017 rows (``dataset/``) that ``swarmguard ingest`` and
``swarmguard evaluate`` read. Everything a run creates is removed at its end, also on failure.
See ``docs/sandbox.md``.
"""

from swarmguard.sandbox.report import build_report
from swarmguard.sandbox.scheduler import SandboxConfig, run_sandbox

__all__ = ["SandboxConfig", "build_report", "run_sandbox"]
