"""LSTM detector: windows carry context, padding is a no-op, scoring uses only the given rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from swarmguard.detect.lstm import FlowLstm, LstmDetector
from swarmguard.records.dataset import LabeledTable

from .synthetic import auc, host_rows


def test_padding_steps_change_nothing() -> None:
    torch.manual_seed(0)
    model = FlowLstm(3, 8, 2)
    steps = torch.randn(5, 2, 4)
    steps[:, :, -1] = 1.0
    padded = torch.cat([torch.zeros(5, 3, 4), steps], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(steps), model(padded))


def test_windows_of_the_same_host_help() -> None:
    train, test = host_rows(0), host_rows(1)
    attack = test.attack_mask()
    alone = LstmDetector(window=1, folds=0, seed=0)
    context = LstmDetector(window=8, folds=0, seed=0)
    alone.fit(train)
    context.fit(train)
    auc_alone = auc(alone.score(test), attack)
    auc_context = auc(context.score(test), attack)
    assert auc_context > 0.95
    assert auc_context > auc_alone + 0.1


def test_a_row_is_scored_from_its_own_host_only() -> None:
    det = LstmDetector(window=4, folds=0, seed=0, target_steps=50)
    rows = host_rows(0, hosts=6, flows=6)
    det.fit(rows)
    scores = det.score(rows)
    src = np.asarray(rows.table.column("src_ip").to_pylist())
    host = src[0]
    same = np.flatnonzero(src == host)
    # scoring one host's rows alone gives the same scores as scoring them among everyone's
    np.testing.assert_allclose(det.score(rows.take(same)), scores[same], rtol=1e-6)


def test_datasets_without_hosts_score_each_row_alone() -> None:
    rng = np.random.default_rng(0)
    n = 200
    attack = rng.random(n) < 0.5
    table = pa.table(
        {
            "uid": [f"k:{i}" for i in range(n)],
            "x": np.where(attack, rng.normal(3, 1, n), rng.normal(0, 1, n)),
            "label": np.where(attack, "dos", "benign").tolist(),
            "label_original": np.where(attack, "smurf", "normal").tolist(),
        }
    )
    rows = LabeledTable(table, "nsl-kdd", ("x",), ())
    det = LstmDetector(folds=0, seed=0)
    det.fit(rows)
    full = det.score(rows)
    singles = np.array([det.score(rows.take([i]))[0] for i in range(0, n, 20)])
    np.testing.assert_allclose(singles, full[::20], rtol=1e-6)
