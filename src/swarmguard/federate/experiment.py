"""Federated versus centralised versus local-only training of one detector, on one test file.

``simulate`` is what ``swarmguard federate simulate`` runs: partition the training rows across
``clients`` sites, run the federation (``swarmguard.federate.simulation``), score the final
global model on the test rows with the metrics of ``swarmguard evaluate``, and add two
baselines with the same training budget (``rounds * local_epochs`` passes over the data):

``centralised_f1``
    the same detector trained on the union of the partitions (preprocessing from the union).
``local_only_f1``
    mean over sites of the F1 of a detector trained on that site's partition only (its own
    preprocessing and threshold), tested on the same test rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from swarmguard.detect.base import FloatArray
from swarmguard.eval.evaluate import evaluate
from swarmguard.eval.metrics import detection_metrics
from swarmguard.features.stats import FeatureStats
from swarmguard.federate.partition import partition_rows
from swarmguard.federate.simulation import FederationConfig, FederationResult, run_federation
from swarmguard.federate.site import FederatedDetector, FederatedSite, make_detector
from swarmguard.records.dataset import LabeledTable

__all__ = [
    "build_sites",
    "centralised_f1",
    "compare",
    "f1_on_test",
    "local_only_f1",
    "plot_comparison",
    "simulate",
]

log = logging.getLogger(__name__)


class _Trained:
    """A detector already trained elsewhere, seen through ``evaluate`` (its fit does nothing)."""

    name: ClassVar[str] = "federated"

    def __init__(self, detector: FederatedDetector) -> None:
        self.inner = detector
        self.threshold = detector.threshold

    def fit(self, train: LabeledTable) -> None:
        """Nothing to do: the model was trained by the federation."""

    def score(self, rows: LabeledTable) -> FloatArray:
        """The inner detector's scores."""
        return self.inner.score(rows)

    def save(self, path: Path) -> None:
        """Save the inner detector."""
        self.inner.save(path)

    @classmethod
    def load(cls, path: Path) -> Self:  # pragma: no cover - not used
        """Not supported: load the inner detector's class instead."""
        raise NotImplementedError


def f1_on_test(detector: FederatedDetector, test: LabeledTable) -> float:
    """F1 of ``detector`` at its threshold on ``test``."""
    flagged = detector.score(test) >= detector.threshold
    return detection_metrics(test.attack_mask(), flagged).f1


def build_sites(
    train: LabeledTable, config: FederationConfig, parts: list[LabeledTable] | None = None
) -> list[FederatedSite]:
    """Partition ``train`` (unless ``parts`` are given) and make one site per part."""
    if parts is None:
        parts = partition_rows(train, config.clients, config.partition, seed=config.seed)
    mu = config.proximal_mu if config.strategy == "fedprox" else 0.0
    return [
        FederatedSite(
            f"agent-{i}",
            rows,
            make_detector(config.detector, config.seed),
            importance=config.importance[i] if config.importance else 1.0,
            proximal_mu=mu,
        )
        for i, rows in enumerate(parts)
    ]


def _train_alone(name: str, seed: int, rows: LabeledTable, epochs: int) -> FederatedDetector:
    det = make_detector(name, seed)
    det.prepare(FeatureStats.from_rows(rows))
    det.train_epochs(rows, epochs)
    try:
        det.choose_threshold(rows)
    except ValueError as exc:
        log.warning("keeping threshold %.3f: %s", det.threshold, exc)
    return det


def centralised_f1(
    parts: list[LabeledTable], test: LabeledTable, config: FederationConfig
) -> float:
    """F1 of the detector trained on the union of ``parts`` with the same epoch budget."""
    union = LabeledTable.concat(parts)
    det = _train_alone(config.detector, config.seed, union, config.rounds * config.local_epochs)
    return f1_on_test(det, test)


def local_only_f1(
    parts: list[LabeledTable], test: LabeledTable, config: FederationConfig
) -> list[float]:
    """F1 of each site's detector trained on its own partition only."""
    epochs = config.rounds * config.local_epochs
    return [f1_on_test(_train_alone(config.detector, config.seed, p, epochs), test) for p in parts]


