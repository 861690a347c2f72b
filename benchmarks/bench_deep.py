"""Training cost and size of the deep detectors (lstm, gnn, anomaly) on the public datasets.

For each dataset (NSL-KDD 20 %, the UNSW-NB15 sample, the CIC-IDS2017 sample, from
../shared/datasets or SWARMGUARD_DATASETS) and each detector: seconds for ``fit`` on a random
70 % (default budget: out-of-fold threshold with 3 folds, so four trainings), seconds for one
local epoch (what a federated agent spends per round and epoch), weights and float64 bytes per
update, and seconds to build the per-host windows and the flow graph of the whole dataset.
Run: .venv/bin/python benchmarks/bench_deep.py [--detectors lstm,gnn,anomaly]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from _paths import datasets_dir
from swarmguard.acquire.datasets import load_dataset
from swarmguard.detect.base import DETECTORS
from swarmguard.detect.torch_train import TorchDetector
from swarmguard.eval.splits import split_rows
from swarmguard.features.graph import flow_graph
from swarmguard.features.stats import FeatureStats
from swarmguard.features.windows import host_windows

DATA = {
    "nsl-kdd": ("nsl-kdd", "KDDTrain+_20Percent.txt"),
    "unsw-nb15": ("unsw-nb15", "UNSW_NB15_sample.csv"),
    "cic-ids2017": ("cic-ids2017", ""),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detectors", default="lstm,gnn,anomaly")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}, "
        "training on 1 thread"
    )
    for name, (folder, file) in DATA.items():
        path = datasets_dir() / folder / file if file else datasets_dir() / folder
        rows = load_dataset(path)
        start = time.perf_counter()
        win = host_windows(rows, 8)
        t_win = time.perf_counter() - start
        start = time.perf_counter()
        graph = flow_graph(rows, window_s=60.0)
        t_graph = time.perf_counter() - start
        full = float((win >= 0).all(axis=1).mean())
        print(
            f"{name}: {rows.num_rows} rows; windows {t_win:.3f} s ({100 * full:.0f} % full), "
            f"graph {t_graph:.3f} s ({graph.num_nodes} nodes, {int(graph.window.max()) + 1} "
            "windows)"
        )
        split = split_rows(rows, by="random", test_fraction=0.3, seed=0)
        train = rows.take(split.train)
        for det_name in args.detectors.split(","):
            det = DETECTORS.get(det_name)(seed=0)  # type: ignore[call-arg]
            assert isinstance(det, TorchDetector)
            start = time.perf_counter()
            det.fit(train)
            t_fit = time.perf_counter() - start
            agent = DETECTORS.get(det_name)(seed=0)  # type: ignore[call-arg]
            assert isinstance(agent, TorchDetector)
            agent.prepare(FeatureStats.from_rows(train))
            start = time.perf_counter()
            agent.train_epochs(train, 1)
            t_epoch = time.perf_counter() - start
            weights = sum(p.size for p in det.get_parameters())
            print(
                f"  {det_name:8s} fit {t_fit:6.1f} s, one local epoch {t_epoch:5.2f} s, "
                f"{weights} weights ({8 * weights / 1e6:.2f} MB as float64)"
            )


if __name__ == "__main__":
    main()
