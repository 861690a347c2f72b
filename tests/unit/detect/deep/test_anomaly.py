"""Anomaly detector: learns from benign rows only; scores rise with reconstruction error."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from swarmguard.detect.anomaly import AnomalyDetector
from swarmguard.records.dataset import LabeledTable

MIX = np.random.default_rng(7).normal(size=(2, 6))  # benign rows live on a 2-d plane in 6-d


def _table(x: np.ndarray, attack: np.ndarray) -> LabeledTable:
    table = pa.table(
        {
            "uid": [f"s:{i}" for i in range(len(x))],
            **{f"x{j}": x[:, j] for j in range(x.shape[1])},
            "label": np.where(attack, "dos", "benign").tolist(),
            "label_original": np.where(attack, "a", "normal").tolist(),
        }
    )
    return LabeledTable(table, "synthetic", tuple(f"x{j}" for j in range(x.shape[1])), ())


def _benign(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) @ MIX + 0.05 * rng.normal(size=(n, 6))


def _rows(seed: int, attack_scale: float, n: int = 400) -> LabeledTable:
    attack = np.random.default_rng(seed).normal(size=(n // 4, 6)) * attack_scale
    x = np.r_[_benign(n, 100), attack]
    return _table(x, np.r_[np.zeros(n, bool), np.ones(n // 4, bool)])


def test_attack_rows_do_not_shape_the_model() -> None:
    a, b = AnomalyDetector(seed=0), AnomalyDetector(seed=0)
    a.fit(_rows(1, attack_scale=3.0))
    b.fit(_rows(2, attack_scale=9.0))
    for pa_, pb in zip(a.get_parameters(), b.get_parameters(), strict=True):
        np.testing.assert_array_equal(pa_, pb)
    assert (a.center, a.spread) == (b.center, b.spread)


def test_unseen_kinds_of_attack_score_high() -> None:
    det = AnomalyDetector(seed=0)
    det.fit(_rows(1, attack_scale=4.0))
    # a different kind of attack: same spread as benign rows, but off the benign plane
    benign = _benign(300, 200)
    off_plane = np.random.default_rng(3).normal(size=(100, 6)) * benign.std(axis=0)
    test = _table(np.r_[benign, off_plane], np.r_[np.zeros(300, bool), np.ones(100, bool)])
    flagged = det.score(test) >= det.threshold
    assert flagged[300:].mean() > 0.8
    assert flagged[:300].mean() < 0.15


def test_score_is_monotone_in_the_error() -> None:
    det = AnomalyDetector(seed=0)
    rows = _rows(1, attack_scale=3.0)
    det.fit(rows)
    order = np.argsort(det._errors(det._features(rows)))
    assert (np.diff(det.score(rows)[order]) >= 0).all()
