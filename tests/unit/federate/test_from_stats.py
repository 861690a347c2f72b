from __future__ import annotations

import numpy as np
import pyarrow as pa
from fakes import blobs

from swarmguard.features.stats import FeatureStats
from swarmguard.features.tabular import TabularPreprocessor
from swarmguard.federate.partition import partition_rows
from swarmguard.records.dataset import LabeledTable


def test_merged_stats_give_the_union_preprocessing_without_rows() -> None:
    rows = blobs(900, seed=4)
    parts = partition_rows(rows, 3, "by-class", seed=0)
    merged = FeatureStats.merge([FeatureStats.from_rows(p) for p in parts])
    fed = TabularPreprocessor.from_stats(merged, min_category_frequency=1)
    central = TabularPreprocessor(min_category_frequency=1).fit(rows)
    # no missing values: mean imputation never fires, so both must agree exactly
    np.testing.assert_allclose(fed.transform(rows), central.transform(rows), atol=1e-9)
    assert fed.feature_names() == central.feature_names()


def test_missing_values_become_the_aggregated_log_mean() -> None:
    t = pa.table(
        {
            "uid": list("abcde"),
            "x": [0.0, 1.0, None, float("inf"), 100.0],
            "label": ["benign"] * 5,
            "label_original": ["n"] * 5,
        }
    )
    rows = LabeledTable(t, "demo", ("x",), ())
    pre = TabularPreprocessor.from_stats(FeatureStats.from_rows(rows))
    x = pre.transform(rows)[:, 0]
    assert abs(x[2]) < 1e-9 and abs(x[3]) < 1e-9  # imputed = mean = 0 after standardising
    finite = x[[0, 1, 4]]
    assert abs(finite.mean()) < 1e-9 and abs(finite.std() - 1.0) < 1e-9


def test_rare_categories_fold_as_in_fit() -> None:
    rows = blobs(300, seed=5)
    stats = FeatureStats.from_rows(rows)
    a = TabularPreprocessor.from_stats(stats, min_category_frequency=1000)
    b = TabularPreprocessor(min_category_frequency=1000).fit(rows)
    assert a.feature_names() == b.feature_names()
