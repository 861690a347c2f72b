"""The deep detectors on real public data (UNSW-NB15 sample, CIC-IDS2017 files), random splits.

Loose bars well below the figures in docs/deep-detectors.md: these catch a detector that stopped
learning, not small changes in quality. Thresholds are chosen on training rows only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from swarmguard.acquire.datasets import load_dataset
from swarmguard.detect.base import DETECTORS
from swarmguard.eval.metrics import detection_metrics
from swarmguard.eval.splits import split_rows
from swarmguard.records.dataset import LabeledTable


def _split(rows: LabeledTable) -> tuple[LabeledTable, LabeledTable]:
    s = split_rows(rows, by="random", test_fraction=0.3, seed=0)
    return rows.take(s.train), rows.take(s.test)


@pytest.fixture(scope="module")
def unsw(datasets_dir: Path) -> tuple[LabeledTable, LabeledTable]:
    return _split(load_dataset(datasets_dir / "unsw-nb15" / "UNSW_NB15_sample.csv"))


@pytest.mark.parametrize("name", ["lstm", "gnn"])
def test_supervised_deep_detectors_learn_unsw(
    name: str, unsw: tuple[LabeledTable, LabeledTable]
) -> None:
    train, test = unsw
    det = DETECTORS.get(name)(seed=0)  # type: ignore[call-arg]
    det.fit(train)
    m = detection_metrics(test.attack_mask(), det.score(test) >= det.threshold)
    assert m.f1 > 0.85 and m.false_alarm_rate < 0.15


def test_anomaly_detector_ranks_unsw_attacks_it_never_trained_on(
    unsw: tuple[LabeledTable, LabeledTable],
) -> None:
    train, test = unsw
    det = DETECTORS.get("anomaly")(seed=0)  # type: ignore[call-arg]
    det.fit(train)
    scores = det.score(test)
    attack = test.attack_mask()
    assert roc_auc_score(attack, scores) > 0.75
    # the threshold is a 2 % false alarm budget on held-out benign training rows
    m = detection_metrics(attack, scores >= det.threshold)
    assert m.false_alarm_rate < 0.06


def test_lstm_on_cic_ids2017_host_windows(datasets_dir: Path) -> None:
    folder = datasets_dir / "cic-ids2017"
    files = ["BENIGN_2500.csv", "Botnet_736.csv", "SSH-Patator_2500.csv"]
    rows = LabeledTable.concat([load_dataset(folder / f) for f in files])
    train, test = _split(rows)
    det = DETECTORS.get("lstm")(seed=0, folds=0)  # type: ignore[call-arg]
    det.fit(train)
    flagged = det.score(test) >= det.threshold
    m = detection_metrics(test.attack_mask(), flagged)
    assert m.f1 > 0.9
    assert np.isfinite(det.score(test.take([0]))).all()
