"""Put a reader's columns together into a ``LabeledTable`` with the reserved columns first."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from swarmguard.acquire.datasets.csvread import CsvRows
from swarmguard.acquire.datasets.identity import uid_column
from swarmguard.acquire.datasets.taxonomy import label_columns
from swarmguard.records.dataset import LabeledTable

__all__ = ["assemble"]


def assemble(
    fmt: str,
    path: Path,
    rows: CsvRows,
    *,
    numeric: dict[str, pa.Array | pa.ChunkedArray | None],
    categorical: dict[str, pa.Array | pa.ChunkedArray],
    identity: dict[str, pa.Array | pa.ChunkedArray],
    label_original: pa.Array | pa.ChunkedArray,
) -> LabeledTable:
    """Build the table: uid, label, label_original, identity, numeric, categorical columns.

    A numeric column given as None is one the variant lacks: it is filled with nulls so that
    every file of a format has the same feature columns.
    """
    n = rows.table.num_rows
    labels = label_columns(fmt, path.name, label_original)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "uid": uid_column(path.name, rows.lines),
        "label": labels.column("label"),
        "label_original": labels.column("label_original"),
    }
    columns.update(identity)
    for name, col in numeric.items():
        columns[name] = pa.nulls(n, pa.float64()) if col is None else col
    columns.update(categorical)
    return LabeledTable(
        table=pa.table(columns),
        format=fmt,
        numeric_columns=tuple(numeric),
        categorical_columns=tuple(categorical),
        skipped_rows=rows.skipped,
        sources=(str(path),),
    )
