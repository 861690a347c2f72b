"""The Detector protocol: what every learned or rule-based detector over rows implements.

A detector takes rows as a ``LabeledTable`` (a dataset's columns, or flows mapped to them) and
returns one attack score in [0, 1] per row. ``threshold`` turns scores into alerts; it is chosen
on training data only. Detectors with learned weights also implement ``SupportsParameters`` so
they can be trained federatedly.

Examples
--------
>>> from swarmguard.detect.base import DETECTORS
>>> "svm" in DETECTORS.names()
True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from swarmguard.records.dataset import LabeledTable
from swarmguard.registry import Registry

if TYPE_CHECKING:
    from swarmguard.features.stats import FeatureStats

__all__ = [
    "DETECTORS",
    "Detector",
    "FloatArray",
    "SupportsLocalTraining",
    "SupportsParameters",
]

FloatArray = npt.NDArray[np.float64]


@runtime_checkable
class Detector(Protocol):
    """Scores rows; fitted on labelled training rows; saved and loaded as one file."""

    name: ClassVar[str]
    threshold: float

    def fit(self, train: LabeledTable) -> None:
        """Learn from labelled rows (and choose ``threshold`` on them only)."""
        ...

    def score(self, rows: LabeledTable) -> FloatArray:
        """Return one attack score in [0, 1] per row."""
        ...

    def save(self, path: Path) -> None:
        """Write the fitted detector (model, preprocessing, threshold) to ``path``."""
        ...

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a detector written by ``save``."""
        ...


@runtime_checkable
class SupportsParameters(Protocol):
    """A detector whose learned weights can be exchanged (federated learning)."""

    def get_parameters(self) -> list[npt.NDArray[np.float64]]:
        """Return the learned weights as a list of arrays."""
        ...

    def set_parameters(self, parameters: list[npt.NDArray[np.float64]]) -> None:
        """Replace the learned weights with ``parameters`` (same shapes as returned)."""
        ...


@runtime_checkable
class SupportsLocalTraining(Protocol):
    """A detector that trains in rounds from its current parameters (federated learning).

    Every agent calls ``prepare`` with the same aggregated ``FeatureStats`` (and seed), so all
    agents share one preprocessing and their parameter arrays line up; ``train_epochs`` continues
    from the current parameters (set by ``set_parameters``); ``choose_threshold`` picks the
    decision threshold on the given training rows only.
    """

    def prepare(self, stats: FeatureStats) -> None:
        """Fix preprocessing from ``stats`` and initialise the model (seeded), without training."""
        ...

    def train_epochs(self, rows: LabeledTable, epochs: int) -> int:
        """Train ``epochs`` passes over ``rows`` from the current weights; return rows used."""
        ...

    def choose_threshold(self, rows: LabeledTable) -> None:
        """Set ``threshold`` from scores on these (training) rows."""
        ...


DETECTORS: Registry[Detector] = Registry("detector", "swarmguard.detectors")
DETECTORS.add("svm", "swarmguard.detect.svm:SvmDetector")
DETECTORS.add("svm-linear", "swarmguard.detect.svm:LinearSvmDetector")
DETECTORS.add("rules", "swarmguard.detect.rules.flowrules:FlowRuleDetector")
DETECTORS.add("lstm", "swarmguard.detect.lstm:LstmDetector", extra="deep")
DETECTORS.add("gnn", "swarmguard.detect.gnn:GnnDetector", extra="deep")
DETECTORS.add("anomaly", "swarmguard.detect.anomaly:AnomalyDetector", extra="deep")
DETECTORS.add("hybrid", "swarmguard.detect.hybrid:HybridDetector", extra="deep")
DETECTORS.add("ueba", "swarmguard.detect.ueba:UebaDetector")
