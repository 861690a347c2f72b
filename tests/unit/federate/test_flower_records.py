from __future__ import annotations

import numpy as np
import pytest
from fakes import blobs

from swarmguard.features.stats import FeatureStats
from swarmguard.federate.crypto.ckks import encrypt_vector, generate_keys, load_context
from swarmguard.federate.flower.records import (
    as_float,
    as_int,
    encrypted_from,
    encrypted_record,
    params_from,
    params_record,
    record_nbytes,
    stats_from,
    stats_records,
)


def test_stats_survive_the_wire() -> None:
    stats = FeatureStats.from_rows(blobs(200, seed=3))
    back = stats_from(*stats_records(stats))
    assert back.numeric_columns == stats.numeric_columns
    assert back.category_counts == stats.category_counts
    np.testing.assert_array_equal(back.total_sq, stats.total_sq)
    assert back.rows == stats.rows


def test_params_and_ciphertexts_survive_the_wire() -> None:
    params = [np.arange(6.0).reshape(2, 3), np.array([1.5])]
    rec = params_record(params)
    assert [p.tolist() for p in params_from(rec)] == [p.tolist() for p in params]
    assert record_nbytes(rec) >= 7 * 8
    enc = encrypt_vector(load_context(generate_keys().public), np.ones(5000))
    back = encrypted_from(encrypted_record(enc))
    assert back == enc and record_nbytes(encrypted_record(enc)) >= enc.nbytes


@pytest.mark.parametrize("bad", [True, [1], b"x", None])
def test_record_numbers_are_checked(bad: object) -> None:
    with pytest.raises(ValueError):
        as_float(bad)
    with pytest.raises(ValueError):
        as_int(bad)
