"""Hybrid detector: a supervised detector OR the benign-traffic autoencoder.

Supervised detectors recognise the attack types they were trained on; the ``anomaly`` detector
flags whatever looks unlike benign traffic, including attack types absent from training. The
hybrid raises an alert when either does, each at its own threshold chosen on training data only:

* the supervised detector (``supervised``, any registered name, ``lstm`` by default) with its own
  threshold (out-of-fold, attack types held out);
* the anomaly detector with a stricter false alarm budget (``anomaly_objective``, by default
  ``benign:0.01``: the score that 1 % of held-out benign training rows exceed), so the OR adds
  few false alarms.

The single score is ``max(g(s_sup, t_sup), g(s_anom, t_anom))`` where ``g`` maps a score in
[0, 1] piecewise linearly so that the component's threshold lands on 0.5; the hybrid's
threshold is 0.5, and ``score >= 0.5`` is exactly "one of the two fires". Parameters are the
concatenation of both components' (``supervised`` first).

Examples
--------
>>> rescale(np.array([0.0, 0.2, 0.6, 1.0]), 0.2).tolist()
[0.0, 0.5, 0.75, 1.0]
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

from swarmguard.detect.anomaly import AnomalyDetector
from swarmguard.detect.base import DETECTORS, Detector, FloatArray, SupportsParameters
from swarmguard.detect.persist import load_detector, save_detector
from swarmguard.records.dataset import LabeledTable

__all__ = ["HybridDetector", "rescale"]


def rescale(scores: FloatArray, threshold: float) -> FloatArray:
    """Map [0, 1] onto [0, 1] piecewise linearly, monotone, with ``threshold`` going to 0.5."""
    t = min(max(threshold, 1e-9), 1.0 - 1e-9)
    low = 0.5 * scores / t
    high = 0.5 + 0.5 * (scores - t) / (1.0 - t)
    return np.clip(np.where(scores < t, low, high), 0.0, 1.0)


class HybridDetector:
    """Alert when the supervised detector or the anomaly detector fires (see module docstring).

    Parameters
    ----------
    supervised
        Registered name of the supervised component.
    anomaly_objective
        Threshold objective of the anomaly component (``benign:X``, ``far:X``, ``youden``,
        ``f1``; see ``AnomalyDetector``).
    seed
        Seeds both components.
    """

    name: ClassVar[str] = "hybrid"

    def __init__(
        self, *, supervised: str = "lstm", anomaly_objective: str = "benign:0.01", seed: int = 0
    ) -> None:
        if supervised in ("hybrid", "anomaly"):
            raise ValueError("the supervised part of hybrid must be a supervised detector")
        self.supervised = supervised
        self.anomaly_objective = anomaly_objective
        self.seed = seed
        self.threshold = 0.5
        self._sup: Detector | None = None
        self._anomaly: AnomalyDetector | None = None

    def fit(self, train: LabeledTable) -> None:
        """Fit both components on ``train`` (each chooses its own threshold on it)."""
        sup = DETECTORS.get(self.supervised)(seed=self.seed)  # type: ignore[call-arg]
        sup.fit(train)
        anomaly = AnomalyDetector(seed=self.seed, threshold_objective=self.anomaly_objective)
        anomaly.fit(train)
        self._sup, self._anomaly = sup, anomaly

    def component_scores(self, rows: LabeledTable) -> tuple[FloatArray, FloatArray]:
        """The two components' scores, each rescaled so its threshold is 0.5."""
        if self._sup is None or self._anomaly is None:
            raise RuntimeError("HybridDetector.score called before fit or load")
        return (
            rescale(self._sup.score(rows), self._sup.threshold),
            rescale(self._anomaly.score(rows), self._anomaly.threshold),
        )

    def score(self, rows: LabeledTable) -> FloatArray:
        """``max`` of the rescaled component scores; ``>= 0.5`` means one of them fires."""
        sup, anomaly = self.component_scores(rows)
        return np.maximum(sup, anomaly)

    def _parts(self) -> tuple[SupportsParameters, SupportsParameters]:
        if self._sup is None or self._anomaly is None:
            raise RuntimeError("HybridDetector has no parameters before fit")
        if not isinstance(self._sup, SupportsParameters):
            raise TypeError(f"supervised detector {self.supervised} has no parameters")
        return self._sup, self._anomaly

    def get_parameters(self) -> list[npt.NDArray[np.float64]]:
        """Supervised component's parameters, then the autoencoder's."""
        sup, anomaly = self._parts()
        return [*sup.get_parameters(), *anomaly.get_parameters()]

    def set_parameters(self, parameters: list[npt.NDArray[np.float64]]) -> None:
        """Replace both components' parameters (same layout as ``get_parameters``)."""
        sup, anomaly = self._parts()
        k = len(sup.get_parameters())
        if len(parameters) != k + len(anomaly.get_parameters()):
            raise ValueError("parameter count does not match the hybrid's components")
        sup.set_parameters(parameters[:k])
        anomaly.set_parameters(parameters[k:])

    def save(self, path: Path) -> None:
        """Write both components and their thresholds to ``path``."""
        save_detector(self, self.name, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a detector written by ``save``."""
        obj = load_detector(path, cls.name)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} does not hold a {cls.__name__}")
        return obj
