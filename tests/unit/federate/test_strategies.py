from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from swarmguard.federate.strategies import (
    ClientUpdate,
    Krum,
    TrimmedMean,
    WeightedFedAvg,
    aggregation_weights,
    make_strategy,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 30), elements=finite),
    st.lists(
        st.tuples(st.integers(1, 10_000), st.floats(0.05, 1.0), st.floats(0.1, 10.0)),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["fedavg", "fedprox", "trimmed-mean", "krum"]),
)
def test_aggregate_of_identical_updates_is_that_update(
    vec: np.ndarray, factors: list[tuple[int, float, float]], name: str
) -> None:
    params = [vec, vec[:1] * 2]
    ups = [ClientUpdate(str(i), params, n, q, m) for i, (n, q, m) in enumerate(factors)]
    agg = make_strategy(name, clients=len(ups)).aggregate(ups)
    for a, b in zip(agg, params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_weights_multiply_samples_quality_importance() -> None:
    ups = [
        ClientUpdate("a", [np.zeros(1)], 100, 0.5, 1.0),
        ClientUpdate("b", [np.ones(1)], 100, 1.0, 1.0),
        ClientUpdate("c", [np.ones(1)], 50, 1.0, 2.0),
    ]
    np.testing.assert_allclose(aggregation_weights(ups), [0.2, 0.4, 0.4])
    assert WeightedFedAvg().aggregate(ups)[0].tolist() == pytest.approx([0.8])


def test_zero_or_negative_weights_raise() -> None:
    with pytest.raises(ValueError):
        aggregation_weights([ClientUpdate("a", [np.zeros(1)], 0, 1.0)])
    with pytest.raises(ValueError):
        aggregation_weights([ClientUpdate("a", [np.zeros(1)], 3, -1.0)])
    with pytest.raises(ValueError):
        aggregation_weights([])


def test_shape_mismatch_raises() -> None:
    ups = [ClientUpdate("a", [np.zeros(2)], 1, 1.0), ClientUpdate("b", [np.zeros(3)], 1, 1.0)]
    with pytest.raises(ValueError, match="other shapes"):
        WeightedFedAvg().aggregate(ups)


def test_robust_rules_ignore_one_huge_update() -> None:
    rng = np.random.default_rng(0)
    honest = [ClientUpdate(str(i), [rng.normal(1.0, 0.01, 50)], 100, 1.0) for i in range(4)]
    bad = ClientUpdate("bad", [np.full(50, 1e6)], 100, 1.0)
    ups = [*honest, bad]
    assert np.abs(WeightedFedAvg().aggregate(ups)[0] - 1.0).max() > 1e4
    assert np.abs(TrimmedMean(0.2).aggregate(ups)[0] - 1.0).max() < 0.05
    assert np.abs(Krum(byzantine=1, multi=3).aggregate(ups)[0] - 1.0).max() < 0.05
    assert 4 not in Krum(byzantine=1, multi=4).select(ups)


def test_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("median")
