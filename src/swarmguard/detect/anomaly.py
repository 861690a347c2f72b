"""Anomaly detector for attacks never seen in training: an autoencoder of benign traffic.

The network learns to reconstruct *benign* rows only (their preprocessed, standardised features);
an attack of any type, known or not, is scored by how badly it is reconstructed (Sakurada & Yairi,
"Anomaly detection using autoencoders with nonlinear dimensionality reduction", MLSDA 2014;
Mirsky et al., "Kitsune", NDSS 2018, for the same idea on network traffic).

Scores: the reconstruction error ``e`` (mean squared error over features) is mapped to [0, 1] as
``sigmoid((log e - c) / s)``, where ``c`` and ``s`` are the median and the robust spread (IQR /
1.349) of ``log e`` over *reference* benign rows: benign training rows held out of the
autoencoder's training (a fifth, seeded). So 0.5 is a typical benign error, and the score is
monotone in the error.

Standardisation in ``fit`` uses benign training rows only, so nothing about the attacks shapes
the model. The threshold, by default (``threshold_objective="benign:0.02"``), is the score that
2 % of the reference benign rows exceed: a false alarm budget, set without looking at any attack,
so it does not lean towards the attack types that happen to be in training. The other
objectives (``youden``, ``f1``, ``far:X``) choose it on the reference benign rows together with
the training attacks (which the autoencoder never trained on either). Fitting still needs both
classes, like every detector.

In federated training, ``prepare`` takes whatever statistics the federation aggregated (all
rows, unless it sends benign-only statistics), an agent's ``train_epochs`` trains on its benign
rows and skips the rest, and ``choose_threshold`` re-centres the score on that agent's benign
rows and sets the threshold there.

Combine it with a supervised detector through ``hybrid`` (``swarmguard.detect.hybrid``): the
supervised model catches known attack types precisely, the autoencoder flags what looks unlike
benign traffic.

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, 1, (300, 4)), rng.normal(0, 1, (100, 4)) * 6]
>>> t = pa.table({"uid": [str(i) for i in range(400)],
...               **{f"x{j}": x[:, j] for j in range(4)},
...               "label": ["benign"] * 300 + ["dos"] * 100,
...               "label_original": ["normal"] * 300 + ["a"] * 100})
>>> rows = LabeledTable(t, "demo", ("x0", "x1", "x2", "x3"), ())
>>> det = AnomalyDetector(seed=0)
>>> det.fit(rows)
>>> s = det.score(rows)
>>> bool(s[300:].mean() > s[:300].mean() + 0.3)
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from swarmguard.detect.base import FloatArray
from swarmguard.detect.threshold import choose_threshold
from swarmguard.detect.torch_train import (
    TorchDetector,
    deterministic,
    minibatches,
    optimiser_step,
)
from swarmguard.features.stats import FeatureStats
from swarmguard.records.dataset import LabeledTable

__all__ = ["AnomalyDetector", "AutoEncoder"]

_EPS = 1e-12


class AutoEncoder(nn.Module):
    """A small fully connected autoencoder: features -> hidden -> code -> hidden -> features."""

    def __init__(self, n_features: int, hidden: int, code: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, code), nn.ReLU()
        )
        self.decoder = nn.Sequential(
            nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, n_features)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x``."""
        out: torch.Tensor = self.decoder(self.encoder(x))
        return out


