"""GNN detector: flows of one window inform each other, other windows do not."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swarmguard.detect.gnn import GnnDetector
from swarmguard.records.dataset import LabeledTable

from .synthetic import auc, host_rows


def _shift(rows: LabeledTable, seconds: float, prefix: str) -> LabeledTable:
    table = rows.table
    ts = pc.add(table.column("ts"), pa.scalar(timedelta(seconds=seconds)))
    table = table.set_column(table.column_names.index("ts"), "ts", ts)
    uid = pc.binary_join_element_wise(prefix, table.column("uid"), "")
    table = table.set_column(table.column_names.index("uid"), "uid", uid)
    return LabeledTable(table, rows.format, rows.numeric_columns, rows.categorical_columns)


def test_graph_context_helps() -> None:
    train, test = host_rows(0), host_rows(1)
    attack = test.attack_mask()
    alone = GnnDetector(window_s=1e-6, folds=0, seed=0)  # every flow in a window of its own
    graph = GnnDetector(window_s=3600.0, folds=0, seed=0)
    alone.fit(train)
    graph.fit(train)
    assert auc(graph.score(test), attack) > 0.95
    assert auc(graph.score(test), attack) > auc(alone.score(test), attack) + 0.1


def test_other_windows_do_not_change_a_flows_score() -> None:
    rows = host_rows(0, hosts=8, flows=6)
    det = GnnDetector(window_s=600.0, folds=0, seed=0, target_steps=40)
    det.fit(rows)
    base = det.score(rows)
    later = _shift(host_rows(2, hosts=8, flows=6), 10 * 86400.0, "later-")
    both = LabeledTable.concat([rows, later])
    np.testing.assert_allclose(det.score(both)[: rows.num_rows], base, rtol=1e-5)
    # other hosts' flows to the same destinations in the same windows change neighbourhoods
    nearby = host_rows(3, hosts=8, flows=6)
    mixed = det.score(LabeledTable.concat([rows, later, nearby]))[: rows.num_rows]
    assert np.abs(mixed - base).max() > 1e-3
