"""One agent's side of federated training: its rows, its detector, its reports.

A ``FederatedSite`` is used both by the in-process simulation and by the Flower ClientApp, so the
logic is the same in both. Per round the site takes the global parameters, trains its detector
``epochs`` passes over its own rows, optionally applies the FedProx proximal step, and returns a
``ClientUpdate`` (parameters, rows used, its data-quality score, its importance).

``make_detector`` accepts a registered name (``lstm``) or a ``"module:Class"`` path.

Examples
--------
>>> make_detector("svm", 0)
Traceback (most recent call last):
...
ValueError: detector svm cannot be trained federatedly: it lacks prepare, train_epochs, ...
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol, runtime_checkable

from swarmguard.detect.base import (
    DETECTORS,
    Detector,
    SupportsLocalTraining,
    SupportsParameters,
)
from swarmguard.features.stats import FeatureStats
from swarmguard.federate.quality import quality_score
from swarmguard.federate.strategies.base import ClientUpdate, Parameters
from swarmguard.federate.strategies.weighted import proximal_step
from swarmguard.records.dataset import LabeledTable

__all__ = ["FederatedDetector", "FederatedSite", "make_detector"]

log = logging.getLogger(__name__)

_NEEDED = ("prepare", "train_epochs", "choose_threshold", "get_parameters", "set_parameters")


@runtime_checkable
class FederatedDetector(Detector, SupportsParameters, SupportsLocalTraining, Protocol):
    """A detector with everything federated training needs."""


def make_detector(name: str, seed: int) -> FederatedDetector:
    """Construct detector ``name`` (registered name or ``module:Class``) seeded with ``seed``.

    Raises
    ------
    ValueError
        If the detector cannot be trained federatedly.
    """
    if ":" in name:
        module, _, attr = name.partition(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        cls = DETECTORS.get(name)
    det = cls(seed=seed)
    missing = [m for m in _NEEDED if not callable(getattr(det, m, None))]
    if missing:
        raise ValueError(
            f"detector {name} cannot be trained federatedly: it lacks {', '.join(missing)}"
        )
    if not isinstance(det, FederatedDetector):
        raise ValueError(f"detector {name} does not implement the Detector protocol")
    return det


class FederatedSite:
    """An agent in federated training.

    Parameters
    ----------
    site_id
        Name of the agent.
    rows
        The agent's own training rows (never leave the site).
    detector
        A fresh detector from ``make_detector`` (same name and seed on every site).
    importance
        The operator's importance for this site (aggregation weight factor).
    proximal_mu
        FedProx coefficient (0 = FedAvg).
    """

    def __init__(
        self,
        site_id: str,
        rows: LabeledTable,
        detector: FederatedDetector,
        *,
        importance: float = 1.0,
        proximal_mu: float = 0.0,
    ) -> None:
        self.site_id = site_id
        self.rows = rows
        self.detector = detector
        self.importance = importance
        self.proximal_mu = proximal_mu
        self._quality: float | None = None

    def stats(self) -> FeatureStats:
        """The site's feature statistics (counts and sums only) for federated standardisation."""
        return FeatureStats.from_rows(self.rows)

    @property
    def quality(self) -> float:
        """The site's data-quality score (``swarmguard.federate.quality``), computed once."""
        if self._quality is None:
            self._quality = quality_score(self.rows)
        return self._quality

    def prepare(self, stats: FeatureStats) -> Parameters:
        """Fix preprocessing from the aggregated ``stats``; return the initial parameters."""
        self.detector.prepare(stats)
        return self.detector.get_parameters()

    def fit_round(self, global_params: Parameters, epochs: int) -> ClientUpdate:
        """Train ``epochs`` passes from ``global_params`` on the site's rows."""
        self.detector.set_parameters(global_params)
        used = self.detector.train_epochs(self.rows, epochs)
        params = self.detector.get_parameters()
        if self.proximal_mu > 0:
            params = proximal_step(params, global_params, self.proximal_mu)
        return ClientUpdate(
            client_id=self.site_id,
            parameters=params,
            num_samples=int(used),
            quality=self.quality,
            importance=self.importance,
        )

    def threshold(self, global_params: Parameters) -> float:
        """The decision threshold the global model gets on this site's own rows."""
        self.detector.set_parameters(global_params)
        try:
            self.detector.choose_threshold(self.rows)
        except ValueError as exc:
            log.warning(
                "site %s keeps threshold %.3f: %s", self.site_id, self.detector.threshold, exc
            )
        return float(self.detector.threshold)
