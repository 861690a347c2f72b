"""Detonations as Ray tasks across sandbox nodes, each result stored exactly once.

A local Ray cluster of ``nodes`` nodes (``ray.cluster_utils.Cluster``), each offering
``parallel`` units of the custom resource ``sandbox_slots``, or an existing cluster given by
``address`` whose nodes offer that resource, runs one task per distinct sample. A task asks for
one slot, so no node runs more than ``parallel`` sandboxes at once; Ray retries a task whose
worker or node dies (``max_retries``). Results are keyed by ``<sha256[:16]>-<run id>``: an
attempt works in ``.tmp/<key>-<attempt>/`` and renames it to ``runs/<key>/`` at the end, and
the rename fails if another attempt got there first, so each sample's result is written once
whatever is retried. Every attempt leaves a marker in ``.attempts/<key>/`` (worker pid, node)
from which ``retried`` is counted. A local cluster keeps its files in a private, short-named
folder (``/tmp/sgr-<run>-*``: Ray's socket paths are length-limited). After the run (also on
failure or Ctrl-C) the driver shuts Ray down and removes every namespace and cgroup of the run,
the scratch folders and Ray's folder.

The output folder::

    OUT/runs/<key>/report.json  traffic.pcap  services.jsonl  flows.parquet  flows.csv  stdout
    OUT/dataset/<sample>-<sha12>.csv   (CIC-IDS2017 rows, Label = the sample's label)
    OUT/report.json                    (the same object as ``--json``)

Examples
--------
>>> result_key("ab" * 32, "r1")
'abababababababab-r1'
>>> summarise(["k1", "k2"], {"k1": {"status": "ok"}}, {"k1": 2, "k2": 1}, 1.5)
{'samples': 2, 'completed': 1, 'retried': 1, 'lost': 1, 'wall_seconds': 1.5}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmguard.acquire.sandbox.internet import ensure_certificate
from swarmguard.acquire.sandbox.limits import Limits, cleanup_cgroups
from swarmguard.acquire.sandbox.netns import cleanup_run
from swarmguard.acquire.sandbox.node import SandboxNode, sha256_file
from swarmguard.errors import SwarmguardError
from swarmguard.sandbox.report import DETECTOR_NAMES, build_report

__all__ = [
    "SLOT_RESOURCE",
    "SandboxCluster",
    "SandboxConfig",
    "detonate_once",
    "lost_entry",
    "result_key",
    "run_sandbox",
    "summarise",
]

_log = logging.getLogger(__name__)

SLOT_RESOURCE = "sandbox_slots"


def result_key(sha256: str, run_id: str) -> str:
    """The name of a sample's result folder in one run."""
    return f"{sha256[:16]}-{run_id}"


def summarise(
    keys: list[str], reports: dict[str, dict[str, Any]], attempts: dict[str, int], wall: float
) -> dict[str, Any]:
    """The run's ``summary`` object (``retried``: samples that took more than one attempt)."""
    return {
        "samples": len(keys),
        "completed": sum(1 for k in keys if k in reports),
        "retried": sum(1 for k in keys if attempts.get(k, 0) > 1),
        "lost": sum(1 for k in keys if k not in reports),
        "wall_seconds": round(wall, 3),
    }


@dataclass
class SandboxConfig:
    """One ``sandbox run``: samples, nodes, slots per node, timeout, output folder."""

    samples: list[Path]
    out_dir: Path
    nodes: int = 3
    parallel: int = 1
    timeout_s: float = 30.0
    address: str | None = None
    limits: Limits = field(default_factory=Limits)
    detectors: tuple[str, ...] = DETECTOR_NAMES
    models: tuple[Path, ...] = ()
    max_retries: int = 3
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])


