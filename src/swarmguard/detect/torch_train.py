"""What the PyTorch detectors (``lstm``, ``gnn``, ``anomaly``) share: seeding, batching, weights.

``TorchDetector`` is the one base class of those detectors. It owns the parts that are the same
for all three:

* preprocessing fixed from aggregated ``FeatureStats`` (``TabularPreprocessor.from_stats``), so
  centralised ``fit`` and a federated agent's ``prepare`` build exactly the same transformation;
  standardised values are clipped to ``[-clip, clip]`` so a wild row cannot blow up a network;
* ``fit`` = ``prepare(FeatureStats.from_rows(train))`` + ``train_epochs`` + a threshold chosen on
  out-of-fold scores of the training rows, with folds that hold out whole attack types (the same
  folds as the SVM's, ``attack_type_folds``), so the threshold is set the way the detector will
  be used: on attacks it has not seen;
* the ``SupportsParameters`` and ``SupportsLocalTraining`` protocols (weights as float64 arrays in
  ``state_dict`` order);
* seeding: model initialisation runs under ``torch.random.fork_rng`` with ``manual_seed(seed)``,
  batch order comes from a NumPy generator seeded by ``(seed, round)``, no dropout, and training
  and scoring run with ``torch.use_deterministic_algorithms(True)`` on one CPU thread
  (``deterministic``): one seed gives one output.

A subclass says how to build its network (``_build``), how to train it for some epochs on rows
(``_train``) and how to score rows (``_predict``).

Training budget: ``epochs=None`` (the default) picks enough epochs for about ``target_steps``
optimiser steps, between 1 and ``max_epochs``, so 400 rows and 25 000 rows both train in seconds
on two CPU cores.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from swarmguard.detect.base import FloatArray
from swarmguard.detect.persist import load_detector, save_detector
from swarmguard.detect.svm import attack_type_folds
from swarmguard.detect.threshold import choose_threshold
from swarmguard.features.stats import FeatureStats
from swarmguard.features.tabular import TabularPreprocessor
from swarmguard.records.dataset import LabeledTable

__all__ = [
    "TorchDetector",
    "auto_epochs",
    "balanced_bce",
    "class_weight",
    "deterministic",
    "minibatches",
    "module_parameters",
    "optimiser_step",
    "seeded",
    "set_module_parameters",
]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def deterministic(threads: int = 1) -> Iterator[None]:
    """Run the block with deterministic algorithms on ``threads`` CPU threads, then restore.

    One thread by default: the networks here are small, and on a shared two-core machine a
    second thread waiting on a busy core made training ten times slower in our measurements; a
    fixed thread count also keeps floating-point sums, and so scores, the same across machines.

    Examples
    --------
    >>> with deterministic():
    ...     torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    (True, 1)
    """
    before = torch.are_deterministic_algorithms_enabled()
    threads_before = torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        torch.set_num_threads(threads_before)


def seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with torch's global generator seeded, without disturbing the caller's.

    Examples
    --------
    >>> a = seeded(1, lambda: nn.Linear(3, 2))
    >>> b = seeded(1, lambda: nn.Linear(3, 2))
    >>> bool(torch.equal(a.weight, b.weight))
    True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def auto_epochs(units: int, batch_size: int, target_steps: int, max_epochs: int) -> int:
    """Epochs that give about ``target_steps`` optimiser steps over ``units`` training units.

    Examples
    --------
    >>> auto_epochs(400, 128, 600, 30), auto_epochs(25_000, 128, 600, 30)
    (30, 4)
    """
    batches = max(1, math.ceil(units / batch_size))
    return int(min(max_epochs, max(1, math.ceil(target_steps / batches))))


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> list[npt.NDArray[np.int64]]:
    """Shuffle ``range(n)`` with ``rng`` and cut it into batches of at most ``batch_size``.

    Examples
    --------
    >>> [b.tolist() for b in minibatches(5, 2, np.random.default_rng(0))]
    [[2, 4], [3, 0], [1]]
    """
    order = rng.permutation(n).astype(np.int64)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def module_parameters(module: nn.Module) -> list[npt.NDArray[np.float64]]:
    """The module's floating-point state (weights, biases) as float64 arrays, in a fixed order.

    Examples
    --------
    >>> [p.shape for p in module_parameters(nn.Linear(3, 2))]
    [(2, 3), (2,)]
    """
    return [
        t.detach().cpu().numpy().astype(np.float64)
        for t in module.state_dict().values()
        if t.is_floating_point()
    ]


def set_module_parameters(module: nn.Module, parameters: list[npt.NDArray[np.float64]]) -> None:
    """Replace the module's floating-point state with ``parameters`` (as ``module_parameters``).

    Examples
    --------
    >>> m = nn.Linear(3, 2)
    >>> set_module_parameters(m, [np.zeros((2, 3)), np.ones(2)])
    >>> m.bias.tolist()
    [1.0, 1.0]
    """
    state = module.state_dict()
    names = [k for k, t in state.items() if t.is_floating_point()]
    if len(parameters) != len(names):
        raise ValueError(f"expected {len(names)} parameter arrays, got {len(parameters)}")
    new_state = dict(state)
    for name, array in zip(names, parameters, strict=True):
        if tuple(array.shape) != tuple(state[name].shape):
            raise ValueError(
                f"parameter {name} has shape {tuple(array.shape)}, "
                f"the model expects {tuple(state[name].shape)}"
            )
        new_state[name] = torch.as_tensor(np.asarray(array), dtype=state[name].dtype)
    module.load_state_dict(new_state)


class TorchDetector:
    """Base of the PyTorch detectors: preprocessing, thresholds, parameters, persistence.

    Parameters
    ----------
    epochs
        Training epochs for ``fit``; ``None`` picks about ``target_steps`` optimiser steps.
    target_steps
        Optimiser steps that ``epochs=None`` aims at.
    max_epochs
        Upper bound on the automatic epoch count.
    batch_size
        Training units (rows, windows or graph edges) per optimiser step.
    learning_rate
        Adam step size.
    folds
        Folds (holding out whole attack types) for the out-of-fold threshold; ``0`` or ``1``
        chooses the threshold on in-sample training scores instead (faster, less honest).
    threshold_objective
        ``youden``, ``f1`` or ``far:X`` (see ``swarmguard.detect.threshold``).
    max_train_rows
        Train on at most this many rows (a seeded random sample) to bound time.
    clip
        Standardised features are clipped to ``[-clip, clip]``.
    seed
        Seeds initialisation, batch order, folds and the subsample.
    """

    name: ClassVar[str] = "torch"

    def __init__(
        self,
        *,
        epochs: int | None = None,
        target_steps: int = 600,
        max_epochs: int = 30,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        folds: int = 3,
        threshold_objective: str = "youden",
        max_train_rows: int = 100_000,
        clip: float = 10.0,
        seed: int = 0,
    ) -> None:
        self.epochs = epochs
        self.target_steps = target_steps
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.folds = folds
        self.threshold_objective = threshold_objective
        self.max_train_rows = max_train_rows
        self.clip = clip
        self.seed = seed
        self.threshold = 0.5
        self.format = ""
        self._pre: TabularPreprocessor | None = None
        self._model: nn.Module | None = None
        self._rounds = 0

    # -- what a subclass provides -------------------------------------------------------------

    def _build(self, n_features: int) -> nn.Module:
        raise NotImplementedError

    def _train(self, rows: LabeledTable, x: FloatArray, epochs: int | None) -> int:
        """Train ``self._model`` on ``rows`` (features ``x``); return training units used."""
        raise NotImplementedError

    def _predict(self, rows: LabeledTable, x: FloatArray) -> FloatArray:
        """Scores in [0, 1] of ``rows`` (features ``x``) under ``self._model``."""
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------------------------

    def _features(self, rows: LabeledTable) -> FloatArray:
        if self._pre is None:
            raise RuntimeError(f"{type(self).__name__} used before fit, prepare or load")
        x = self._pre.transform(rows)
        return np.clip(x, -self.clip, self.clip)

    def _rng(self) -> np.random.Generator:
        """A generator for batch order, different in every training call, fixed by the seed."""
        self._rounds += 1
        return np.random.default_rng([self.seed, self._rounds])

    def _epochs_for(self, units: int, epochs: int | None) -> int:
        if epochs is not None:
            return max(0, int(epochs))
        return auto_epochs(units, self.batch_size, self.target_steps, self.max_epochs)

    def _subsample(self, rows: LabeledTable) -> LabeledTable:
        if rows.num_rows > self.max_train_rows:
            log.info("training on a random %d of %d rows", self.max_train_rows, rows.num_rows)
        return rows.sample(self.max_train_rows, self.seed)

    def prepare(self, stats: FeatureStats) -> None:
        """Fix preprocessing from aggregated ``stats`` and initialise the network (seeded)."""
        self.format = stats.format
        self._pre = TabularPreprocessor.from_stats(stats)
        n_features = len(self._pre.feature_names())
        self._model = seeded(self.seed, lambda: self._build(n_features))
        self._rounds = 0

    def train_epochs(self, rows: LabeledTable, epochs: int) -> int:
        """Train ``epochs`` passes over ``rows`` from the current weights; return units used."""
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__}.train_epochs called before prepare")
        if rows.num_rows == 0:
            return 0
        x = self._features(rows)
        with deterministic():
            return self._train(rows, x, epochs)

    def choose_threshold(self, rows: LabeledTable) -> None:
        """Set ``threshold`` from this model's scores on these (training) rows."""
        scores = self.score(rows)
        self.threshold = choose_threshold(scores, rows.attack_mask(), self.threshold_objective)

    def fit(self, train: LabeledTable) -> None:
        """Fit preprocessing, the network and the threshold on ``train`` only."""
        train = self._subsample(train)
        y = train.attack_mask()
        if y.all() or not y.any():
            raise ValueError("training data needs both benign and attack rows")
        stats = FeatureStats.from_rows(train)
        oof: FloatArray | None = None
        if self.folds >= 2:
            oof = np.zeros(train.num_rows, dtype=np.float64)
            for k, (tr, va) in enumerate(
                attack_type_folds(train.original_labels(), y, self.folds, self.seed)
            ):
                self.prepare(stats)
                self._rounds = 1000 * (k + 1)
                part = train.take(tr)
                with deterministic():
                    self._train(part, self._features(part), self.epochs)
                oof[va] = self.score(train.take(va))
        self.prepare(stats)
        with deterministic():
            self._train(train, self._features(train), self.epochs)
        if oof is None:
            self.choose_threshold(train)
        else:
            self.threshold = choose_threshold(oof, y, self.threshold_objective)

    def score(self, rows: LabeledTable) -> FloatArray:
        """Attack score in [0, 1] per row."""
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__}.score called before fit or load")
        x = self._features(rows)
        if x.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        self._model.eval()
        with deterministic(), torch.inference_mode():
            scores = self._predict(rows, x)
        return np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)

    def get_parameters(self) -> list[npt.NDArray[np.float64]]:
        """The network's weights and biases as float64 arrays (``state_dict`` order)."""
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__} has no parameters before fit or prepare")
        return module_parameters(self._model)

    def set_parameters(self, parameters: list[npt.NDArray[np.float64]]) -> None:
        """Replace the network's weights with arrays shaped as ``get_parameters`` returns."""
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__} needs fit or prepare before set_parameters")
        set_module_parameters(self._model, parameters)

    def save(self, path: Path) -> None:
        """Write network, preprocessing and threshold to ``path``."""
        save_detector(self, self.name, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a detector written by ``save``."""
        obj = load_detector(path, cls.name)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} does not hold a {cls.__name__}")
        return obj


def optimiser_step(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """Back-propagate ``loss`` and take one optimiser step.

    Examples
    --------
    >>> m = nn.Linear(1, 1)
    >>> optimiser_step(torch.optim.SGD(m.parameters(), lr=0.1), m(torch.ones(1, 1)).sum())
    """
    optimiser.zero_grad()
    loss.backward()  # type: ignore[no-untyped-call]
    optimiser.step()


def balanced_bce(logits: torch.Tensor, y: torch.Tensor, pos_weight: float) -> torch.Tensor:
    """Binary cross-entropy on logits with attack rows weighted by ``pos_weight``.

    Examples
    --------
    >>> round(float(balanced_bce(torch.zeros(2), torch.tensor([0.0, 1.0]), 1.0)), 4)
    0.6931
    """
    return nn.functional.binary_cross_entropy_with_logits(
        logits, y, pos_weight=torch.tensor(pos_weight, dtype=logits.dtype)
    )


def class_weight(y: npt.NDArray[np.bool_]) -> float:
    """Weight of attack rows that balances the two classes (1 when one class is absent).

    Examples
    --------
    >>> class_weight(np.array([True, False, False, False]))
    3.0
    """
    pos = int(y.sum())
    neg = int(y.size - pos)
    return float(neg / pos) if pos and neg else 1.0
