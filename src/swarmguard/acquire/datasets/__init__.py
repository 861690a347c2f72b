r"""Public dataset readers: NSL-KDD, UNSW-NB15 and CIC-IDS2017 files in, ``LabeledTable`` out.

Contract: ``load_dataset`` reads a file, or a directory of files of one format, into a
``LabeledTable`` with the reserved columns (``uid`` = ``<file name>:<line>``, ``label`` from the
taxonomy tables in ``taxonomy``, ``label_original``), the identity columns the format has, and
the dataset's own feature columns (names stripped; CIC-IDS2017's two vocabularies unified).
Bad input raises ``InputError`` naming the file and line; with ``skip_bad=True`` bad rows are
dropped and counted in the ``SkipLog`` and ``LabeledTable.skipped_rows``.
See ``docs/datasets.md``.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d) / "KDDTest+.txt"
...     _ = p.write_bytes(b"0,tcp,http,SF," + b"0," * 37 + b"normal,21\r\n")
...     table = load_dataset(p)
>>> table.format, table.num_rows, table.labels(), table.table.column("uid").to_pylist()
('nsl-kdd', 1, ['benign'], ['KDDTest+.txt:1'])
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from swarmguard.acquire.datasets import cic_ids2017, nsl_kdd, unsw_nb15
from swarmguard.acquire.datasets.csvread import first_line, read_bytes
from swarmguard.acquire.datasets.detect import (
    DATASET_FORMATS,
    data_files,
    detect_format,
    split_row,
)
from swarmguard.errors import SkipLog
from swarmguard.records.dataset import LabeledTable

__all__ = ["DATASET_FORMATS", "detect_format", "load_dataset"]

_log = logging.getLogger(__name__)


class _Loader(Protocol):
    def __call__(
        self,
        path: Path,
        data: bytes,
        fields: list[str],
        *,
        skip_bad: bool = ...,
        skip_log: SkipLog | None = ...,
    ) -> LabeledTable: ...


_LOADERS: dict[str, _Loader] = {
    nsl_kdd.NAME: nsl_kdd.load,
    unsw_nb15.NAME: unsw_nb15.load,
    cic_ids2017.NAME: cic_ids2017.load,
}


def load_dataset(
    path: Path,
    fmt: str = "auto",
    *,
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> LabeledTable:
    """Read a dataset file or a directory of files of one format.

    Parameters
    ----------
    path
        A file, or a directory whose ``.csv`` / ``.txt`` files all hold one format.
    fmt
        One of ``DATASET_FORMATS``, or ``"auto"`` to recognise it from the files.
    skip_bad
        Drop malformed rows (counted in ``skip_log`` and ``skipped_rows``) instead of raising.
    skip_log
        Where skipped rows are counted (file name, line, reason).
    progress
        Called with the number of bytes read so far, over all files.

    Raises
    ------
    InputError
        For an unreadable, empty, binary or unrecognised file, or a malformed row (unless
        ``skip_bad``), naming the file and the 1-based line.
    ValueError
        If ``fmt`` is not ``"auto"`` or one of ``DATASET_FORMATS``.
    """
    if fmt != "auto" and fmt not in DATASET_FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; expected one of {DATASET_FORMATS}")
    path = Path(path)
    files = data_files(path)
    if fmt == "auto":
        fmt = detect_format(path)
    loader = _LOADERS[fmt]
    parts: list[LabeledTable] = []
    done = 0
    for file in files:
        data = read_bytes(file, done, progress)
        done += len(data)
        _, text, _ = first_line(file, data)
        fields = split_row(text)
        parts.append(loader(file, data, fields, skip_bad=skip_bad, skip_log=skip_log))
        _log.info("%s: %d rows (%d skipped)", file, parts[-1].num_rows, parts[-1].skipped_rows)
    return parts[0] if len(parts) == 1 else LabeledTable.concat(parts)
