"""A labelled table of rows from a public dataset or a metered capture.

Datasets have their own feature columns (NSL-KDD's 41, CIC-IDS2017's CICFlowMeter columns, ...),
so they travel as an Arrow table plus the column roles a feature pipeline needs. Reserved
columns, present in every ``LabeledTable``:

``uid``
    where the row came from, ``<file name>:<line>``; alerts cite it as evidence.
``label``
    taxonomy label (``swarmguard.records.labels.AttackClass`` values), null when unknown.
``label_original``
    the source's own label, null when unknown.

Identity columns (``ts``, ``src_ip``, ``src_port``, ``dest_ip``, ``dest_port``, ``proto``) are
present when the source has them and are never used as features.

Examples
--------
>>> import pyarrow as pa
>>> t = pa.table({"uid": ["a:2"], "x": [1.0], "label": ["dos"], "label_original": ["smurf"]})
>>> lt = LabeledTable(table=t, format="demo", numeric_columns=("x",), categorical_columns=())
>>> lt.attack_mask().tolist()
[True]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from swarmguard.records.labels import AttackClass

__all__ = ["IDENTITY_COLUMNS", "RESERVED_COLUMNS", "LabeledTable"]

RESERVED_COLUMNS: tuple[str, ...] = ("uid", "label", "label_original")
IDENTITY_COLUMNS: tuple[str, ...] = ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto")


@dataclass(frozen=True)
class LabeledTable:
    """Rows of one format with their column roles.

    Parameters
    ----------
    table
        The rows; holds the reserved columns, the feature columns and any identity columns.
    format
        Where the rows came from: ``"nsl-kdd"``, ``"unsw-nb15"``, ``"cic-ids2017"`` or
        ``"flow"`` (metered from a capture with the flow schema).
    numeric_columns
        Feature columns holding numbers.
    categorical_columns
        Feature columns holding categories (strings).
    skipped_rows
        Rows dropped because they were malformed and the user asked to skip them.
    """

    table: pa.Table
    format: str
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    skipped_rows: int = 0
    sources: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        present = set(self.table.column_names)  # column_names is rebuilt on every access
        missing = [
            c
            for c in (*RESERVED_COLUMNS, *self.numeric_columns, *self.categorical_columns)
            if c not in present
        ]
        if missing:
            raise ValueError(f"{self.format} table lacks columns: {', '.join(missing)}")

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return int(self.table.num_rows)

    def labels(self) -> list[str | None]:
        """Taxonomy labels, one per row (None where unknown)."""
        return list(self.table.column("label").to_pylist())

    def original_labels(self) -> list[str | None]:
        """The source's own labels, one per row."""
        return list(self.table.column("label_original").to_pylist())

    def attack_mask(self) -> npt.NDArray[np.bool_]:
        """True for rows labelled as an attack; raises if any label is unknown."""
        labels = self.labels()
        flags: list[bool] = []
        for label in labels:
            if label is None:
                raise ValueError(f"{self.format} rows without a label cannot be used here")
            flags.append(AttackClass(label).is_attack)
        return np.array(flags, dtype=np.bool_)

    def take(self, indices: npt.NDArray[np.int64] | list[int]) -> LabeledTable:
        """Return the rows at ``indices`` with the same column roles."""
        return LabeledTable(
            table=self.table.take(pa.array(indices, type=pa.int64())),
            format=self.format,
            numeric_columns=self.numeric_columns,
            categorical_columns=self.categorical_columns,
            skipped_rows=0,
            sources=self.sources,
        )

    def sample(self, max_rows: int, seed: int) -> LabeledTable:
        """At most ``max_rows`` rows drawn at random (seeded), in their original order.

        Examples
        --------
        >>> t = pa.table({"uid": list("abcd"), "label": ["benign"] * 4,
        ...               "label_original": ["n"] * 4})
        >>> LabeledTable(t, "demo", (), ()).sample(2, seed=0).num_rows
        2
        """
        if self.num_rows <= max_rows:
            return self
        rng = np.random.default_rng(seed)
        return self.take(np.sort(rng.choice(self.num_rows, max_rows, replace=False)))

    @staticmethod
    def concat(parts: list[LabeledTable]) -> LabeledTable:
        """Stack tables of one format (columns are unified by name)."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        formats = {p.format for p in parts}
        if len(formats) != 1:
            raise ValueError(f"cannot mix formats: {', '.join(sorted(formats))}")
        table = pa.concat_tables([p.table for p in parts], promote_options="permissive")
        return LabeledTable(
            table=table,
            format=first.format,
            numeric_columns=first.numeric_columns,
            categorical_columns=first.categorical_columns,
            skipped_rows=sum(p.skipped_rows for p in parts),
            sources=tuple(s for p in parts for s in p.sources),
        )
