"""Turn a ``LabeledTable`` into a numeric matrix: clean, encode, standardise.

Fitted on training rows only and saved with the model, so scoring sees exactly the training
transformation. Numeric columns: non-finite values (``inf``, ``NaN``, nulls) become the training
median, then a signed ``log1p`` tames the heavy tails of byte and packet counts, then each column is
standardised. Categorical columns: one-hot over the categories seen in training (rare ones folded
into one "infrequent" column, unseen ones all-zero). Built on scikit-learn's transformers.

Examples
--------
>>> import pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> t = pa.table({"uid": ["a:1", "a:2", "a:3"], "bytes": [10.0, float("inf"), 1000.0],
...               "proto": ["tcp", "udp", "tcp"], "label": ["benign", "dos", "dos"],
...               "label_original": ["normal", "smurf", "smurf"]})
>>> lt = LabeledTable(t, "demo", numeric_columns=("bytes",), categorical_columns=("proto",))
>>> pre = TabularPreprocessor(min_category_frequency=1).fit(lt)
>>> pre.transform(lt).shape
(3, 3)
>>> pre.feature_names()
['bytes', 'proto=tcp', 'proto=udp']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from swarmguard.records.dataset import LabeledTable

if TYPE_CHECKING:
    from swarmguard.features.stats import FeatureStats

__all__ = ["TabularPreprocessor", "numeric_matrix", "signed_log1p"]

FloatMatrix = npt.NDArray[np.float64]


def numeric_matrix(table: pa.Table, columns: tuple[str, ...]) -> FloatMatrix:
    """Return ``columns`` of ``table`` as a float64 matrix with NaN for nulls and non-finite values.

    Columns that are absent from ``table`` come back as all-NaN (imputed later).
    """
    out = np.full((table.num_rows, len(columns)), np.nan, dtype=np.float64)
    present = set(table.column_names)  # column_names builds a new list on every access
    for j, name in enumerate(columns):
        if name not in present:
            continue
        col = table.column(name)
        if pa.types.is_boolean(col.type):
            col = pc.cast(col, pa.int8())
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            col = pc.cast(col, pa.float64())
        values = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        out[:, j] = values
    out[~np.isfinite(out)] = np.nan
    return out


def _category_matrix(table: pa.Table, columns: tuple[str, ...]) -> npt.NDArray[np.object_]:
    out = np.empty((table.num_rows, len(columns)), dtype=object)
    present = set(table.column_names)
    for j, name in enumerate(columns):
        if name not in present:
            out[:, j] = ""
            continue
        values = pc.fill_null(pc.cast(table.column(name), pa.string()), "")
        out[:, j] = np.asarray(values.to_pylist(), dtype=object)
    return out


def signed_log1p(x: FloatMatrix) -> FloatMatrix:
    """Return ``sign(x) * log1p(|x|)`` elementwise (NaN stays NaN)."""
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass
class TabularPreprocessor:
    """Cleaning, encoding and standardisation, fitted on training rows only.

    Parameters
    ----------
    log_transform
        Apply ``sign(x) * log1p(|x|)`` to numeric columns before standardising.
    min_category_frequency
        Categories seen in fewer training rows are folded into one "infrequent" column.
    max_categories
        At most this many one-hot columns per categorical column.
    """

    log_transform: bool = True
    min_category_frequency: int = 5
    max_categories: int = 64
    numeric_columns: tuple[str, ...] = field(default=(), init=False)
    categorical_columns: tuple[str, ...] = field(default=(), init=False)
    format: str = field(default="", init=False)
    _imputer: SimpleImputer | None = field(default=None, init=False, repr=False)
    _scaler: StandardScaler | None = field(default=None, init=False, repr=False)
    _encoder: OneHotEncoder | None = field(default=None, init=False, repr=False)

    def fit(self, train: LabeledTable) -> TabularPreprocessor:
        """Learn medians, scales and categories from ``train``; return self."""
        self.format = train.format
        self.numeric_columns = train.numeric_columns
        self.categorical_columns = train.categorical_columns
        if self.numeric_columns:
            x = numeric_matrix(train.table, self.numeric_columns)
            self._imputer = SimpleImputer(strategy="median", keep_empty_features=True)
            x = self._imputer.fit_transform(x)
            if self.log_transform:
                x = signed_log1p(x)
            self._scaler = StandardScaler().fit(x)
        if self.categorical_columns:
            self._encoder = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                min_frequency=self.min_category_frequency,
                max_categories=self.max_categories,
                sparse_output=False,
                dtype=np.float64,
            )
            self._encoder.fit(_category_matrix(train.table, self.categorical_columns))
        return self

    @classmethod
    def from_stats(
        cls,
        stats: FeatureStats,
        *,
        min_category_frequency: int = 5,
        max_categories: int = 64,
    ) -> TabularPreprocessor:
        """Build the preprocessing from aggregated statistics instead of rows (federated).

        Numeric columns: a missing value becomes the aggregated mean in log space (the median
        cannot be aggregated from counts and sums), then each column is standardised by the
        aggregated mean and standard deviation. Categorical columns: one-hot over the
        aggregated category counts, with the same folding of rare categories as ``fit``.

        Examples
        --------
        >>> import pyarrow as pa
        >>> from swarmguard.features.stats import FeatureStats
        >>> from swarmguard.records.dataset import LabeledTable
        >>> t = pa.table({"uid": ["a", "b", "c"], "x": [0.0, None, 2.0], "p": ["u", "u", "v"],
        ...               "label": ["benign"] * 3, "label_original": ["n"] * 3})
        >>> rows = LabeledTable(t, "demo", ("x",), ("p",))
        >>> pre = TabularPreprocessor.from_stats(FeatureStats.from_rows(rows),
        ...                                      min_category_frequency=1)
        >>> pre.transform(rows).round(3).tolist()
        [[-1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
        """
        pre = cls(
            log_transform=True,
            min_category_frequency=min_category_frequency,
            max_categories=max_categories,
        )
        pre.format = stats.format
        pre.numeric_columns = stats.numeric_columns
        pre.categorical_columns = stats.categorical_columns
        if stats.numeric_columns:
            mean = stats.mean()
            # The imputer works before the log: fill with the value whose signed log1p is the
            # aggregated mean, so imputed entries land exactly on the mean after the log.
            raw_fill = np.sign(mean) * np.expm1(np.abs(mean))
            imputer = SimpleImputer(strategy="mean", keep_empty_features=True)
            pre._imputer = imputer.fit(raw_fill.reshape(1, -1))
            std = stats.std()
            scaler = StandardScaler()
            scaler.mean_ = mean
            scaler.var_ = std**2
            scaler.scale_ = std
            scaler.n_features_in_ = len(mean)
            scaler.n_samples_seen_ = int(stats.rows)
            pre._scaler = scaler
        if stats.categorical_columns:
            matrix = np.empty((stats.rows, len(stats.categorical_columns)), dtype=object)
            for j, col in enumerate(stats.categorical_columns):
                counts = stats.category_counts.get(col, {})
                values = [v for v, k in sorted(counts.items()) for _ in range(k)]
                values += [""] * (stats.rows - len(values))
                matrix[:, j] = np.asarray(values[: stats.rows], dtype=object)
            pre._encoder = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                min_frequency=min_category_frequency,
                max_categories=max_categories,
                sparse_output=False,
                dtype=np.float64,
            ).fit(matrix)
        return pre

    def transform(self, rows: LabeledTable) -> FloatMatrix:
        """Return the feature matrix of ``rows`` (one row per input row)."""
        if not self.format:
            raise RuntimeError("TabularPreprocessor.transform called before fit")
        if rows.format != self.format:
            raise ValueError(
                f"rows are {rows.format} but the model was trained on {self.format}; "
                "map flows with swarmguard.features.mapping first"
            )
        parts: list[FloatMatrix] = []
        if self._imputer is not None and self._scaler is not None:
            x = self._imputer.transform(numeric_matrix(rows.table, self.numeric_columns))
            if self.log_transform:
                x = signed_log1p(x)
            parts.append(np.asarray(self._scaler.transform(x), dtype=np.float64))
        if self._encoder is not None:
            cats = _category_matrix(rows.table, self.categorical_columns)
            parts.append(np.asarray(self._encoder.transform(cats), dtype=np.float64))
        if not parts:
            return np.zeros((rows.num_rows, 0), dtype=np.float64)
        return np.hstack(parts)

    def feature_names(self) -> list[str]:
        """Names of the output columns, numeric first, then ``column=category``."""
        names = list(self.numeric_columns)
        if self._encoder is not None:
            raw_names = self._encoder.get_feature_names_out(list(self.categorical_columns))
            # sklearn names each output "<column>_<category>", in column order.
            sizes = [len(c) for c in self._encoder.categories_]
            infrequent = getattr(self._encoder, "infrequent_categories_", [None] * len(sizes))
            pos = 0
            for col, size, rare in zip(self.categorical_columns, sizes, infrequent, strict=True):
                width = size - (len(rare) - 1 if rare is not None else 0)
                for raw in raw_names[pos : pos + width]:
                    names.append(f"{col}={str(raw)[len(col) + 1 :]}")
                pos += width
        return names
