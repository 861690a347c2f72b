"""Graph neural network detector: an E-GraphSAGE-style edge classifier on the flow graph.

The rows are turned into a flow graph per time window (``swarmguard.features.graph``): hosts
are nodes, flows are directed edges carrying the flow's preprocessed features. Following
E-GraphSAGE (W. W. Lo, S. Layeghy, M. Sarhan, M. Gallagher, M. Portmann, "E-GraphSAGE: A Graph
Neural Network based Intrusion Detection System for IoT", IEEE/IFIP NOMS 2022), nodes start from
a constant vector and learn their embedding by aggregating the features of the flows they take
part in; each flow is then classified from the embeddings of its two end points.

Layer ``k`` of ``K``::

    m_v   = mean over flows e = (u, v) or (v, u) of [h_u^(k-1) || x_e]
    h_v^k = ReLU(W_k [h_v^(k-1) || m_v])

and the flow's logit is ``MLP([h_src^K || h_dst^K || x_e])``. Two departures from the paper,
both small: messages carry the neighbour's embedding besides the edge's features (so two layers
see two hops, as in GraphSAGE), and the classifier also reads the flow's own features (a skip
connection). Training is full-graph per batch of whole windows (windows are disjoint
components, so a batch is an exact subgraph; PyTorch Geometric's neighbour sampler is not used),
with class-balanced binary cross-entropy and Adam. Aggregation uses
``torch_geometric.utils.scatter``.

Datasets without addresses and timestamps (NSL-KDD, the UNSW-NB15 partition files) give a graph
of isolated edges: every flow's end points see only that flow, so the model reduces to an MLP
over the flow's features (with the same weights and training). The figures in
``docs/deep-detectors.md`` say so beside those datasets.

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, 1, 200), rng.normal(4, 1, 200)]
>>> t = pa.table({"uid": [str(i) for i in range(400)], "x": x,
...               "label": ["benign"] * 200 + ["dos"] * 200,
...               "label_original": ["normal"] * 200 + ["a"] * 100 + ["b"] * 100})
>>> rows = LabeledTable(t, "demo", numeric_columns=("x",), categorical_columns=())
>>> det = GnnDetector(seed=0, folds=0, hidden=16)
>>> det.fit(rows)
>>> s = det.score(rows)
>>> bool(s[:200].mean() < 0.2 and s[200:].mean() > 0.8)
True
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from swarmguard.detect.base import FloatArray
from swarmguard.detect.torch_train import (
    TorchDetector,
    balanced_bce,
    class_weight,
    optimiser_step,
)
from swarmguard.features.graph import FlowGraph, flow_graph
from swarmguard.records.dataset import LabeledTable

with warnings.catch_warnings():
    # torch_geometric 2.8 calls torch.jit.script while importing, which torch 2.13 deprecates.
    warnings.filterwarnings(
        "ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning
    )
    from torch_geometric.utils import scatter

__all__ = ["EdgeSage", "GnnDetector"]


class EdgeSage(nn.Module):
    """E-GraphSAGE-style edge classifier (see the module docstring)."""

    def __init__(self, n_features: int, hidden: int, layers: int) -> None:
        super().__init__()
        dims = [1] + [hidden] * layers
        self.layers = nn.ModuleList(
            nn.Linear(dims[k] + dims[k] + n_features, dims[k + 1]) for k in range(layers)
        )
        self.head = nn.Sequential(
            nn.Linear(2 * dims[-1] + n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
        """One logit per edge; ``x`` is ``(edges, n_features)``, ``edge_index`` ``(2, edges)``."""
        src, dst = edge_index[0], edge_index[1]
        # Every flow is a message to both of its end points, from the other end point.
        receiver = torch.cat([dst, src])
        sender = torch.cat([src, dst])
        x_twice = torch.cat([x, x])
        h = torch.ones(num_nodes, 1, dtype=x.dtype)
        for layer in self.layers:
            msg = torch.cat([h[sender], x_twice], dim=1)
            agg = scatter(msg, receiver, dim=0, dim_size=num_nodes, reduce="mean")
            h = torch.relu(layer(torch.cat([h, agg], dim=1)))
        logits: torch.Tensor = self.head(torch.cat([h[src], h[dst], x], dim=1)).squeeze(-1)
        return logits


def window_batches(
    graph: FlowGraph, edges_per_batch: int, rng: np.random.Generator
) -> list[npt.NDArray[np.int64]]:
    """Shuffle the windows and pack whole windows into batches of about ``edges_per_batch``.

    Examples
    --------
    >>> g = FlowGraph(np.zeros((2, 5), dtype=np.int64), 1, np.array([0, 0, 1, 2, 2]))
    >>> sorted(sorted(b.tolist()) for b in window_batches(g, 2, np.random.default_rng(0)))
    [[0, 1], [2], [3, 4]]
    """
    order = np.argsort(graph.window, kind="stable").astype(np.int64)
    counts = np.bincount(graph.window)
    starts = np.r_[0, np.cumsum(counts)]
    batches: list[npt.NDArray[np.int64]] = []
    current: list[npt.NDArray[np.int64]] = []
    size = 0
    for w in rng.permutation(counts.size):
        if counts[w] == 0:
            continue
        current.append(order[starts[w] : starts[w + 1]])
        size += int(counts[w])
        if size >= edges_per_batch:
            batches.append(np.concatenate(current))
            current, size = [], 0
    if current:
        batches.append(np.concatenate(current))
    return batches


class GnnDetector(TorchDetector):
    """E-GraphSAGE-style flow classifier on per-window flow graphs (see the module docstring).

    Parameters
    ----------
    window_s
        Length of the time windows the flow graph is cut into.
    hidden
        Width of node embeddings and of the classifier.
    layers
        Message-passing layers (hops).
    batch_size
        Edges per optimiser step (whole windows are packed up to about this many).
    **kwargs
        Training budget, threshold and seed: see ``TorchDetector``.
    """

    name: ClassVar[str] = "gnn"

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        hidden: int = 48,
        layers: int = 2,
        batch_size: int = 512,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed=seed, batch_size=batch_size, **kwargs)
        self.window_s = window_s
        self.hidden = hidden
        self.layers = layers

    def _build(self, n_features: int) -> nn.Module:
        return EdgeSage(n_features, self.hidden, self.layers)

    def _train(self, rows: LabeledTable, x: FloatArray, epochs: int | None) -> int:
        assert self._model is not None
        graph = flow_graph(rows, window_s=self.window_s)
        xt = torch.from_numpy(x.astype(np.float32))
        y_np = rows.attack_mask()
        y = torch.from_numpy(y_np.astype(np.float32))
        pos_weight = class_weight(y_np)
        opt = torch.optim.Adam(self._model.parameters(), lr=self.learning_rate)
        rng = self._rng()
        self._model.train()
        for _ in range(self._epochs_for(rows.num_rows, epochs)):
            for batch in window_batches(graph, self.batch_size, rng):
                edge_index, num_nodes = graph.subgraph(batch)
                b = torch.from_numpy(batch)
                logits = self._model(xt[b], torch.from_numpy(edge_index), num_nodes)
                optimiser_step(opt, balanced_bce(logits, y[b], pos_weight))
        return rows.num_rows

    def _predict(self, rows: LabeledTable, x: FloatArray) -> FloatArray:
        assert self._model is not None
        graph = flow_graph(rows, window_s=self.window_s)
        logits = self._model(
            torch.from_numpy(x.astype(np.float32)),
            torch.from_numpy(graph.edge_index),
            graph.num_nodes,
        )
        return torch.sigmoid(logits).numpy().astype(np.float64)
