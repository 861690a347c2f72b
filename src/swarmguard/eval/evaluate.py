"""Fit a detector on training rows, score test rows, and measure quality and speed.

This is what ``swarmguard evaluate`` runs. Speed is measured inside: ``score_seconds`` is one
batch pass over the test rows, ``latency_ms_p50`` / ``p99`` score single rows (batch size 1) on a
random sample of test rows, the way an agent scores a flow as it ends.

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> from swarmguard.detect.svm import SvmDetector
>>> x = np.r_[np.zeros(50), np.ones(50) * 5]
>>> t = pa.table({"uid": [str(i) for i in range(100)], "x": x,
...               "label": ["benign"] * 50 + ["dos"] * 50,
...               "label_original": ["normal"] * 50 + ["a"] * 25 + ["b"] * 25})
>>> rows = LabeledTable(t, "demo", ("x",), ())
>>> r = evaluate(SvmDetector(kernel="linear"), rows, rows, latency_samples=10)
>>> r["detection_rate"], r["false_alarm_rate"], r["n_test"]
(1.0, 0.0, 100)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from swarmguard.detect.base import Detector
from swarmguard.eval.metrics import detection_metrics, per_class_detection_rate, percentile_ms
from swarmguard.records.dataset import LabeledTable

__all__ = ["evaluate", "measure_latency"]


def measure_latency(detector: Detector, rows: LabeledTable, samples: int, seed: int) -> list[float]:
    """Score ``samples`` random single rows one at a time; return each call's seconds."""
    if rows.num_rows == 0 or samples <= 0:
        return []
    rng = np.random.default_rng(seed)
    picks = rng.choice(rows.num_rows, size=min(samples, rows.num_rows), replace=False)
    singles = [rows.take([int(i)]) for i in picks]
    detector.score(singles[0])  # warm caches once, outside the measurement
    durations = []
    for one in singles:
        start = time.perf_counter()
        detector.score(one)
        durations.append(time.perf_counter() - start)
    return durations


def evaluate(
    detector: Detector,
    train: LabeledTable,
    test: LabeledTable,
    *,
    latency_samples: int = 500,
    seed: int = 0,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit ``detector`` on ``train``, score ``test``, return the contract's metrics dict."""
    if train.format != test.format:
        raise ValueError(f"train is {train.format} but test is {test.format}; use one format")
    if test.num_rows == 0:
        raise ValueError("the test set has no rows")
    stage = on_stage or (lambda _name: None)
    stage("fit")
    start = time.perf_counter()
    detector.fit(train)
    fit_seconds = time.perf_counter() - start
    stage("score")
    start = time.perf_counter()
    scores = detector.score(test)
    score_seconds = time.perf_counter() - start
    flagged = scores >= detector.threshold
    metrics = detection_metrics(test.attack_mask(), flagged)
    stage("latency")
    latencies = measure_latency(detector, test, latency_samples, seed)
    return {
        "detector": detector.name,
        "format": test.format,
        "n_train": train.num_rows,
        "n_test": test.num_rows,
        **metrics.as_dict(),
        "per_class_detection_rate": per_class_detection_rate(test.original_labels(), flagged),
        "per_family_detection_rate": per_class_detection_rate(test.labels(), flagged),
        "threshold": detector.threshold,
        "fit_seconds": fit_seconds,
        "score_seconds": score_seconds,
        "flows_per_second": test.num_rows / score_seconds if score_seconds > 0 else 0.0,
        "latency_ms_p50": percentile_ms(latencies, 50),
        "latency_ms_p99": percentile_ms(latencies, 99),
        "latency_samples": len(latencies),
        "skipped_rows": {"train": train.skipped_rows, "test": test.skipped_rows},
        "seed": seed,
    }
