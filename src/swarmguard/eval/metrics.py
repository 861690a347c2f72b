"""Detection metrics: detection rate, false alarm rate and friends, overall and per class.

Examples
--------
>>> import numpy as np
>>> m = detection_metrics(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool))
>>> m.detection_rate, m.false_alarm_rate, m.precision
(0.5, 0.5, 0.5)
>>> per_class_detection_rate(["a", "a", "b"], np.array([True, False, True]))
{'a': 0.5, 'b': 1.0}
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DetectionMetrics", "detection_metrics", "per_class_detection_rate", "percentile_ms"]


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


@dataclass(frozen=True)
class DetectionMetrics:
    """Confusion counts and the rates derived from them (attack = positive)."""

    tp: int
    fp: int
    tn: int
    fn: int
    detection_rate: float
    false_alarm_rate: float
    precision: float
    f1: float
    accuracy: float

    def as_dict(self) -> dict[str, float | int]:
        """The metrics as a plain dict (JSON-ready)."""
        return asdict(self)


def detection_metrics(
    is_attack: npt.NDArray[np.bool_], flagged: npt.NDArray[np.bool_]
) -> DetectionMetrics:
    """Compute metrics from ground truth ``is_attack`` and detector output ``flagged``.

    ``detection_rate`` is TP / (TP + FN) over attack rows, ``false_alarm_rate`` FP / (FP + TN)
    over benign rows. A rate whose denominator is zero is reported as 0.0.
    """
    if is_attack.shape != flagged.shape:
        raise ValueError("labels and predictions differ in length")
    tp = int(np.sum(is_attack & flagged))
    fn = int(np.sum(is_attack & ~flagged))
    fp = int(np.sum(~is_attack & flagged))
    tn = int(np.sum(~is_attack & ~flagged))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return DetectionMetrics(
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        detection_rate=recall,
        false_alarm_rate=_ratio(fp, fp + tn),
        precision=precision,
        f1=_ratio(2 * precision * recall, precision + recall),
        accuracy=_ratio(tp + tn, tp + tn + fp + fn),
    )


def per_class_detection_rate(
    labels: list[str | None], flagged: npt.NDArray[np.bool_]
) -> dict[str, float]:
    """Fraction of rows flagged, per original label (for benign labels: their false alarm rate)."""
    hits: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for label, flag in zip(labels, flagged.tolist(), strict=True):
        key = "<unlabelled>" if label is None else label
        totals[key] += 1
        hits[key] += int(flag)
    return {key: hits[key] / totals[key] for key in sorted(totals)}


def percentile_ms(samples_s: list[float], q: float) -> float:
    """The ``q``-th percentile of durations given in seconds, in milliseconds."""
    if not samples_s:
        return 0.0
    return float(np.percentile(np.asarray(samples_s) * 1000.0, q))
