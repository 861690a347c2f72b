"""Hybrid detector: an alert exactly when the supervised part or the anomaly part fires."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmguard.detect.hybrid import HybridDetector, rescale

from .synthetic import host_rows


@given(st.floats(0.001, 0.999), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_rescale_puts_the_threshold_at_one_half(t: float, values: list[float]) -> None:
    s = np.array(values)
    r = rescale(s, t)
    assert ((r >= 0.5) == (s >= t)).all()
    assert ((r >= 0) & (r <= 1)).all()
    order = np.argsort(s, kind="stable")
    assert (np.diff(r[order]) >= -1e-12).all()


def test_alert_is_the_or_of_both_parts() -> None:
    det = HybridDetector(supervised="svm-linear", seed=0)
    rows = host_rows(0)
    det.fit(rows)
    assert det._sup is not None and det._anomaly is not None
    test = host_rows(1)
    sup = det._sup.score(test) >= det._sup.threshold
    anomaly = det._anomaly.score(test) >= det._anomaly.threshold
    np.testing.assert_array_equal(det.score(test) >= det.threshold, sup | anomaly)


def test_supervised_part_must_be_supervised() -> None:
    with pytest.raises(ValueError, match="supervised"):
        HybridDetector(supervised="anomaly")
