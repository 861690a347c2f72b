from __future__ import annotations

import numpy as np
import pytest
from fakes import blobs

from swarmguard.federate.partition import parse_partition, partition_indices, partition_rows


@pytest.mark.parametrize("scheme", ["iid", "by-class", "dirichlet:0.3", "dirichlet:100"])
def test_every_row_goes_to_exactly_one_site(scheme: str) -> None:
    rows = blobs(600, seed=1)
    parts = partition_indices(rows.labels(), 4, scheme, seed=3)
    joined = np.sort(np.concatenate(parts))
    assert joined.tolist() == list(range(600))
    again = partition_indices(rows.labels(), 4, scheme, seed=3)  # seeded
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


def test_iid_parts_have_equal_size_and_mix() -> None:
    rows = blobs(600, seed=1)
    parts = partition_rows(rows, 3, "iid", seed=0)
    assert [p.num_rows for p in parts] == [200, 200, 200]
    for p in parts:
        assert set(p.labels()) == {"benign", "dos", "probe"}


def test_by_class_gives_each_site_benign_and_own_families() -> None:
    rows = blobs(600, seed=1)
    parts = partition_rows(rows, 2, "by-class", seed=0)
    fams = [set(p.labels()) - {"benign"} for p in parts]
    assert fams == [{"dos"}, {"probe"}]
    assert all("benign" in p.labels() for p in parts)


def test_small_alpha_is_less_iid_than_large() -> None:
    rows = blobs(3000, seed=2)

    def skew(alpha: str) -> float:
        parts = partition_rows(rows, 5, f"dirichlet:{alpha}", seed=0)
        shares = [np.mean(np.array(p.labels()) == "dos") for p in parts]
        return float(np.std(shares))

    assert skew("0.1") > 3 * skew("100")


@pytest.mark.parametrize("bad", ["dirichlet:0", "dirichlet:x", "random", "dirichlet:-1"])
def test_bad_schemes_raise(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_partition(bad)


def test_too_few_rows_raises() -> None:
    with pytest.raises(ValueError, match="too few"):
        partition_indices(["benign"] * 5, 4, "iid")
