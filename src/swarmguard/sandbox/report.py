"""The report of one detonation: what the sample asked, whom it reached, and what fired.

From a ``Detonation`` (capture + simulated-internet log) this builds the per-sample object of
the ``swarmguard sandbox run`` JSON (``sha256``, ``exit_status``, ``duration_s``, ``pcap``,
``packets``, ``flows``, ``dns_queries``, ``http_requests``, ``contacted``, bytes each way,
``alerts_by_category``, ``node``), the sample's labelled flows (flow schema; ``label`` the
taxonomy class of the sample's declared label, ``label_original`` = ``sandbox:<name>:<sha12>``)
and the same flows as CIC-IDS2017 rows (``Label`` = the sample's label), the form
``swarmguard evaluate`` trains on. Alerts come from the configured detectors: ``rules`` runs
the shipped signature rules over the packets and the flow threshold rules over the flows; each
fitted model (``evaluate --model-out``) scores the flows in its own feature format.

Examples
--------
>>> lines = ['{"service":"dns","qname":"a.example","qtype":1}',
...          '{"service":"http","method":"GET","host":"a.example","path":"/x"}',
...          '{"service":"dns","qname":"a.example","qtype":28}']
>>> services_summary([__import__("json").loads(x) for x in lines])
(['a.example'], [{'method': 'GET', 'host': 'a.example', 'path': '/x', 'service': 'http'}])
>>> cic_label(None), cic_label("PortScan")
('Malware', 'PortScan')
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from swarmguard.acquire.datasets import cic_ids2017
from swarmguard.acquire.datasets.taxonomy import map_label
from swarmguard.acquire.pcap import read_pcap
from swarmguard.acquire.rawpackets import iter_frames, iter_packets
from swarmguard.acquire.sandbox.node import Detonation
from swarmguard.detect.alerts import alerts_from_flows
from swarmguard.detect.base import DETECTORS
from swarmguard.detect.persist import model_detector_name
from swarmguard.detect.rules.engine import EngineConfig, RuleEngine
from swarmguard.detect.rules.flowrules import evaluate_flow_rules, load_flow_rules
from swarmguard.detect.rules.parser import parse_rules
from swarmguard.errors import SwarmguardError
from swarmguard.features.mapping import flows_as_table, flows_to_dataset
from swarmguard.records.labels import AttackClass

__all__ = [
    "DETECTOR_NAMES",
    "build_report",
    "cic_label",
    "label_flows",
    "model_alerts",
    "read_services_log",
    "rule_alerts",
    "services_summary",
    "write_cic_csv",
]

_log = logging.getLogger(__name__)

#: Detectors a sandbox run can apply to each sample's traffic.
DETECTOR_NAMES = ("rules",)
DEFAULT_LABEL = "Malware"  # a sample that declares no label: an attack of unknown kind


def cic_label(label: str | None) -> str:
    """The CIC-IDS2017 ``Label`` text of a sample (its declared label, else ``Malware``)."""
    return label if label else DEFAULT_LABEL


def read_services_log(path: Path) -> list[dict[str, Any]]:
    """The simulated internet's JSON lines (a torn last line is ignored)."""
    records: list[dict[str, Any]] = []
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            _log.warning("%s: unreadable line skipped", path)
    return records


def services_summary(records: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, str]]]:
    """DNS names asked (first-seen order, unique) and HTTP(S) requests from the services log."""
    names: list[str] = []
    http: list[dict[str, str]] = []
    for r in records:
        if r.get("service") == "dns" and r.get("qname") and r["qname"] not in names:
            names.append(r["qname"])
        elif r.get("service") in ("http", "https"):
            http.append(
                {
                    "method": str(r.get("method", "")),
                    "host": str(r.get("host", "")),
                    "path": str(r.get("path", "")),
                    "service": str(r["service"]),
                }
            )
    return names, http


def label_flows(flows: pa.Table, label: str | None, name: str, sha256: str) -> pa.Table:
    """Set ``label`` (taxonomy class) and ``label_original`` (which sample) on every flow."""
    cls = map_label("cic-ids2017", cic_label(label)) or AttackClass.UNKNOWN_ATTACK
    n = flows.num_rows
    out = flows.set_column(
        flows.schema.get_field_index("label"), "label", pa.array([cls.value] * n, pa.string())
    )
    tag = f"sandbox:{name}:{sha256[:12]}"
    return out.set_column(
        out.schema.get_field_index("label_original"),
        "label_original",
        pa.array([tag] * n, pa.string()),
    )


def write_cic_csv(flows: pa.Table, label: str | None, path: Path) -> int:
    """Write flows as CIC-IDS2017 (improved) rows with ``Label``; return the row count."""
    rows = flows_to_dataset(flows, "cic-ids2017").table
    n = rows.num_rows
    identity = {
        "Src IP": rows.column("src_ip"),
        "Src Port": rows.column("src_port"),
        "Dst IP": rows.column("dest_ip"),
        "Timestamp": pc.strftime(rows.column("ts"), format="%Y-%m-%d %H:%M:%S", locale="C"),
    }
    columns: list[list[Any]] = []
    for name in cic_ids2017.COLUMNS:
        if name in identity:
            columns.append(identity[name].to_pylist())
        elif name == "Label":
            columns.append([cic_label(label)] * n)
        elif name in rows.column_names:
            columns.append(rows.column(name).to_pylist())
        else:
            columns.append([None] * n)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cic_ids2017.COLUMNS)
        for i in range(n):
            writer.writerow(["" if col[i] is None else col[i] for col in columns])
    return int(n)


