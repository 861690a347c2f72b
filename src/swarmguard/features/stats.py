"""Feature statistics that agents can share instead of rows: counts, sums, sums of squares.

Federated standardisation aggregates these from every agent (``FeatureStats.merge``) and fits the
preprocessing from the aggregate, so no agent's rows ever leave it. Numeric statistics are taken
after the same signed ``log1p`` the preprocessor applies; categorical columns share category counts.

Examples
--------
>>> import pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> def rows(xs, ps):
...     t = pa.table({"uid": [str(i) for i in range(len(xs))], "x": xs, "p": ps,
...                   "label": ["benign"] * len(xs), "label_original": ["n"] * len(xs)})
...     return LabeledTable(t, "demo", ("x",), ("p",))
>>> a = FeatureStats.from_rows(rows([0.0, 1.0], ["tcp", "udp"]))
>>> b = FeatureStats.from_rows(rows([3.0, None], ["tcp", "tcp"]))
>>> m = FeatureStats.merge([a, b])
>>> m.rows, m.count.tolist(), m.category_counts["p"]
(4, [3.0], {'tcp': 3, 'udp': 1})
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from swarmguard.features.tabular import numeric_matrix, signed_log1p
from swarmguard.records.dataset import LabeledTable

__all__ = ["FeatureStats"]

FloatVector = npt.NDArray[np.float64]


@dataclass
class FeatureStats:
    """Per-column sufficient statistics of one or more agents' rows.

    ``count``, ``total`` and ``total_sq`` are per numeric column over finite values after signed
    ``log1p``; ``category_counts`` maps each categorical column to category frequencies.
    """

    format: str
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    rows: int
    count: FloatVector
    total: FloatVector
    total_sq: FloatVector
    category_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: LabeledTable) -> FeatureStats:
        """Statistics of one agent's rows."""
        x = signed_log1p(numeric_matrix(rows.table, rows.numeric_columns))
        finite = np.isfinite(x)
        values = np.where(finite, x, 0.0)
        cats: dict[str, dict[str, int]] = {}
        for col in rows.categorical_columns:
            column = pc.fill_null(pc.cast(rows.table.column(col), pa.string()), "")
            cats[col] = dict(Counter(column.to_pylist()))
        return cls(
            format=rows.format,
            numeric_columns=rows.numeric_columns,
            categorical_columns=rows.categorical_columns,
            rows=rows.num_rows,
            count=finite.sum(axis=0).astype(np.float64),
            total=values.sum(axis=0),
            total_sq=(values**2).sum(axis=0),
            category_counts=cats,
        )

    @classmethod
    def merge(cls, parts: list[FeatureStats]) -> FeatureStats:
        """Add up the statistics of several agents (same format and columns)."""
        if not parts:
            raise ValueError("nothing to merge")
        first = parts[0]
        for p in parts[1:]:
            if (p.format, p.numeric_columns, p.categorical_columns) != (
                first.format,
                first.numeric_columns,
                first.categorical_columns,
            ):
                raise ValueError("feature statistics of different formats or columns")
        cats: dict[str, Counter[str]] = {c: Counter() for c in first.categorical_columns}
        for p in parts:
            for col, counts in p.category_counts.items():
                cats[col].update(counts)
        return cls(
            format=first.format,
            numeric_columns=first.numeric_columns,
            categorical_columns=first.categorical_columns,
            rows=sum(p.rows for p in parts),
            count=np.sum([p.count for p in parts], axis=0),
            total=np.sum([p.total for p in parts], axis=0),
            total_sq=np.sum([p.total_sq for p in parts], axis=0),
            category_counts={c: dict(v) for c, v in cats.items()},
        )

    def mean(self) -> FloatVector:
        """Mean of each numeric column (log space); 0 where a column has no values."""
        return np.divide(
            self.total, self.count, out=np.zeros_like(self.total), where=self.count > 0
        )

    def std(self) -> FloatVector:
        """Population standard deviation of each numeric column (log space); 1 where undefined."""
        mean = self.mean()
        var = np.divide(
            self.total_sq, self.count, out=np.zeros_like(self.total_sq), where=self.count > 0
        )
        var = np.maximum(var - mean**2, 0.0)
        std = np.sqrt(var)
        return np.where(std > 0, std, 1.0)