class AnomalyDetector(TorchDetector):
    """Autoencoder trained on benign rows; reconstruction error calibrated to [0, 1].

    Parameters
    ----------
    hidden
        Width of the hidden layers.
    code
        Width of the bottleneck (at most half the number of input features).
    reference_fraction
        Share of benign training rows held out of training to calibrate scores and threshold.
    threshold_objective
        ``benign:X``: the score a share ``X`` of reference benign rows exceed; or ``youden``,
        ``f1``, ``far:X`` over reference benign rows and training attacks.
    **kwargs
        Training budget and seed: see ``TorchDetector`` (``folds`` is not used: the held-out
        benign rows and the never-trained-on attacks already give honest scores).
    """

    name: ClassVar[str] = "anomaly"

    def __init__(
        self,
        *,
        hidden: int = 64,
        code: int = 16,
        reference_fraction: float = 0.2,
        threshold_objective: str = "benign:0.02",
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed=seed, threshold_objective=threshold_objective, **kwargs)
        self.hidden = hidden
        self.code = code
        self.reference_fraction = reference_fraction
        self.center = 0.0
        self.spread = 1.0

    def _build(self, n_features: int) -> nn.Module:
        # The bottleneck stays below the input width, or the network could learn the identity.
        return AutoEncoder(n_features, self.hidden, max(1, min(self.code, n_features // 2)))

    def _errors(self, x: FloatArray) -> FloatArray:
        assert self._model is not None
        self._model.eval()
        with deterministic(), torch.inference_mode():
            xt = torch.from_numpy(x.astype(np.float32))
            err = ((self._model(xt) - xt) ** 2).mean(dim=1)
        return np.asarray(err.numpy(), dtype=np.float64)

    def _calibrate(self, x_benign: FloatArray) -> None:
        """Centre and spread of the log error over these benign rows."""
        if x_benign.shape[0] == 0:
            return
        log_err = np.log(self._errors(x_benign) + _EPS)
        q25, q50, q75 = np.percentile(log_err, [25, 50, 75])
        self.center = float(q50)
        self.spread = float(max((q75 - q25) / 1.349, 1e-3))

    def _train(self, rows: LabeledTable, x: FloatArray, epochs: int | None) -> int:
        assert self._model is not None
        benign = x[~rows.attack_mask()]
        if benign.shape[0] == 0:
            return 0
        xt = torch.from_numpy(benign.astype(np.float32))
        opt = torch.optim.Adam(self._model.parameters(), lr=self.learning_rate)
        rng = self._rng()
        self._model.train()
        for _ in range(self._epochs_for(benign.shape[0], epochs)):
            for batch in minibatches(benign.shape[0], self.batch_size, rng):
                xb = xt[torch.from_numpy(batch)]
                optimiser_step(opt, ((self._model(xb) - xb) ** 2).mean())
        return int(benign.shape[0])

    def _predict(self, rows: LabeledTable, x: FloatArray) -> FloatArray:
        z = (np.log(self._errors(x) + _EPS) - self.center) / self.spread
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))), dtype=np.float64)

    def choose_threshold(self, rows: LabeledTable) -> None:
        """Re-centre the score on these rows' benign part, then set ``threshold`` on them."""
        y = rows.attack_mask()
        self._calibrate(self._features(rows)[~y])
        self.threshold = self._threshold_on(self.score(rows), y)

    def fit(self, train: LabeledTable) -> None:
        """Train on benign rows; calibrate and threshold on held-out benign rows and attacks."""
        train = self._subsample(train)
        y = train.attack_mask()
        if y.all() or not y.any():
            raise ValueError("training data needs both benign and attack rows")
        rng = np.random.default_rng(self.seed)
        benign = np.flatnonzero(~y)
        reference_mask = rng.random(benign.size) < self.reference_fraction
        if benign.size >= 2 and not reference_mask.any():
            reference_mask[rng.integers(benign.size)] = True
        if reference_mask.all():
            reference_mask[rng.integers(benign.size)] = False
        fit_rows = train.take(benign[~reference_mask])
        reference: npt.NDArray[np.int64] = benign[reference_mask]
        self.prepare(FeatureStats.from_rows(train.take(benign)))
        with deterministic():
            self._train(fit_rows, self._features(fit_rows), self.epochs)
        held_out = np.sort(np.r_[reference, np.flatnonzero(y)]).astype(np.int64)
        rows = train.take(held_out)
        x = self._features(rows)
        y_held = rows.attack_mask()
        self._calibrate(x[~y_held])
        self.threshold = self._threshold_on(self.score(rows), y_held)

    def _threshold_on(self, scores: FloatArray, is_attack: npt.NDArray[np.bool_]) -> float:
        """Threshold from scores of benign reference rows (and attacks, for other objectives)."""
        objective = self.threshold_objective
        if not objective.startswith("benign:"):
            return choose_threshold(scores, is_attack, objective)
        share = float(objective.split(":", 1)[1])
        if not 0.0 <= share < 1.0:
            raise ValueError(f"benign:X needs 0 <= X < 1, got {objective!r}")
        benign = np.sort(scores[~is_attack])
        if benign.size == 0:
            return 0.5
        # the smallest threshold that at most a share X of these benign rows reach
        k = int(np.floor(share * benign.size))
        cut = benign[benign.size - 1 - k]
        return float(min(np.nextafter(cut, np.inf), 1.0))
