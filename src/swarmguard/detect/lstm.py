"""LSTM detector over time-ordered windows of flows per host.

Each row is scored from its window (``swarmguard.features.windows.host_windows``): the same
source host's previous ``window - 1`` flows in time order, then the row itself. Every flow in the
window becomes a feature vector (the dataset's columns, preprocessed and standardised, plus a 1
marking a real step; padding steps are all zero), goes through a linear embedding and an LSTM
(Hochreiter & Schmidhuber, "Long short-term memory", Neural Computation 1997); the last hidden
state gives the attack probability of the last flow. Training minimises class-balanced binary
cross-entropy with Adam; labels of earlier flows are never inputs, only their features.

What the model sees depends on the data:

* CIC-IDS2017 and metered captures have ``ts`` and ``src_ip``: real per-host sequences.
* NSL-KDD and the UNSW-NB15 partition files have neither hosts nor timestamps: every window holds
  the row alone (a sequence of length one), so the LSTM is a gated one-step network over the
  row's features. File order is *not* used as a stand-in for time: in those files it is not
  traffic order, and after a random split neighbouring rows are unrelated. (Their own
  "time-based" columns, such as NSL-KDD's ``count`` and ``srv_count``, still carry a window's
  worth of context inside each row.)

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
>>> det = LstmDetector(seed=0, folds=0, hidden=16)
>>> det.fit(rows)
>>> s = det.score(rows)
>>> bool(s[:200].mean() < 0.2 and s[200:].mean() > 0.8)
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from swarmguard.detect.base import FloatArray
from swarmguard.detect.torch_train import (
    TorchDetector,
    balanced_bce,
    class_weight,
    minibatches,
    optimiser_step,
)
from swarmguard.features.windows import host_windows
from swarmguard.records.dataset import LabeledTable

__all__ = ["FlowLstm", "LstmDetector"]

_SCORE_BATCH = 4096


class FlowLstm(nn.Module):
    """Embedding, LSTM, linear head: a window of flow vectors in, one logit out.

    Padding steps (flag 0) leave the LSTM state untouched, so a window padded with any number of
    empty steps gives the same logit as the bare window.
    """

    def __init__(self, n_features: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features + 1, hidden)
        self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(layers))
        self.head = nn.Linear(hidden, 1)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Logits of the last step, ``seq`` shaped ``(batch, window, n_features + 1)``."""
        batch, steps, _ = seq.shape
        inputs = torch.relu(self.embed(seq))
        present = seq[:, :, -1:]
        zeros = inputs.new_zeros(batch, inputs.shape[-1])
        state = [(zeros, zeros) for _ in self.cells]
        for t in range(steps):
            keep = present[:, t]
            h_in = inputs[:, t]
            for i, cell in enumerate(self.cells):
                h, c = cell(h_in, state[i])
                h = keep * h + (1 - keep) * state[i][0]
                c = keep * c + (1 - keep) * state[i][1]
                state[i] = (h, c)
                h_in = h
        logits: torch.Tensor = self.head(state[-1][0]).squeeze(-1)
        return logits


def _step_table(x: FloatArray) -> torch.Tensor:
    """Per-row step vectors with a "present" flag, plus one all-zero padding row at the end."""
    steps = np.zeros((x.shape[0] + 1, x.shape[1] + 1), dtype=np.float32)
    steps[:-1, :-1] = x
    steps[:-1, -1] = 1.0
    return torch.from_numpy(steps)


class LstmDetector(TorchDetector):
    """LSTM over each row's per-host window of flows (see the module docstring).

    Parameters
    ----------
    window
        Flows per window, the scored row included.
    hidden
        Width of the embedding and of the LSTM state.
    layers
        Stacked LSTM layers.
    horizon_s
        Only earlier flows at most this many seconds old join a window (``None``: any age).
    **kwargs
        Training budget, threshold and seed: see ``TorchDetector``.
    """

    name: ClassVar[str] = "lstm"

    def __init__(
        self,
        *,
        window: int = 8,
        hidden: int = 48,
        layers: int = 1,
        horizon_s: float | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed=seed, **kwargs)
        self.window = window
        self.hidden = hidden
        self.layers = layers
        self.horizon_s = horizon_s

    def _build(self, n_features: int) -> nn.Module:
        return FlowLstm(n_features, self.hidden, self.layers)

    def _windows(self, rows: LabeledTable) -> torch.Tensor:
        win = host_windows(rows, self.window, horizon_s=self.horizon_s)
        # Columns that are padding in every window change nothing (see FlowLstm): drop them.
        used = np.flatnonzero((win >= 0).any(axis=0))
        win = win[:, used[0] :] if used.size else win[:, -1:]
        win[win < 0] = rows.num_rows  # the padding row of _step_table
        return torch.from_numpy(np.ascontiguousarray(win))

    def _train(self, rows: LabeledTable, x: FloatArray, epochs: int | None) -> int:
        assert self._model is not None
        steps = _step_table(x)
        win = self._windows(rows)
        y_np = rows.attack_mask()
        y = torch.from_numpy(y_np.astype(np.float32))
        pos_weight = class_weight(y_np)
        opt = torch.optim.Adam(self._model.parameters(), lr=self.learning_rate)
        rng = self._rng()
        self._model.train()
        for _ in range(self._epochs_for(rows.num_rows, epochs)):
            for batch in minibatches(rows.num_rows, self.batch_size, rng):
                b = torch.from_numpy(batch)
                loss = balanced_bce(self._model(steps[win[b]]), y[b], pos_weight)
                optimiser_step(opt, loss)
        return rows.num_rows

    def _predict(self, rows: LabeledTable, x: FloatArray) -> FloatArray:
        assert self._model is not None
        steps = _step_table(x)
        win = self._windows(rows)
        parts = [
            torch.sigmoid(self._model(steps[win[i : i + _SCORE_BATCH]])).numpy()
            for i in range(0, rows.num_rows, _SCORE_BATCH)
        ]
        return np.concatenate(parts).astype(np.float64)
