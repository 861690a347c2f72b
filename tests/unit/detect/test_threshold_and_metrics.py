import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmguard.detect.threshold import choose_threshold
from swarmguard.eval.metrics import detection_metrics, per_class_detection_rate


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=200))
def test_confusion_counts_add_up(pairs: list[tuple[bool, bool]]) -> None:
    y = np.array([p[0] for p in pairs], dtype=bool)
    f = np.array([p[1] for p in pairs], dtype=bool)
    m = detection_metrics(y, f)
    assert m.tp + m.fp + m.tn + m.fn == len(pairs)
    assert 0.0 <= m.detection_rate <= 1.0 and 0.0 <= m.false_alarm_rate <= 1.0
    if y.any():
        assert m.detection_rate == pytest.approx(m.tp / y.sum())


def test_far_budget_is_respected_on_training_scores() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(2000) < 0.4
    s = np.where(y, rng.beta(5, 2, 2000), rng.beta(2, 5, 2000))
    cut = choose_threshold(s, y, "far:0.01")
    assert ((s >= cut) & ~y).sum() / (~y).sum() <= 0.01
    assert choose_threshold(s, y, "youden") < cut


def test_unknown_objective_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown threshold objective"):
        choose_threshold(np.array([0.1, 0.9]), np.array([False, True]), "best")


def test_per_class_rates() -> None:
    rates = per_class_detection_rate(["n", "n", "x", None], np.array([True, False, True, False]))
    assert rates == {"<unlabelled>": 0.0, "n": 0.5, "x": 1.0}
