"""The federated-learning protocol of the deep detectors (SupportsLocalTraining)."""

from __future__ import annotations

import numpy as np
import pytest

from swarmguard.detect.base import DETECTORS, SupportsLocalTraining, SupportsParameters
from swarmguard.detect.torch_train import TorchDetector
from swarmguard.features.stats import FeatureStats

from .synthetic import host_rows

NAMES = ["lstm", "gnn", "anomaly"]


def _new(name: str, seed: int = 0) -> TorchDetector:
    det = DETECTORS.get(name)(seed=seed, target_steps=30)  # type: ignore[call-arg]
    assert isinstance(det, TorchDetector)
    return det


@pytest.mark.parametrize("name", NAMES)
def test_implements_both_protocols(name: str) -> None:
    det = _new(name)
    assert isinstance(det, SupportsLocalTraining) and isinstance(det, SupportsParameters)
    with pytest.raises(RuntimeError, match="before prepare"):
        det.train_epochs(host_rows(0), 1)


@pytest.mark.parametrize("name", NAMES)
def test_prepare_is_seeded_and_agents_line_up(name: str) -> None:
    a_rows, b_rows = host_rows(0), host_rows(1)
    stats = FeatureStats.merge([FeatureStats.from_rows(a_rows), FeatureStats.from_rows(b_rows)])
    a, b, other = _new(name), _new(name), _new(name, seed=1)
    for det in (a, b, other):
        det.prepare(stats)
    for pa_, pb, po in zip(
        a.get_parameters(), b.get_parameters(), other.get_parameters(), strict=True
    ):
        np.testing.assert_array_equal(pa_, pb)
        assert pa_.dtype == np.float64 and pa_.shape == po.shape
    assert any(
        not np.array_equal(x, y)
        for x, y in zip(a.get_parameters(), other.get_parameters(), strict=True)
    )
    # agent a trains; agent b takes a's weights and scores exactly as a does
    used = a.train_epochs(a_rows, 2)
    expected = int((~a_rows.attack_mask()).sum()) if name == "anomaly" else a_rows.num_rows
    assert used == expected
    b.set_parameters(a.get_parameters())
    np.testing.assert_array_equal(a.score(b_rows), b.score(b_rows))


@pytest.mark.parametrize("name", NAMES)
def test_training_continues_from_the_current_parameters(name: str) -> None:
    rows = host_rows(0)
    det = _new(name)
    det.prepare(FeatureStats.from_rows(rows))
    start = det.get_parameters()
    assert det.train_epochs(rows, 0) == (
        int((~rows.attack_mask()).sum()) if name == "anomaly" else rows.num_rows
    )
    for x, y in zip(start, det.get_parameters(), strict=True):
        np.testing.assert_array_equal(x, y)
    det.train_epochs(rows, 1)
    moved = det.get_parameters()
    assert any(not np.array_equal(x, y) for x, y in zip(start, moved, strict=True))
    det.set_parameters(start)
    for x, y in zip(start, det.get_parameters(), strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="shape"):
        det.set_parameters([p[..., :1] if p.ndim else p for p in start])


@pytest.mark.parametrize("name", NAMES)
def test_choose_threshold_uses_the_given_rows(name: str) -> None:
    rows = host_rows(0)
    det = _new(name)
    det.prepare(FeatureStats.from_rows(rows))
    det.train_epochs(rows, 3)
    det.choose_threshold(rows)
    assert 0.0 < det.threshold < 1.0


@pytest.mark.parametrize("name", ["lstm", "gnn"])
def test_fit_is_prepare_train_and_threshold(name: str) -> None:
    rows = host_rows(0)
    central = DETECTORS.get(name)(seed=0, folds=0, epochs=3)  # type: ignore[call-arg]
    central.fit(rows)
    agent = DETECTORS.get(name)(seed=0, folds=0, epochs=3)  # type: ignore[call-arg]
    assert isinstance(agent, TorchDetector)
    agent.prepare(FeatureStats.from_rows(rows))
    agent.train_epochs(rows, 3)
    agent.choose_threshold(rows)
    np.testing.assert_array_equal(central.score(rows), agent.score(rows))
    assert central.threshold == agent.threshold
