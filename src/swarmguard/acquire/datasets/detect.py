r"""Recognise a dataset file's format from its first row, and list a directory's data files.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d) / "KDDTest+.txt"
...     _ = p.write_bytes(b"0,udp,private,SF," + b"0," * 37 + b"snmpguess,7\r\n")
...     detect_format(p)
'nsl-kdd'
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path

from swarmguard.acquire.datasets import cic_ids2017, nsl_kdd, unsw_nb15
from swarmguard.acquire.datasets.csvread import first_line
from swarmguard.errors import InputError

__all__ = ["DATASET_FORMATS", "IGNORED_FILES", "data_files", "detect_format", "split_row"]

_log = logging.getLogger(__name__)

DATASET_FORMATS: tuple[str, ...] = ("nsl-kdd", "unsw-nb15", "cic-ids2017")

#: Files that ship beside the data but are not data (lower case): feature lists, event lists.
IGNORED_FILES: frozenset[str] = frozenset(
    {"nusw-nb15_features.csv", "unsw-nb15_list_events.csv", "nusw-nb15_gt.csv"}
)

_MATCHERS: tuple[tuple[str, Callable[[list[str]], bool]], ...] = (
    (cic_ids2017.NAME, cic_ids2017.matches),
    (unsw_nb15.NAME, unsw_nb15.matches),
    (nsl_kdd.NAME, nsl_kdd.matches),
)
_HEAD = 1 << 20
#: Where a sandbox output folder keeps its CIC-IDS2017 rows.
SANDBOX_DATASET = "dataset"


def split_row(text: str) -> list[str]:
    """Split one CSV line into cells (quotes honoured)."""
    return next(csv.reader([text]), [])


def data_files(path: Path) -> list[Path]:
    """The CSV/TXT files of a directory (sorted), or ``[path]`` for a file.

    A directory with no data files of its own but a ``dataset/`` folder (the output folder of
    ``swarmguard sandbox run``) stands for that folder.

    Raises
    ------
    InputError
        If the path does not exist or the directory holds no CSV/TXT data files.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(path, "no such file or directory")
    files = _own_data_files(path)
    if not files and (path / SANDBOX_DATASET).is_dir():
        files = _own_data_files(path / SANDBOX_DATASET)
    if not files:
        raise InputError(path, "directory holds no .csv or .txt data files")
    return files


def _own_data_files(path: Path) -> list[Path]:
    files = []
    for child in sorted(path.iterdir()):
        if not child.is_file() or child.suffix.lower() not in (".csv", ".txt"):
            continue
        if child.name.lower() in IGNORED_FILES:
            _log.info("%s: not a data file, ignored", child)
            continue
        files.append(child)
    return files


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(_HEAD)
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc


def detect_format(path: Path) -> str:
    """Return the dataset format of a file, or of a directory whose data files all agree.

    Raises
    ------
    InputError
        If a file is not one of ``DATASET_FORMATS`` (line 1), or a directory mixes formats
        (naming the first file that differs from the first file's format).
    """
    found: str | None = None
    first: Path | None = None
    for file in data_files(path):
        fmt = _detect_file(file)
        if found is None:
            found, first = fmt, file
        elif fmt != found:
            raise InputError(
                file, f"is {fmt} but {first.name if first else '?'} is {found}: mixed formats"
            )
    assert found is not None
    return found


def _detect_file(path: Path) -> str:
    head = _head(path)
    line, text, _ = first_line(path, head)
    fields = split_row(text)
    for name, matches in _MATCHERS:
        if matches(fields):
            return name
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise InputError(
        path,
        f"unrecognised dataset format ({len(fields)} columns: {shown!r}); "
        f"expected one of {', '.join(DATASET_FORMATS)}",
        line=line,
    )
