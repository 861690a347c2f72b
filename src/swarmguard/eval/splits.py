"""Honest train/test splits: hold out whole attack families, attack types or days.

A random row split lets near-duplicate rows of one attack sit on both sides and flatters every
detector. The splits here keep every row of a held-out attack family (or type, or day) out of
training, so the test measures detection of attacks the model has never seen; benign rows are
split at random (or by day).

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> t = pa.table({"uid": list("abcdef"), "x": [0.0] * 6,
...               "label": ["benign", "benign", "dos", "dos", "probe", "probe"],
...               "label_original": ["n", "n", "smurf", "smurf", "nmap", "nmap"]})
>>> rows = LabeledTable(t, "demo", ("x",), ())
>>> s = split_rows(rows, by="family", holdout=["probe"], test_fraction=0.5, seed=0)
>>> sorted(rows.labels()[i] for i in s.test)
['benign', 'probe', 'probe']
>>> "probe" in {rows.labels()[i] for i in s.train}
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow.compute as pc

from swarmguard.records.dataset import LabeledTable
from swarmguard.records.labels import AttackClass

__all__ = ["Split", "SplitBy", "split_rows"]

SplitBy = Literal["random", "family", "type", "day"]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Split:
    """Row indices of the two sides and what was held out."""

    train: IntArray
    test: IntArray
    by: SplitBy
    held_out: tuple[str, ...]


def _pick_holdout(values: list[str], seed: int, fraction: float) -> list[str]:
    rng = np.random.default_rng(seed)
    ordered = sorted(set(values))
    k = max(1, round(len(ordered) * fraction))
    return sorted(rng.choice(ordered, size=min(k, len(ordered)), replace=False).tolist())


def split_rows(
    rows: LabeledTable,
    *,
    by: SplitBy = "family",
    holdout: list[str] | None = None,
    test_fraction: float = 0.3,
    seed: int = 0,
) -> Split:
    """Split ``rows`` into train and test index sets.

    Parameters
    ----------
    by
        ``random``: rows at random (stratified by original label). ``family``: every row of the
        held-out taxonomy families goes to test. ``type``: the same for original attack labels.
        ``day``: every row of the held-out UTC days goes to test (needs ``ts``).
    holdout
        What to hold out; default: a seeded random ``test_fraction`` of the families/types/days.
    test_fraction
        Share of benign rows (and of rows, for ``random``) put in test.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test fraction must be between 0 and 1")
    n = rows.num_rows
    rng = np.random.default_rng(seed)
    labels = rows.labels()
    originals = rows.original_labels()
    benign = np.array([lab == AttackClass.BENIGN.value for lab in labels], dtype=bool)
    if by == "random":
        test_mask = np.zeros(n, dtype=bool)
        keys = np.array([str(o) for o in originals], dtype=object)
        for key in sorted(set(keys.tolist())):
            idx = np.flatnonzero(keys == key)
            rng.shuffle(idx)
            test_mask[idx[: round(len(idx) * test_fraction)]] = True
        held: list[str] = []
    elif by in ("family", "type"):
        keys_list = [str(lab) for lab in (labels if by == "family" else originals)]
        candidates = [k for k, b in zip(keys_list, benign, strict=True) if not b]
        if not candidates:
            raise ValueError("no attack rows to hold out")
        held = sorted(holdout) if holdout else _pick_holdout(candidates, seed, test_fraction)
        unknown = set(held) - set(candidates)
        if unknown:
            raise ValueError(
                f"nothing to hold out named {', '.join(sorted(unknown))}; "
                f"present: {', '.join(sorted(set(candidates)))}"
            )
        held_set = set(held)
        test_mask = np.array([k in held_set for k in keys_list], dtype=bool)
        test_mask |= benign & (rng.random(n) < test_fraction)
    elif by == "day":
        if "ts" not in rows.table.column_names:
            raise ValueError(f"{rows.format} rows have no timestamps to split by day")
        days = pc.strftime(rows.table.column("ts"), format="%Y-%m-%d").to_pylist()
        known = [d for d in days if d is not None]
        if len(set(known)) < 2:
            raise ValueError("need at least two distinct days to split by day")
        held = sorted(holdout) if holdout else _pick_holdout(known, seed, test_fraction)
        held_set = set(held)
        test_mask = np.array([d in held_set for d in days], dtype=bool)
    else:
        raise ValueError(f"unknown split {by!r}: use random, family, type or day")
    if by != "day" and by != "random" and (~test_mask & ~benign).sum() == 0:
        raise ValueError("holding that out leaves no attack rows for training")
    return Split(
        train=np.flatnonzero(~test_mask).astype(np.int64),
        test=np.flatnonzero(test_mask).astype(np.int64),
        by=by,
        held_out=tuple(held),
    )
