"""The data-quality score an agent computes on its own rows and reports with its update.

``q = completeness * (0.5 + 0.5 * uniqueness) * labelled``, in (0, 1], floored at ``0.05`` so
that no agent is silenced by the score alone:

``completeness``
    share of numeric feature values that are present and finite (a sensor that drops fields or
    writes ``inf`` rates lower);
``uniqueness``
    share of distinct feature rows (a replayed or looping capture rates lower; capped at halving
    the score, since floods legitimately repeat rows);
``labelled``
    share of rows with a known label (unlabelled rows cannot train a supervised detector).

Only this number leaves the agent, never the rows it was computed from.

Examples
--------
>>> import pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> t = pa.table({"uid": list("abcd"), "x": [1.0, 2.0, None, 2.0],
...               "label": ["benign"] * 4, "label_original": ["n"] * 4})
>>> quality_score(LabeledTable(t, "demo", ("x",), ()))
0.65625
"""

from __future__ import annotations

import numpy as np

from swarmguard.features.tabular import numeric_matrix
from swarmguard.records.dataset import LabeledTable

__all__ = ["MIN_QUALITY", "quality_score"]

MIN_QUALITY = 0.05


def quality_score(rows: LabeledTable) -> float:
    """The agent's data-quality score in ``[MIN_QUALITY, 1]`` (see the module docstring)."""
    n = rows.num_rows
    if n == 0:
        return MIN_QUALITY
    x = numeric_matrix(rows.table, rows.numeric_columns)
    completeness = float(np.isfinite(x).mean()) if x.size else 1.0
    if x.shape[1]:
        filled = np.where(np.isfinite(x), x, np.nan)
        distinct = np.unique(np.nan_to_num(filled, nan=np.finfo(np.float64).max), axis=0)
        uniqueness = distinct.shape[0] / n
    else:
        uniqueness = 1.0
    labelled = 1.0 - rows.table.column("label").null_count / n
    score = completeness * (0.5 + 0.5 * uniqueness) * labelled
    return float(min(1.0, max(MIN_QUALITY, score)))
