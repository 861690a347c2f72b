"""Support vector machine baseline: linear or RBF-kernel-approximated, class-weighted, calibrated.

The model is a linear SVM (``LinearSVC``), optionally over random Fourier features that approximate
an RBF kernel (Rahimi & Recht, "Random features for large-scale kernel machines", NIPS 2007). The
random feature map depends only on the seed, never on training rows, so the learned weights can be
shared in federated learning without leaking data (Nystroem would ship training rows).

Scores are calibrated probabilities: a logistic (Platt) calibrator is fitted on out-of-fold
decision values of the training set, with folds that hold out whole attack types, and the decision
threshold is chosen on those same out-of-fold scores. No test data is involved.

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, 1, 300), rng.normal(4, 1, 300)]
>>> labels = ["benign"] * 300 + ["dos"] * 300
>>> orig = ["normal"] * 300 + ["a"] * 150 + ["b"] * 150
>>> t = pa.table({"uid": [str(i) for i in range(600)], "x": x, "label": labels,
...               "label_original": orig})
>>> rows = LabeledTable(t, "demo", numeric_columns=("x",), categorical_columns=())
>>> det = SvmDetector(kernel="linear", seed=0)
>>> det.fit(rows)
>>> scores = det.score(rows)
>>> bool(scores[:300].mean() < 0.2 and scores[300:].mean() > 0.8)
True
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from swarmguard.detect.base import FloatArray
from swarmguard.detect.persist import load_detector, save_detector
from swarmguard.detect.threshold import choose_threshold
from swarmguard.features.tabular import TabularPreprocessor
from swarmguard.records.dataset import LabeledTable

__all__ = ["LinearSvmDetector", "SvmDetector", "attack_type_folds"]

log = logging.getLogger(__name__)


def attack_type_folds(
    original_labels: list[str | None], is_attack: npt.NDArray[np.bool_], n_folds: int, seed: int
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Cross-validation folds in which each attack type appears in one validation fold only.

    Benign rows are spread over the folds at random. Falls back to stratified folds when there
    are too few attack types for every training part to hold an attack.
    """
    rng = np.random.default_rng(seed)
    n = len(original_labels)
    groups = np.empty(n, dtype=object)
    attack_types = sorted(
        {str(lab) for lab, a in zip(original_labels, is_attack, strict=True) if a}
    )
    for i, (lab, attack) in enumerate(zip(original_labels, is_attack, strict=True)):
        groups[i] = f"attack:{lab}" if attack else f"benign:{rng.integers(n_folds)}"
    y = is_attack.astype(np.int64)
    if len(attack_types) >= n_folds:
        folds = list(GroupKFold(n_splits=n_folds).split(np.zeros(n), y, groups))
        if all(y[tr].min() != y[tr].max() and y[va].min() != y[va].max() for tr, va in folds):
            return [(tr.astype(np.int64), va.astype(np.int64)) for tr, va in folds]
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(tr.astype(np.int64), va.astype(np.int64)) for tr, va in splitter.split(groups, y)]


