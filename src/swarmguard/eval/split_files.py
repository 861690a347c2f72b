"""Write a split back out as files in the dataset's own format, by copying original lines.

Each row's ``uid`` is ``<file name>:<line>``, so the split copies those exact lines (and each
file's header lines) into ``OUT/train/`` and ``OUT/test/``. The result can be fed to
``swarmguard evaluate --train OUT/train --test OUT/test`` and to any other tool.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import numpy.typing as npt

from swarmguard.records.dataset import LabeledTable

__all__ = ["write_split"]


def _parse_uid(uid: str) -> tuple[str, int]:
    name, _, line = uid.rpartition(":")
    if not name or not line.isdigit():
        raise ValueError(f"row uid {uid!r} is not '<file>:<line>'; cannot copy original lines")
    return name, int(line)


def _source_files(data: Path) -> dict[str, Path]:
    files = sorted(p for p in data.iterdir() if p.is_file()) if data.is_dir() else [data]
    return {p.name: p for p in files}


def write_split(
    data: Path,
    rows: LabeledTable,
    train: npt.NDArray[np.int64],
    test: npt.NDArray[np.int64],
    out_dir: Path,
) -> dict[str, int]:
    """Copy the lines of ``train`` and ``test`` rows from ``data`` into ``out_dir/{train,test}``.

    Returns the number of data lines written per side.
    """
    uids = rows.table.column("uid").to_pylist()
    files = _source_files(data)
    wanted: dict[str, dict[int, str]] = defaultdict(dict)
    for side, idx in (("train", train), ("test", test)):
        for i in idx.tolist():
            name, line = _parse_uid(str(uids[i]))
            if name not in files:
                raise ValueError(f"row {uids[i]} names a file that is not in {data}")
            wanted[name][line] = side
    counts = {"train": 0, "test": 0}
    for side in counts:
        (out_dir / side).mkdir(parents=True, exist_ok=True)
    for name, lines in wanted.items():
        first_data = min(lines)
        with files[name].open("rb") as src:
            raw = src.readlines()
        header = raw[: first_data - 1]
        for side in counts:
            chosen = [raw[n - 1] for n in sorted(lines) if lines[n] == side]
            if not chosen:
                continue
            with (out_dir / side / name).open("wb") as dst:
                dst.writelines(header)
                dst.writelines(chosen)
            counts[side] += len(chosen)
    return counts
