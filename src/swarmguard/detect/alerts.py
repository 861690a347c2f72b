"""Turn per-flow scores into EVE alerts.

Examples
--------
>>> import numpy as np
>>> from swarmguard.records.flow import empty_flow_table
>>> alerts_from_flows(empty_flow_table(), np.zeros(0), 0.5, detector="svm")
[]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from swarmguard.detect.base import FloatArray
from swarmguard.records.alert import Alert, AlertInfo

__all__ = ["DETECTOR_SIGNATURE_IDS", "alerts_from_flows", "severity_for"]

#: Fixed signature ids for learned detectors, outside the ranges public rule sets use.
DETECTOR_SIGNATURE_IDS: dict[str, int] = {"svm": 9_100_001, "lstm": 9_100_002, "gnn": 9_100_003}


def severity_for(score: float) -> int:
    """Suricata severity (1 high ... 3 low) from an attack score."""
    if score >= 0.95:
        return 1
    if score >= 0.8:
        return 2
    return 3


def alerts_from_flows(
    flows: pa.Table,
    scores: FloatArray,
    threshold: float,
    *,
    detector: str,
    sensor_id: str = "local",
) -> list[Alert]:
    """One ``Alert`` per flow whose score reaches ``threshold`` (flows in the flow schema)."""
    if flows.num_rows != len(scores):
        raise ValueError("one score per flow is needed")
    hits = np.flatnonzero(scores >= threshold)
    if hits.size == 0:
        return []
    picked = flows.take(pa.array(hits, type=pa.int64())).to_pylist()
    sid = DETECTOR_SIGNATURE_IDS.get(detector, 9_100_000)
    alerts = []
    for row, i in zip(picked, hits.tolist(), strict=True):
        score = float(scores[i])
        alerts.append(
            Alert(
                ts=row["ts"],
                sensor_id=sensor_id,
                src_ip=row["src_ip"],
                src_port=row["src_port"],
                dest_ip=row["dest_ip"],
                dest_port=row["dest_port"],
                proto=row["proto"],
                community_id=row["community_id"],
                alert=AlertInfo(
                    signature_id=sid,
                    signature=f"SWARMGUARD {detector} flow scored as attack",
                    category="Potentially Bad Traffic",
                    severity=severity_for(score),
                ),
                detector=detector,
                score=min(max(score, 0.0), 1.0),
                evidence=[str(row["uid"])],
            )
        )
    return alerts
