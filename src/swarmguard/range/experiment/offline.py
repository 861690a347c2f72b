"""The offline rows: the same detectors on public datasets, with honest splits.

For each dataset found: the SVM through ``eval.holdout`` (a random split next to
leave-one-attack-family-out, the pooled figure for families never seen in training), and a
federated LSTM through ``federate.experiment.simulate`` trained on a random 70 % split across
three simulated agents and tested on the other 30 %. ``--quick`` uses the small samples shipped
in ``data/demo`` (and the UNSW-NB15 sample of the shared datasets when present), fewer rows and
rounds.

Example
-------
>>> nowhere = Path("/nonexistent")
>>> offline_datasets(quick=True, datasets=nowhere, repo=nowhere)
[]
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmguard.shared_data import REPO, shared_dir

__all__ = ["OfflineDataset", "offline_datasets", "offline_rows"]


@dataclass(frozen=True)
class OfflineDataset:
    """A public dataset file or directory and its format."""

    name: str
    fmt: str
    path: Path


def _shared(datasets: Path | None) -> Path:
    if datasets is not None:
        return datasets
    env = os.environ.get("SWARMGUARD_DATASETS")
    return Path(env) if env else shared_dir() / "datasets"


def offline_datasets(
    *, quick: bool, datasets: Path | None, repo: Path = REPO
) -> list[OfflineDataset]:
    """The datasets the offline rows use, those that exist on this machine."""
    shared = _shared(datasets)
    demo = repo / "data" / "demo"
    if quick:
        wanted = [
            OfflineDataset("NSL-KDD", "nsl-kdd", demo / "nsl-kdd" / "KDDTrain+_20Percent_demo.txt"),
            OfflineDataset("UNSW-NB15", "unsw-nb15", shared / "unsw-nb15" / "UNSW_NB15_sample.csv"),
            OfflineDataset("CIC-IDS2017", "cic-ids2017", demo / "cic-ids2017"),
        ]
    else:
        wanted = [
            OfflineDataset("NSL-KDD", "nsl-kdd", shared / "nsl-kdd" / "KDDTrain+_20Percent.txt"),
            OfflineDataset("UNSW-NB15", "unsw-nb15", shared / "unsw-nb15" / "UNSW_NB15_sample.csv"),
            OfflineDataset("CIC-IDS2017", "cic-ids2017", shared / "cic-ids2017"),
        ]
    return [d for d in wanted if d.path.exists()]


def _subsample(rows: Any, limit: int, seed: int) -> Any:
    import numpy as np

    if rows.num_rows <= limit:
        return rows
    rng = np.random.default_rng(seed)
    return rows.take(np.sort(rng.choice(rows.num_rows, size=limit, replace=False)))


def _stage(progress: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda s: progress(prefix + s)


def offline_rows(
    *,
    quick: bool,
    seed: int,
    datasets: Path | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> list[dict[str, Any]]:
    """One SVM holdout row and one federated LSTM row per dataset found."""
    from swarmguard.acquire.datasets import load_dataset
    from swarmguard.detect.base import DETECTORS
    from swarmguard.eval.holdout import holdout_experiment
    from swarmguard.eval.splits import split_rows
    from swarmguard.federate.experiment import simulate
    from swarmguard.federate.simulation import FederationConfig

    def make_svm() -> Any:
        return DETECTORS.get("svm")(seed=seed)  # type: ignore[call-arg]

    limit = 6000 if quick else 60000
    rounds = 2 if quick else 5
    rows_out: list[dict[str, Any]] = []
    for ds in offline_datasets(quick=quick, datasets=datasets):
        progress(f"offline: reading {ds.name} ({ds.path})")
        rows = _subsample(load_dataset(ds.path, ds.fmt), limit, seed)
        start = time.perf_counter()
        hold = holdout_experiment(
            rows,
            make_svm,
            seed=seed,
            latency_samples=0,
            on_stage=_stage(progress, f"offline: svm on {ds.name}: "),
        )
        rand = hold["runs"]["random"]
        rows_out.append(
            {
                "name": "svm",
                "dataset": ds.name,
                "data": str(ds.path),
                "rows": rows.num_rows,
                "test_set": "random 30 % of rows, and each attack family held "
                "out of training in turn with 30 % of benign rows",
                "detection_rate": rand["detection_rate"],
                "false_alarm_rate": rand["false_alarm_rate"],
                "f1": rand.get("f1"),
                "unseen_detection_rate": hold["unseen_pooled"]["detection_rate"],
                "unseen_false_alarm_rate": hold["unseen_pooled"]["false_alarm_rate"],
                "unseen_families": hold["unseen_pooled"]["families"],
                "n_train": rand.get("n_train"),
                "n_test": rand.get("n_test"),
                "seconds": time.perf_counter() - start,
            }
        )
        progress(f"offline: federated lstm on {ds.name} ({rounds} rounds, 3 agents)")
        split = split_rows(rows, by="random", test_fraction=0.3, seed=seed)
        start = time.perf_counter()
        fed, _ = simulate(
            rows.take(split.train),
            rows.take(split.test),
            FederationConfig(detector="lstm", clients=3, rounds=rounds, seed=seed),
            baselines=False,
            latency_samples=0,
        )
        rows_out.append(
            {
                "name": "lstm-federated",
                "dataset": ds.name,
                "data": str(ds.path),
                "rows": rows.num_rows,
                "test_set": "random 30 % of rows; the other 70 % split iid across 3 agents",
                "detection_rate": fed["detection_rate"],
                "false_alarm_rate": fed["false_alarm_rate"],
                "f1": fed.get("f1"),
                "rounds": rounds,
                "clients": 3,
                "n_train": fed.get("n_train"),
                "n_test": fed.get("n_test"),
                "seconds": time.perf_counter() - start,
            }
        )
    return rows_out
