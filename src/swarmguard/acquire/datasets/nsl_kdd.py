"""NSL-KDD (and KDD'99) connection records.

The original files (``KDDTrain+.txt``, ``KDDTest+.txt``, ...) have no header and 43 cells per
row: the 41 KDD features, the label and a difficulty level (how many of 21 learners got the
row right, so it is derived from the label and never a feature). A 42-cell variant without the
difficulty, and CSV files that start with the standard feature names, read the same way.

Examples
--------
>>> matches(["0", "tcp", "http", "SF"] + ["0"] * 37 + ["normal", "21"])
True
>>> matches(["duration", "protocol_type", "service", "flag"])
True
"""

from __future__ import annotations

from pathlib import Path

from swarmguard.acquire.datasets.assemble import assemble
from swarmguard.acquire.datasets.csvread import CsvLayout, read_rows
from swarmguard.acquire.datasets.identity import proto_from_name
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.dataset import LabeledTable

__all__ = ["CATEGORICAL", "FEATURES", "NAME", "NUMERIC", "load", "matches"]

NAME = "nsl-kdd"

#: The 41 KDD features in file order.
FEATURES: tuple[str, ...] = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
    "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised",
    "root_shell", "su_attempted", "num_root", "num_file_creations", "num_shells",
    "num_access_files", "num_outbound_cmds", "is_host_login", "is_guest_login", "count",
    "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate",
    "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
    "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)  # fmt: skip
CATEGORICAL: tuple[str, ...] = ("protocol_type", "service", "flag")
NUMERIC: tuple[str, ...] = tuple(f for f in FEATURES if f not in CATEGORICAL)

_PROTOCOLS = {"tcp", "udp", "icmp"}
_LABEL = "class"
_DIFFICULTY = "difficulty"


def matches(fields: list[str]) -> bool:
    """Whether a first row (split into cells) is an NSL-KDD header or record."""
    lowered = [f.strip().lower() for f in fields]
    if lowered[:4] == list(FEATURES[:4]):
        return True
    if len(fields) not in (42, 43) or lowered[1] not in _PROTOCOLS:
        return False
    try:
        float(fields[0])
        float(fields[4])
    except ValueError:
        return False
    return True


def load(
    path: Path,
    data: bytes,
    fields: list[str],
    *,
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
) -> LabeledTable:
    """Read one NSL-KDD file (``fields``: its first row, split)."""
    header = fields[0].strip().lower() == FEATURES[0]
    if len(fields) not in (42, 43):
        raise InputError(
            path, f"NSL-KDD rows have 42 or 43 columns, this one has {len(fields)}", line=1
        )
    names = (*FEATURES, _LABEL, _DIFFICULTY)[: len(fields)]
    layout = CsvLayout(
        names=names,
        header=header,
        numeric=NUMERIC,
        text=(*CATEGORICAL, _LABEL),
    )
    rows = read_rows(path, data, layout, skip_bad=skip_bad, skip_log=skip_log)
    t = rows.table
    return assemble(
        NAME,
        path,
        rows,
        numeric={name: t.column(name) for name in NUMERIC},
        categorical={name: t.column(name) for name in CATEGORICAL},
        identity={"proto": proto_from_name(t.column("protocol_type"))},
        label_original=t.column(_LABEL),
    )
