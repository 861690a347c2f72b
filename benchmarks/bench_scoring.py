"""Scoring speed of every registered detector: flows/s and per-flow latency at batch 1 and 4096.

Trains each detector on the CIC-IDS2017 sample in ../shared/datasets (or SWARMGUARD_DATASETS),
then scores test rows in batches of 1 and of 4096 and prints throughput and latency percentiles.
Run: .venv/bin/python benchmarks/bench_scoring.py
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from swarmguard.acquire.datasets import load_dataset
from swarmguard.detect.base import DETECTORS
from swarmguard.eval.splits import split_rows


def _datasets() -> Path:
    env = os.environ.get("SWARMGUARD_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def main() -> None:
    rows = load_dataset(_datasets() / "cic-ids2017", "cic-ids2017")
    split = split_rows(rows, by="random", test_fraction=0.3, seed=0)
    train, test = rows.take(split.train), rows.take(split.test)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    print(f"data: CIC-IDS2017 sample, {train.num_rows} train rows, {test.num_rows} test rows")
    for name in DETECTORS.names():
        det = DETECTORS.get(name)(seed=0)  # type: ignore[call-arg]
        start = time.perf_counter()
        det.fit(train)
        fit_s = time.perf_counter() - start
        for batch in (1, 4096):
            n = 300 if batch == 1 else test.num_rows
            idx = np.arange(n)
            lat: list[float] = []
            start = time.perf_counter()
            for lo in range(0, n, batch):
                part = test.take(idx[lo : lo + batch])
                t0 = time.perf_counter()
                det.score(part)
                lat.append((time.perf_counter() - t0) / part.num_rows)
            total = time.perf_counter() - start
            p50, p99 = np.percentile(np.array(lat) * 1000, [50, 99])
            print(
                f"{name:6s} fit {fit_s:6.1f} s | batch {batch:5d}: {n / total:10,.0f} flows/s, "
                f"per-flow latency p50 {p50:.3f} ms p99 {p99:.3f} ms"
            )


if __name__ == "__main__":
    main()
