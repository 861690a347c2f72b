"""A small real detector for federation tests: numpy logistic regression with the protocol.

A fake, not a mock: it learns (full-batch gradient descent on class-balanced log loss) and
implements ``prepare`` / ``train_epochs`` / ``choose_threshold`` / ``get_parameters`` /
``set_parameters`` like the deep detectors do.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from swarmguard.detect.threshold import choose_threshold
from swarmguard.features.stats import FeatureStats
from swarmguard.features.tabular import TabularPreprocessor
from swarmguard.records.dataset import LabeledTable


class LogRegDetector:
    name: ClassVar[str] = "fake-logreg"

    def __init__(self, *, seed: int = 0, lr: float = 0.5, steps_per_epoch: int = 5) -> None:
        self.seed = seed
        self.lr = lr
        self.steps_per_epoch = steps_per_epoch
        self.threshold = 0.5
        self._pre: TabularPreprocessor | None = None
        self.w = np.zeros(0)
        self.b = np.zeros(1)

    def prepare(self, stats: FeatureStats) -> None:
        self._pre = TabularPreprocessor.from_stats(stats, min_category_frequency=1)
        n = len(self._pre.feature_names())
        self.w = np.random.default_rng(self.seed).normal(0, 0.01, n)
        self.b = np.zeros(1)

    def _x(self, rows: LabeledTable) -> npt.NDArray[np.float64]:
        assert self._pre is not None
        return self._pre.transform(rows)

    def train_epochs(self, rows: LabeledTable, epochs: int) -> int:
        x = self._x(rows)
        y = rows.attack_mask().astype(np.float64)
        pos = max(y.mean(), 1e-6)
        sw = np.where(y > 0, 0.5 / pos, 0.5 / max(1 - pos, 1e-6))
        for _ in range(epochs * self.steps_per_epoch):
            p = 0.5 * (1 + np.tanh(0.5 * (x @ self.w + self.b[0])))
            g = sw * (p - y) / len(y)
            self.w = self.w - self.lr * (x.T @ g)
            self.b = self.b - self.lr * np.array([g.sum()])
        return rows.num_rows

    def choose_threshold(self, rows: LabeledTable) -> None:
        self.threshold = choose_threshold(self.score(rows), rows.attack_mask(), "youden")

    def score(self, rows: LabeledTable) -> npt.NDArray[np.float64]:
        return np.asarray(0.5 * (1 + np.tanh(0.5 * (self._x(rows) @ self.w + self.b[0]))))

    def fit(self, train: LabeledTable) -> None:
        self.prepare(FeatureStats.from_rows(train))
        self.train_epochs(train, 10)
        self.choose_threshold(train)

    def get_parameters(self) -> list[npt.NDArray[np.float64]]:
        return [self.w.copy(), self.b.copy()]

    def set_parameters(self, parameters: list[npt.NDArray[np.float64]]) -> None:
        w, b = parameters
        if w.shape != self.w.shape or b.shape != self.b.shape:
            raise ValueError("parameter shapes do not match the model")
        self.w, self.b = np.asarray(w, np.float64).copy(), np.asarray(b, np.float64).copy()

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self))

    @classmethod
    def load(cls, path: Path) -> Self:
        obj = pickle.loads(path.read_bytes())  # noqa: S301 - test fake, own files only
        assert isinstance(obj, cls)
        return obj


FAKE = "fakes:LogRegDetector"


def blobs(n: int, seed: int, shift: float = 3.0) -> LabeledTable:
    """Synthetic two-family rows for mechanics tests only (never for a quality claim)."""
    rng = np.random.default_rng(seed)
    fam = rng.choice(["benign", "dos", "probe"], size=n, p=[0.5, 0.25, 0.25])
    x1 = rng.normal(0, 1, n) + np.where(fam == "dos", shift, 0.0)
    x2 = rng.normal(0, 1, n) + np.where(fam == "probe", shift, 0.0)
    proto = rng.choice(["tcp", "udp"], size=n)
    t = pa.table(
        {
            "uid": [f"b:{i}" for i in range(n)],
            "x1": np.expm1(np.abs(x1)) * np.sign(x1),
            "x2": np.expm1(np.abs(x2)) * np.sign(x2),
            "proto": proto,
            "label": fam.tolist(),
            "label_original": fam.tolist(),
        }
    )
    return LabeledTable(t, "demo", ("x1", "x2"), ("proto",))