def _default_rules() -> Path:
    return Path(str(resources.files("swarmguard.detect.rules") / "default" / "swarmguard.rules"))


def rule_alerts(pcap: Path, flows: pa.Table, sensor_id: str) -> Counter[str]:
    """Alert counts by category: signature rules on the packets, flow rules on the flows."""
    counts: Counter[str] = Counter()
    if pcap.stat().st_size > 24:
        engine = RuleEngine(parse_rules(_default_rules()), EngineConfig(sensor_id=sensor_id))
        for alert in engine.run(iter_packets(pcap, stop_at_bad=True)):
            counts[alert.alert.category] += 1
    if flows.num_rows:
        rules = load_flow_rules()
        tables = [flows_as_table(flows).table, flows_to_dataset(flows, "cic-ids2017").table]
        by_sid = {r.sid: r for r in rules}
        for table in tables:
            names = set(table.column_names)
            usable = [r for r in rules if r.columns <= names]
            for sid, mask in evaluate_flow_rules(usable, table).items():
                hits = int(mask.sum())
                if hits:
                    counts[by_sid[sid].category] += hits
    return counts


def _endpoints(flows: pa.Table, sample_ip: str) -> tuple[list[str], int, int]:
    """The far ends (``ip:port``) of the sample's flows, and its bytes sent and received.

    The flow meter orients a flow by its first packet, so the sample may be either end.
    """
    far: set[str] = set()
    sent = received = 0
    cols = ("src_ip", "src_port", "dest_ip", "dest_port", "bytes_toserver", "bytes_toclient")
    for src, sport, dst, dport, up, down in zip(
        *(flows.column(c).to_pylist() for c in cols), strict=True
    ):
        if src == sample_ip:
            far.add(f"{dst}:{dport}" if dport is not None else str(dst))
            sent, received = sent + up, received + down
        elif dst == sample_ip:
            far.add(f"{src}:{sport}" if sport is not None else str(src))
            sent, received = sent + down, received + up
    return sorted(far), int(sent), int(received)


def model_alerts(model: Path, flows: pa.Table, sensor_id: str) -> Counter[str]:
    """Alert counts by category from a fitted detector saved by ``evaluate --model-out``."""
    name = model_detector_name(model)
    detector = DETECTORS.get(name).load(model)
    fmt = getattr(detector, "format", "flow")
    rows = flows_as_table(flows) if fmt in (None, "flow") else flows_to_dataset(flows, fmt)
    scores = detector.score(rows)
    alerts = alerts_from_flows(
        flows,
        scores,
        float(getattr(detector, "threshold", 0.5)),
        detector=name,
        sensor_id=sensor_id,
    )
    return Counter(a.alert.category for a in alerts)


def build_report(
    det: Detonation,
    run_dir: Path,
    *,
    run_id: str,
    detectors: tuple[str, ...] = DETECTOR_NAMES,
    models: tuple[Path, ...] = (),
) -> dict[str, Any]:
    """Analyse one detonation in ``run_dir``: write ``flows.parquet`` and ``flows.csv``.

    Returns the report object (paths relative to the output folder's parent are not assumed:
    they are absolute).

    Raises
    ------
    SwarmguardError
        If an unknown detector is named.
    """
    for name in detectors:
        if name not in DETECTOR_NAMES:
            raise SwarmguardError(f"unknown sandbox detector {name!r}; known: rules")
    pcap = run_dir / det.pcap.name
    packets = 0
    flows = read_pcap(pcap, sensor_id=det.node, skip_bad=True) if pcap.stat().st_size else None
    if flows is None:
        from swarmguard.records.flow import empty_flow_table

        flows = empty_flow_table()
    else:
        packets = sum(1 for _ in iter_frames(pcap, stop_at_bad=True))
    flows = label_flows(flows, det.label, det.sample, det.sha256)
    pq.write_table(flows, run_dir / "flows.parquet")
    write_cic_csv(flows, det.label, run_dir / "flows.csv")
    names, http = services_summary(read_services_log(run_dir / det.services_log.name))
    contacted, bytes_out, bytes_in = _endpoints(flows, det.sample_ip)
    alerts: Counter[str] = Counter()
    if "rules" in detectors:
        alerts = rule_alerts(pcap, flows, det.node)
    for model in models:
        if flows.num_rows:
            alerts.update(model_alerts(model, flows, det.node))
    return {
        "sample": det.sample,
        "sha256": det.sha256,
        "label": cic_label(det.label),
        "run_id": run_id,
        "status": det.status,
        "exit_status": det.exit_status,
        "duration_s": det.duration_s,
        "overhead_s": det.overhead_s,
        "pcap": str(pcap),
        "flows_file": str(run_dir / "flows.parquet"),
        "packets": packets,
        "flows": flows.num_rows,
        "dns_queries": names,
        "http_requests": http,
        "contacted": contacted,
        "bytes_out": bytes_out,
        "bytes_in": bytes_in,
        "alerts_by_category": dict(sorted(alerts.items())),
        "limits_hit": det.limits_hit,
        "phases_s": det.phases_s,
        "cgroup": det.cgroup,
        "node": det.node,
        "error": det.error,
        "stdout_tail": det.stdout_tail[-500:],
        "stderr_tail": det.stderr_tail[-500:],
    }