def detonate_once(
    sample_name: str,
    sample_bytes: bytes,
    key: str,
    cfg: dict[str, Any],
    node_names: dict[str, str],
) -> dict[str, Any]:
    """Body of one Ray task: detonate, report, and publish ``runs/<key>`` unless already there."""
    import ray

    out = Path(cfg["out_dir"])
    final = out / "runs" / key
    node_id = ray.get_runtime_context().get_node_id()
    node = node_names.get(node_id, node_id[:12])
    attempt = uuid.uuid4().hex[:8]
    marks = out / ".attempts" / key
    marks.mkdir(parents=True, exist_ok=True)
    (marks / f"{attempt}.json").write_text(json.dumps({"pid": os.getpid(), "node": node}))
    if (final / "report.json").exists():
        return dict(json.loads((final / "report.json").read_text()))
    tmp = out / ".tmp" / f"{key}-{attempt}"
    tmp.mkdir(parents=True)
    sample = tmp / "sample" / sample_name
    sample.parent.mkdir()
    sample.write_bytes(sample_bytes)
    sandbox = SandboxNode(node, cfg["run_id"], out / ".certs", Limits(**cfg["limits"]))
    det = sandbox.detonate(sample, tmp, float(cfg["timeout_s"]))
    shutil.rmtree(sample.parent, ignore_errors=True)
    t0 = time.monotonic()
    report = build_report(
        det,
        tmp,
        run_id=cfg["run_id"],
        detectors=tuple(cfg["detectors"]),
        models=tuple(Path(m) for m in cfg["models"]),
    )
    report["analysis_s"] = round(time.monotonic() - t0, 3)
    report["pcap"] = str(final / "traffic.pcap")
    report["flows_file"] = str(final / "flows.parquet")
    report["attempt"] = attempt
    (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / "report.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another attempt published first: keep it
    return dict(json.loads((final / "report.json").read_text()))


class SandboxCluster:
    """The Ray cluster of a run: a local ``Cluster`` of N nodes, or an existing one."""

    def __init__(
        self, nodes: int, parallel: int, address: str | None, temp_dir: str | None = None
    ) -> None:
        self.nodes = nodes
        self.parallel = parallel
        self.address = address
        self.temp_dir = temp_dir
        self.cluster: Any = None
        self.node_names: dict[str, str] = {}

    def start(self) -> None:
        """Start (or join) the cluster and name its nodes ``node-0`` ... in start order."""
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.address is None:
                from ray.cluster_utils import Cluster

                node_args: dict[str, Any] = {
                    "num_cpus": 1,
                    "resources": {SLOT_RESOURCE: self.parallel},
                    "object_store_memory": 80 << 20,
                }
                if self.temp_dir is not None:
                    node_args["temp_dir"] = self.temp_dir
                self.cluster = Cluster(
                    initialize_head=True,
                    head_node_args={
                        **node_args,
                        "include_dashboard": False,
                        "_system_config": {
                            "health_check_initial_delay_ms": 0,
                            "health_check_period_ms": 1000,
                            "health_check_failure_threshold": 3,
                        },
                    },
                )
                for _ in range(self.nodes - 1):
                    self.cluster.add_node(**node_args)
                ray.init(
                    address=self.cluster.address,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                    include_dashboard=False,
                    _temp_dir=self.temp_dir,
                )
            else:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR)
        alive = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        if not any(n["Resources"].get(SLOT_RESOURCE) for n in alive):
            raise SwarmguardError(f"no Ray node offers the {SLOT_RESOURCE!r} resource")
        self.node_names = {n["NodeID"]: f"node-{i}" for i, n in enumerate(alive)}

    def worker_node_name(self, index: int) -> str:
        """The name (``node-<i>``) of the ``index``-th non-head node of a local cluster."""
        if self.cluster is None:
            raise SwarmguardError("only a local cluster's nodes can be named")
        node_id = str(list(self.cluster.worker_nodes)[index].node_id)
        return self.node_names.get(node_id, node_id[:12])

    def remove_node(self, index: int) -> str:
        """Kill one local non-head node (tests: a node dying mid-run); return its name."""
        if self.cluster is None:
            raise SwarmguardError("only a local cluster's nodes can be removed")
        name = self.worker_node_name(index)
        worker_nodes = list(self.cluster.worker_nodes)
        self.cluster.remove_node(worker_nodes[index], allow_graceful=False)
        return name

    def stop(self) -> None:
        """Disconnect, and shut a local cluster down."""
        import ray

        with contextlib.suppress(Exception):
            ray.shutdown()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.shutdown()
            self.cluster = None


def lost_entry(sample: Path, error: str) -> dict[str, Any]:
    """The report of a sample no attempt finished: every field present, status ``lost``."""
    return {
        "sample": sample.name,
        "sha256": sha256_file(sample),
        "status": "lost",
        "exit_status": None,
        "duration_s": None,
        "pcap": None,
        "packets": 0,
        "flows": 0,
        "dns_queries": [],
        "http_requests": [],
        "contacted": [],
        "alerts_by_category": {},
        "node": None,
        "error": error,
    }


def _attempts(out: Path, keys: list[str]) -> dict[str, int]:
    return {k: len(list((out / ".attempts" / k).glob("*.json"))) for k in keys}