class SvmDetector:
    """Class-weighted linear SVM, optionally over an RBF random-feature map, with calibration.

    Parameters
    ----------
    kernel
        ``"linear"`` or ``"rbf"`` (random Fourier features approximating an RBF kernel).
    C
        Inverse regularisation strength of the SVM.
    n_components
        Number of random features for ``kernel="rbf"``.
    gamma
        RBF kernel width; default ``1 / n_features`` (features are standardised).
    folds
        Folds for the out-of-fold calibration and threshold choice.
    threshold_objective
        How the threshold is chosen on training scores: ``youden``, ``f1`` or ``far:X``.
    max_train_rows
        Train on at most this many rows (stratified sample) to bound time and memory.
    seed
        Seeds the random features, the folds and the subsample.
    """

    name: ClassVar[str] = "svm"

    def __init__(
        self,
        *,
        kernel: Literal["linear", "rbf"] = "rbf",
        C: float = 1.0,
        n_components: int = 1024,
        gamma: float | None = None,
        folds: int = 3,
        threshold_objective: str = "youden",
        max_train_rows: int = 200_000,
        seed: int = 0,
    ) -> None:
        self.kernel = kernel
        self.C = C
        self.n_components = n_components
        self.gamma = gamma
        self.folds = folds
        self.threshold_objective = threshold_objective
        self.max_train_rows = max_train_rows
        self.seed = seed
        self.threshold = 0.5
        self.format = ""
        self._pre: TabularPreprocessor | None = None
        self._model: Pipeline | None = None
        self._calibrator: LogisticRegression | None = None

    def _new_model(self, n_features: int) -> Pipeline:
        svc = LinearSVC(
            C=self.C, class_weight="balanced", dual="auto", max_iter=5000, random_state=self.seed
        )
        if self.kernel == "linear":
            return Pipeline([("svm", svc)])
        gamma = self.gamma if self.gamma is not None else 1.0 / max(n_features, 1)
        rff = RBFSampler(gamma=gamma, n_components=self.n_components, random_state=self.seed)
        return Pipeline([("rff", rff), ("svm", svc)])

    def _subsample(self, train: LabeledTable) -> LabeledTable:
        if train.num_rows > self.max_train_rows:
            log.info("training on a random %d of %d rows", self.max_train_rows, train.num_rows)
        return train.sample(self.max_train_rows, self.seed)

    def fit(self, train: LabeledTable) -> None:
        """Fit preprocessing, calibration, threshold and the SVM on ``train`` only."""
        train = self._subsample(train)
        y = train.attack_mask()
        if y.all() or not y.any():
            raise ValueError("training data needs both benign and attack rows")
        self.format = train.format
        self._pre = TabularPreprocessor().fit(train)
        x = self._pre.transform(train)
        folds = attack_type_folds(train.original_labels(), y, self.folds, self.seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            oof = cross_val_predict(
                self._new_model(x.shape[1]), x, y, cv=folds, method="decision_function"
            )
            self._model = self._new_model(x.shape[1]).fit(x, y)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            log.warning("LinearSVC did not fully converge; scores are still usable")
        self._calibrator = LogisticRegression().fit(oof.reshape(-1, 1), y)
        oof_scores = self._calibrator.predict_proba(oof.reshape(-1, 1))[:, 1]
        self.threshold = choose_threshold(oof_scores, y, self.threshold_objective)

    def score(self, rows: LabeledTable) -> FloatArray:
        """Calibrated attack probability per row."""
        if self._pre is None or self._model is None or self._calibrator is None:
            raise RuntimeError("SvmDetector.score called before fit or load")
        x = self._pre.transform(rows)
        if x.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        decision = self._model.decision_function(x)
        return np.asarray(self._calibrator.predict_proba(decision.reshape(-1, 1))[:, 1])

    def get_parameters(self) -> list[npt.NDArray[np.float64]]:
        """SVM weights and intercept (the random feature map is fixed by the seed)."""
        if self._model is None:
            raise RuntimeError("SvmDetector has no parameters before fit")
        svc: LinearSVC = self._model.named_steps["svm"]
        return [np.asarray(svc.coef_, dtype=np.float64), np.asarray(svc.intercept_, np.float64)]

    def set_parameters(self, parameters: list[npt.NDArray[np.float64]]) -> None:
        """Replace SVM weights and intercept with arrays of the same shapes."""
        if self._model is None:
            raise RuntimeError("SvmDetector needs a fitted model before set_parameters")
        svc: LinearSVC = self._model.named_steps["svm"]
        coef, intercept = parameters
        if coef.shape != svc.coef_.shape or intercept.shape != svc.intercept_.shape:
            raise ValueError("parameter shapes do not match the model")
        svc.coef_ = np.asarray(coef, dtype=np.float64)
        svc.intercept_ = np.asarray(intercept, dtype=np.float64)

    def save(self, path: Path) -> None:
        """Write model, preprocessing, calibrator and threshold to ``path``."""
        save_detector(self, self.name, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a model written by ``save``."""
        obj = load_detector(path, cls.name)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} does not hold a {cls.__name__}")
        return obj


class LinearSvmDetector(SvmDetector):
    """The linear variant of ``SvmDetector`` (no kernel approximation), registered as svm-linear.

    Faster to train and score; weaker where attacks are not linearly separable.
    """

    name: ClassVar[str] = "svm-linear"

    def __init__(self, *, seed: int = 0, **kwargs: Any) -> None:
        kwargs.setdefault("kernel", "linear")
        super().__init__(seed=seed, **kwargs)
