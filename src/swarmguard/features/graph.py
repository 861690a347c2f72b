"""Flow graphs per time window: hosts as nodes, flows as edges (the GNN detector's input).

Time is cut into fixed windows of ``window_s`` seconds, aligned to the epoch (so a flow's window
does not depend on which other rows are in the batch). In each window, every address seen as
``src_ip`` or ``dest_ip`` is one node and every flow is one directed edge from its source to its
destination; edge ``i`` is row ``i``. Windows are disjoint components of one graph, so a batch of
whole windows is an exact subgraph.

Rows without addresses or a timestamp, and tables without such columns at all (NSL-KDD, the
UNSW-NB15 partition files), become isolated edges: each such row gets its own window with two
nodes of its own, so a graph model sees only that flow's features there.

Examples
--------
>>> import pyarrow as pa
>>> from datetime import datetime, UTC
>>> from swarmguard.records.dataset import LabeledTable
>>> ts = [datetime(2017, 7, 7, 12, 0, s, tzinfo=UTC) for s in (1, 2, 3)]
>>> t = pa.table({"uid": list("abc"), "ts": ts, "src_ip": ["h1", "h1", "h2"],
...               "dest_ip": ["h2", "h3", "h1"], "label": ["benign"] * 3,
...               "label_original": ["n"] * 3})
>>> g = flow_graph(LabeledTable(t, "demo", (), ()), window_s=60.0)
>>> g.num_nodes, g.edge_index.tolist(), g.window.tolist()
(3, [[0, 0, 1], [1, 2, 0]], [0, 0, 0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swarmguard.features.windows import timestamps_us
from swarmguard.records.dataset import LabeledTable

__all__ = ["FlowGraph", "flow_graph"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FlowGraph:
    """A directed multigraph of flows; edge ``i`` is row ``i`` of the table it was built from.

    Attributes
    ----------
    edge_index
        ``(2, rows)`` source and destination node of each edge.
    num_nodes
        Number of nodes (a host in one window is one node).
    window
        Window number of each edge, ``0 .. windows - 1``, ordered by time; isolated edges come
        after the timed windows.
    """

    edge_index: IntArray
    num_nodes: int
    window: IntArray

    @property
    def num_edges(self) -> int:
        """Number of edges (rows)."""
        return int(self.edge_index.shape[1])

    def subgraph(self, edges: IntArray) -> tuple[IntArray, int]:
        """Edge index (renumbered nodes) and node count of the graph made of ``edges`` only.

        Examples
        --------
        >>> g = FlowGraph(np.array([[0, 2], [1, 3]]), 4, np.array([0, 1]))
        >>> g.subgraph(np.array([1]))
        (array([[0],
               [1]]), 2)
        """
        nodes, inverse = np.unique(self.edge_index[:, edges], return_inverse=True)
        return inverse.reshape(2, -1).astype(np.int64), int(nodes.size)


def flow_graph(
    rows: LabeledTable,
    *,
    window_s: float = 60.0,
    src_column: str = "src_ip",
    dest_column: str = "dest_ip",
) -> FlowGraph:
    """Build the flow graph of ``rows`` with one component per ``window_s``-second window."""
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    n = rows.num_rows
    ts, ts_ok = timestamps_us(rows)
    src = np.full(n, -1, dtype=np.int64)
    dst = np.full(n, -1, dtype=np.int64)
    table = rows.table
    if src_column in table.column_names and dest_column in table.column_names:
        # Addresses from both columns share one code space.
        src_values = table.column(src_column).to_pylist()
        dst_values = table.column(dest_column).to_pylist()
        vocab = np.unique(np.asarray([str(v) for v in (*src_values, *dst_values) if v is not None]))
        src = _recode(src_values, vocab)
        dst = _recode(dst_values, vocab)
    ok = ts_ok & (src >= 0) & (dst >= 0)
    window_raw = np.where(ok, ts // int(window_s * 1e6), 0)
    timed_windows, window = np.unique(window_raw[ok], return_inverse=True)
    win = np.empty(n, dtype=np.int64)
    win[ok] = window
    n_timed = int(timed_windows.size)
    win[~ok] = n_timed + np.arange(int((~ok).sum()), dtype=np.int64)
    n_hosts = int(max(src.max(initial=-1), dst.max(initial=-1)) + 1)
    src_key = np.where(ok, win * max(n_hosts, 1) + src, -1)
    dst_key = np.where(ok, win * max(n_hosts, 1) + dst, -1)
    keys, inverse = np.unique(np.r_[src_key[ok], dst_key[ok]], return_inverse=True)
    edge_index = np.empty((2, n), dtype=np.int64)
    m = int(ok.sum())
    edge_index[0, ok] = inverse[:m]
    edge_index[1, ok] = inverse[m:]
    lone = np.flatnonzero(~ok)
    base = int(keys.size)
    edge_index[0, lone] = base + 2 * np.arange(lone.size)
    edge_index[1, lone] = base + 2 * np.arange(lone.size) + 1
    return FlowGraph(edge_index=edge_index, num_nodes=base + 2 * int(lone.size), window=win)


def _recode(values: list[object], vocab: npt.NDArray[np.str_]) -> IntArray:
    """Position of each value in the sorted ``vocab`` (-1 for null)."""
    out = np.full(len(values), -1, dtype=np.int64)
    present = np.array([v is not None for v in values], dtype=np.bool_)
    if present.any():
        strings = np.asarray([str(v) for v in values if v is not None])
        out[present] = np.searchsorted(vocab, strings)
    return out