def run_sandbox(
    cfg: SandboxConfig,
    *,
    chaos: Callable[[SandboxCluster, Path], None] | None = None,
    on_report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Detonate every sample once across the cluster; return ``{"samples": [...], "summary"}``.

    ``chaos`` (tests) runs in a thread once the tasks are submitted, with the cluster and the
    output folder, e.g. to kill a worker or a node mid-run.

    Raises
    ------
    SwarmguardError
        If a sample is missing, the run cannot start (not root, no slots), or a setting is bad.
    """
    if os.geteuid() != 0:
        raise SwarmguardError("sandbox run needs root (network namespaces, cgroups, bwrap)")
    if cfg.nodes < 1 or cfg.parallel < 1 or cfg.timeout_s <= 0:
        raise SwarmguardError("--nodes and --parallel must be >= 1 and --timeout > 0")
    if not cfg.samples:
        raise SwarmguardError("give at least one sample")
    for s in cfg.samples:
        if not s.is_file():
            raise SwarmguardError(f"{s}: no such sample file")
    for m in cfg.models:
        if not m.is_file():
            raise SwarmguardError(f"{m}: no such model file")
    for d in cfg.detectors:
        if d not in DETECTOR_NAMES:
            raise SwarmguardError(f"unknown sandbox detector {d!r}; known: rules")
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    ensure_certificate(out / ".certs")  # once, before tasks race to make it
    started = time.monotonic()
    keys: list[str] = []
    first: dict[str, Path] = {}
    for s in cfg.samples:
        key = result_key(sha256_file(s), cfg.run_id)
        if key not in first:
            first[key] = s
            keys.append(key)
    task_cfg = {
        "out_dir": str(out.resolve()),
        "run_id": cfg.run_id,
        "timeout_s": cfg.timeout_s,
        "limits": cfg.limits.__dict__,
        "detectors": list(cfg.detectors),
        "models": [str(m.resolve()) for m in cfg.models],
    }
    # Ray's own files (sessions, sockets, logs) go to a private folder removed at the end; its
    # path stays short because Unix socket paths are limited to 107 bytes.
    ray_tmp = None if cfg.address else tempfile.mkdtemp(prefix=f"sgr-{cfg.run_id}-", dir="/tmp")
    cluster = SandboxCluster(cfg.nodes, cfg.parallel, cfg.address, ray_tmp)
    reports: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    submitted = last_result = time.monotonic()
    chaos_thread: threading.Thread | None = None
    try:
        cluster.start()
        import ray

        task = ray.remote(
            num_cpus=0,
            resources={SLOT_RESOURCE: 1},
            max_retries=cfg.max_retries,
            retry_exceptions=False,
        )(detonate_once)
        submitted = time.monotonic()
        refs = {
            task.remote(first[k].name, first[k].read_bytes(), k, task_cfg, cluster.node_names): k
            for k in keys
        }
        if chaos is not None:
            chaos_thread = threading.Thread(target=chaos, args=(cluster, out), daemon=True)
            chaos_thread.start()
        pending = list(refs)
        budget = cfg.timeout_s + 120.0
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=budget)
            if not done:
                for ref in pending:
                    errors[refs[ref]] = "no result in time"
                break
            ref = done[0]
            try:
                report = ray.get(ref)
            except ray.exceptions.RayError as exc:
                errors[refs[ref]] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1]}"
                _log.warning("sample %s lost: %s", first[refs[ref]].name, errors[refs[ref]])
                continue
            reports[refs[ref]] = report
            last_result = time.monotonic()
            if on_report is not None:
                on_report(report)
    finally:
        if chaos_thread is not None:
            chaos_thread.join(timeout=30)
        cluster.stop()
        if ray_tmp is not None:
            shutil.rmtree(ray_tmp, ignore_errors=True)
        cleanup_run(cfg.run_id)
        cleanup_cgroups(f"sgs-{cfg.run_id}-")
        attempts = _attempts(out, keys)
        for scratch in (".tmp", ".attempts", ".certs"):
            shutil.rmtree(out / scratch, ignore_errors=True)
    dataset = out / "dataset"
    for k in keys:
        csv_file = out / "runs" / k / "flows.csv"
        if k in reports and csv_file.exists() and reports[k].get("flows"):
            dataset.mkdir(exist_ok=True)
            stem = Path(reports[k]["sample"]).stem
            shutil.copyfile(csv_file, dataset / f"{stem}-{reports[k]['sha256'][:12]}.csv")
    samples = []
    for s in cfg.samples:
        k = result_key(sha256_file(s), cfg.run_id)
        if k in reports:
            r = dict(reports[k])
            r["attempts"] = attempts.get(k, 0)
        else:
            r = lost_entry(s, errors.get(k, "no result"))
        samples.append(r)
    summary = summarise(keys, reports, attempts, time.monotonic() - started)
    summary["detonation_seconds"] = round(max(0.0, last_result - submitted), 3)
    result = {"samples": samples, "summary": summary}
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
