"""Flow graphs per time window: nodes, edges, windows, isolated-edge fallback, real data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from swarmguard.acquire.datasets import load_dataset
from swarmguard.features.graph import FlowGraph, flow_graph
from swarmguard.records.dataset import LabeledTable

T0 = datetime(2017, 7, 7, 12, 0, tzinfo=UTC)


def _rows(flows: list[tuple[float | None, str | None, str | None]]) -> LabeledTable:
    n = len(flows)
    table = pa.table(
        {
            "uid": [f"f:{i + 1}" for i in range(n)],
            "ts": pa.array(
                [None if s is None else T0 + timedelta(seconds=s) for s, _, _ in flows],
                type=pa.timestamp("us", tz="UTC"),
            ),
            "src_ip": pa.array([a for _, a, _ in flows], type=pa.string()),
            "dest_ip": pa.array([b for _, _, b in flows], type=pa.string()),
            "label": ["benign"] * n,
            "label_original": ["normal"] * n,
        }
    )
    return LabeledTable(table, "demo", (), ())


def test_one_node_per_address_per_window() -> None:
    rows = _rows([(1, "a", "b"), (2, "b", "c"), (70, "a", "b"), (3, "c", "a")])
    g = flow_graph(rows, window_s=60)
    assert g.window.tolist() == [0, 0, 1, 0]
    # window 0 has a, b, c; window 1 has its own a and b
    assert g.num_nodes == 5
    src, dst = g.edge_index
    assert dst[0] == src[1]  # b is one node in window 0, as destination and as source
    assert src[3] == dst[1] and dst[3] == src[0]
    assert src[2] not in (src[0], dst[0], src[1], dst[1])


def test_windows_do_not_depend_on_the_other_rows() -> None:
    flows = [(float(s), "a", "b") for s in (10, 50, 70, 130, 170)]
    whole = flow_graph(_rows(flows), window_s=60).window
    part = flow_graph(_rows(flows[2:]), window_s=60).window
    same_window = whole[2:, None] == whole[None, 2:]
    np.testing.assert_array_equal(same_window, part[:, None] == part[None, :])


def test_rows_without_addresses_or_time_are_isolated_edges() -> None:
    rows = _rows([(1, "a", "b"), (None, "a", "b"), (2, None, "b"), (3, "a", "b")])
    g = flow_graph(rows, window_s=60)
    src, dst = g.edge_index
    assert src[0] == src[3] and dst[0] == dst[3]
    lone = {int(src[1]), int(dst[1]), int(src[2]), int(dst[2])}
    assert len(lone) == 4 and not lone & {int(src[0]), int(dst[0])}
    assert len({int(g.window[1]), int(g.window[2]), int(g.window[0])}) == 3


def test_datasets_without_hosts_give_isolated_edges() -> None:
    table = pa.table({"uid": ["a", "b"], "label": ["benign"] * 2, "label_original": ["n"] * 2})
    g = flow_graph(LabeledTable(table, "nsl-kdd", (), ()))
    assert g.edge_index.tolist() == [[0, 2], [1, 3]] and g.num_nodes == 4
    with pytest.raises(ValueError, match="positive"):
        flow_graph(LabeledTable(table, "nsl-kdd", (), ()), window_s=0)


def test_subgraph_renumbers_nodes() -> None:
    g = FlowGraph(np.array([[0, 5, 5], [5, 7, 0]]), 8, np.zeros(3, dtype=np.int64))
    edge_index, n = g.subgraph(np.array([1, 2]))
    assert n == 3 and edge_index.tolist() == [[1, 1], [2, 0]]


def test_real_cic_ids2017_graph(datasets_dir: Path) -> None:
    rows = load_dataset(datasets_dir / "cic-ids2017" / "Portscan_2500.csv")
    g = flow_graph(rows, window_s=60)
    assert g.num_edges == rows.num_rows
    sizes = np.bincount(g.window)
    # a port scan: many flows from one scanner per minute, so windows hold many edges
    assert np.median(sizes[g.window]) > 10
    assert g.num_nodes < rows.num_rows
