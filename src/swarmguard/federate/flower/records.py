"""Flower records for what crosses the wire: parameters, ciphertexts, feature statistics.

Examples
--------
>>> import numpy as np
>>> rec = params_record([np.ones(2), np.zeros((1, 3))])
>>> [a.shape for a in params_from(rec)]
[(2,), (1, 3)]
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord

from swarmguard.features.stats import FeatureStats
from swarmguard.federate.crypto.ckks import EncryptedVector
from swarmguard.federate.strategies.base import Parameters

__all__ = [
    "as_float",
    "as_int",
    "encrypted_from",
    "encrypted_record",
    "params_from",
    "params_record",
    "record_nbytes",
    "stats_from",
    "stats_records",
]


def as_float(value: object) -> float:
    """A record value that must be one number, as ``float``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def as_int(value: object) -> int:
    """A record value that must be one integer, as ``int``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def params_record(parameters: Parameters) -> ArrayRecord:
    """Parameters as an ``ArrayRecord`` (float64)."""
    return ArrayRecord([np.asarray(p, dtype=np.float64) for p in parameters])


def params_from(record: ArrayRecord) -> Parameters:
    """Parameters back from ``params_record``."""
    return [np.asarray(a, dtype=np.float64) for a in record.to_numpy_ndarrays()]


def encrypted_record(vector: EncryptedVector) -> ConfigRecord:
    """Serialised ciphertexts as a ``ConfigRecord``."""
    return ConfigRecord({"chunks": list(vector.chunks), "length": vector.length})


def encrypted_from(record: ConfigRecord) -> EncryptedVector:
    """Ciphertexts back from ``encrypted_record``."""
    chunks = record["chunks"]
    if not isinstance(chunks, list) or not all(isinstance(c, bytes) for c in chunks):
        raise ValueError("malformed encrypted record")
    length = record["length"]
    if not isinstance(length, int):
        raise ValueError("malformed encrypted record")
    return EncryptedVector(chunks=tuple(c for c in chunks if isinstance(c, bytes)), length=length)


def stats_records(stats: FeatureStats) -> tuple[ArrayRecord, ConfigRecord]:
    """Feature statistics (counts and sums, never rows) as two records."""
    arrays = ArrayRecord([stats.count, stats.total, stats.total_sq])
    config = ConfigRecord(
        {
            "format": stats.format,
            "numeric_columns": list(stats.numeric_columns),
            "categorical_columns": list(stats.categorical_columns),
            "rows": int(stats.rows),
            "category_counts": json.dumps(stats.category_counts, sort_keys=True),
        }
    )
    return arrays, config


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def stats_from(arrays: ArrayRecord, config: ConfigRecord) -> FeatureStats:
    """Feature statistics back from ``stats_records``."""
    count, total, total_sq = (np.asarray(a, np.float64) for a in arrays.to_numpy_ndarrays())
    cats = json.loads(str(config["category_counts"]))
    return FeatureStats(
        format=str(config["format"]),
        numeric_columns=_strings(config["numeric_columns"]),
        categorical_columns=_strings(config["categorical_columns"]),
        rows=as_int(config["rows"]),
        count=count,
        total=total,
        total_sq=total_sq,
        category_counts={str(k): {str(a): int(b) for a, b in v.items()} for k, v in cats.items()},
    )


def record_nbytes(record: ArrayRecord | ConfigRecord) -> int:
    """Approximate payload bytes of a record (array data or bytes values)."""
    if isinstance(record, ArrayRecord):
        return int(sum(len(a.data) for a in record.values()))
    size = 0
    for value in record.values():
        if isinstance(value, bytes):
            size += len(value)
        elif isinstance(value, list):
            size += sum(len(v) if isinstance(v, bytes) else 8 for v in value)
        else:
            size += 8
    return size