def simulate(
    train: LabeledTable,
    test: LabeledTable,
    config: FederationConfig,
    *,
    baselines: bool = True,
    latency_samples: int = 200,
    on_stage: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], FederationResult]:
    """Run the federation and the baselines; return the contract's JSON object and the result."""
    config.validate()
    if train.format != test.format:
        raise ValueError(f"train is {train.format} but test is {test.format}; use one format")
    stage = on_stage or (lambda _name: None)
    parts = partition_rows(train, config.clients, config.partition, seed=config.seed)
    sites = build_sites(train, config, parts)
    stage("federated rounds")
    start = time.perf_counter()
    result = run_federation(
        sites, config, on_round=lambda r: stage(f"round {r.round}/{config.rounds}")
    )
    fed_seconds = time.perf_counter() - start
    stage("scoring the global model")
    metrics = evaluate(
        _Trained(sites[0].detector),
        LabeledTable.concat(parts),
        test,
        latency_samples=latency_samples,
        seed=config.seed,
    )
    metrics["detector"] = config.detector
    metrics["fit_seconds"] = fed_seconds
    out: dict[str, Any] = {
        **metrics,
        "rounds": config.rounds,
        "clients": config.clients,
        "protect": config.protect,
        "partition": config.partition,
        "strategy": config.strategy,
        "local_epochs": config.local_epochs,
        "seconds_per_round": result.seconds_per_round(),
        "bytes_per_round": result.bytes_per_round(),
        "protect_seconds_per_round": float(np.mean([r.protect_seconds for r in result.rounds])),
        "per_round": [r.__dict__ for r in result.rounds],
        "num_parameters": result.num_parameters,
        "setup_bytes": result.setup_bytes,
        "client_rows": [p.num_rows for p in parts],
        "client_weights": result.weights,
        "client_quality": result.qualities,
        "poisoned_clients": list(config.poisoned),
        "engine": "in-process",
        **result.extra,
    }
    if baselines:
        stage("centralised baseline")
        out["centralised_f1"] = centralised_f1(parts, test, config)
        stage("local-only baselines")
        local = local_only_f1(parts, test, config)
        out["local_only_f1"] = float(np.mean(local))
        out["local_only_f1_per_client"] = local
    return out, result


def compare(
    train: LabeledTable,
    test: LabeledTable,
    config: FederationConfig,
    *,
    protections: tuple[str, ...] = ("none", "ckks"),
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Local-only versus federated (each protection) versus centralised, on one test set.

    The baselines do not depend on the protection, so they are trained once.
    """
    runs: dict[str, dict[str, Any]] = {}
    for i, protect in enumerate(protections):
        cfg = replace(config, protect=protect)
        out, _ = simulate(train, test, cfg, baselines=i == 0, latency_samples=50, on_stage=on_stage)
        runs[protect] = out
    first = runs[protections[0]]
    summary = {
        "centralised_f1": first["centralised_f1"],
        "local_only_f1": first["local_only_f1"],
        "federated_f1": {p: r["f1"] for p, r in runs.items()},
        "seconds_per_round": {p: r["seconds_per_round"] for p, r in runs.items()},
        "bytes_per_round": {p: r["bytes_per_round"] for p, r in runs.items()},
    }
    return {
        "config": {**config.__dict__, "ckks": config.ckks.__dict__},
        "summary": summary,
        "runs": runs,
    }


def plot_comparison(result: dict[str, Any], path: Path) -> bool:
    """Bar charts of F1 and seconds per round as a PNG; False if matplotlib is not installed."""
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        log.warning("matplotlib is not installed: no plot written (pip install matplotlib)")
        return False
    s = result["summary"]
    names = ["local-only", *(f"federated ({p})" for p in s["federated_f1"]), "centralised"]
    f1 = [s["local_only_f1"], *s["federated_f1"].values(), s["centralised_f1"]]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.bar(names, f1)
    a.set_ylabel("F1 on the test file")
    a.tick_params(axis="x", rotation=20)
    protects = list(s["seconds_per_round"])
    b.bar(protects, [s["seconds_per_round"][p] for p in protects])
    b.set_ylabel("seconds per round")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
