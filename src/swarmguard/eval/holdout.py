"""The honest-split experiment: a random split next to leave-one-attack-family-out.

For each attack family in the data, every row of that family is held out of training along with a
random share of benign rows; the detector is trained on the rest and tested on the held-out rows.
The pooled detection rate over all held-out families is the figure for "attacks never seen in
training"; the random split is reported beside it for comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from swarmguard.detect.base import Detector
from swarmguard.eval.evaluate import evaluate
from swarmguard.eval.splits import split_rows
from swarmguard.records.dataset import LabeledTable
from swarmguard.records.labels import AttackClass

__all__ = ["holdout_experiment"]


def holdout_experiment(
    rows: LabeledTable,
    make_detector: Callable[[], Detector],
    *,
    seed: int = 0,
    test_fraction: float = 0.3,
    latency_samples: int = 100,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the random split and one held-out-family split per family; return all results."""
    stage = on_stage or (lambda _name: None)
    runs: dict[str, dict[str, Any]] = {}
    stage("random split")
    s = split_rows(rows, by="random", test_fraction=test_fraction, seed=seed)
    runs["random"] = evaluate(
        make_detector(),
        rows.take(s.train),
        rows.take(s.test),
        latency_samples=latency_samples,
        seed=seed,
    )
    families = sorted({lab for lab in rows.labels() if lab and lab != AttackClass.BENIGN.value})
    tp = fn = fp = tn = 0
    for family in families:
        try:
            s = split_rows(
                rows, by="family", holdout=[family], test_fraction=test_fraction, seed=seed
            )
        except ValueError:
            continue  # holding out the only attack family leaves nothing to learn from
        stage(f"holding out {family}")
        result = evaluate(
            make_detector(),
            rows.take(s.train),
            rows.take(s.test),
            latency_samples=0,
            seed=seed,
        )
        runs[f"unseen:{family}"] = result
        tp, fn = tp + int(result["tp"]), fn + int(result["fn"])
        fp, tn = fp + int(result["fp"]), tn + int(result["tn"])
    pooled = {
        "families": len(runs) - 1,
        "detection_rate": tp / (tp + fn) if tp + fn else 0.0,
        "false_alarm_rate": fp / (fp + tn) if fp + tn else 0.0,
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
    }
    rates = [float(r["detection_rate"]) for k, r in runs.items() if k.startswith("unseen:")]
    pooled["macro_detection_rate"] = float(np.mean(rates)) if rates else 0.0
    return {"format": rows.format, "seed": seed, "runs": runs, "unseen_pooled": pooled}
