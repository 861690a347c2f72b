"""UNSW-NB15 flow records: the training/testing partitions and the four raw files.

The partition files (``UNSW_NB15_training-set.csv``, ``UNSW_NB15_testing-set.csv``) have a
header (``id, dur, proto, ..., attack_cat, label``), often behind a UTF-8 byte order mark. The
raw files ``UNSW-NB15_1.csv`` .. ``_4.csv`` have no header and 49 cells per row, named in
``NUSW-NB15_features.csv``; their column names are renamed to the partition's (``Sload`` ->
``sload``, ``smeansz`` -> ``smean``, ...) so one model reads both. The raw files write
``attack_cat`` with spaces, ``Backdoors`` for ``Backdoor`` and nothing for normal rows.

Examples
--------
>>> matches(["id", "dur", "proto", "service", "sbytes", "dbytes", "attack_cat", "label"])
True
>>> matches(["59.166.0.0", "1390", "149.171.126.6", "53", "udp"] + ["0"] * 44)
True
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from swarmguard.acquire.datasets.assemble import assemble
from swarmguard.acquire.datasets.csvread import CsvLayout, read_rows
from swarmguard.acquire.datasets.identity import epoch_timestamps, ports
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.dataset import LabeledTable

__all__ = ["CATEGORICAL", "EXCLUDED", "NAME", "NUMERIC", "RAW_COLUMNS", "load", "matches"]

NAME = "unsw-nb15"

#: The raw files' 49 columns (NUSW-NB15_features.csv), renamed to the partition's names.
RAW_COLUMNS: tuple[str, ...] = (
    "srcip", "sport", "dstip", "dsport", "proto", "state", "dur", "sbytes", "dbytes", "sttl",
    "dttl", "sloss", "dloss", "service", "sload", "dload", "spkts", "dpkts", "swin", "dwin",
    "stcpb", "dtcpb", "smean", "dmean", "trans_depth", "response_body_len", "sjit", "djit",
    "stime", "ltime", "sinpkt", "dinpkt", "tcprtt", "synack", "ackdat", "is_sm_ips_ports",
    "ct_state_ttl", "ct_flw_http_mthd", "is_ftp_login", "ct_ftp_cmd", "ct_srv_src",
    "ct_srv_dst", "ct_dst_ltm", "ct_src_ltm", "ct_src_dport_ltm", "ct_dst_sport_ltm",
    "ct_dst_src_ltm", "attack_cat", "label",
)  # fmt: skip

CATEGORICAL: tuple[str, ...] = ("proto", "service", "state")

#: Feature columns (partition names, partition order). ``rate`` is absent from the raw files.
NUMERIC: tuple[str, ...] = (
    "dur", "spkts", "dpkts", "sbytes", "dbytes", "rate", "sload", "dload", "sloss", "dloss",
    "sinpkt", "dinpkt", "sjit", "djit", "swin", "dwin", "tcprtt", "synack", "ackdat", "smean",
    "dmean", "trans_depth", "response_body_len", "ct_srv_src", "ct_dst_ltm",
    "ct_src_dport_ltm", "ct_dst_sport_ltm", "ct_dst_src_ltm", "is_ftp_login", "ct_ftp_cmd",
    "ct_flw_http_mthd", "ct_src_ltm", "ct_srv_dst", "is_sm_ips_ports",
)  # fmt: skip

#: Columns read but never features, with the reason (docs/datasets.md repeats this).
EXCLUDED: dict[str, str] = {
    "id": "row number of the partition file",
    "srcip": "address (identity: src_ip)",
    "sport": "source port (identity: src_port)",
    "dstip": "address (identity: dest_ip)",
    "dsport": "destination port (identity: dest_port); the partitions do not have it",
    "stime": "timestamp (identity: ts)",
    "ltime": "timestamp of the last packet",
    "stcpb": "random TCP initial sequence number: noise a model can memorise",
    "dtcpb": "random TCP initial sequence number: noise a model can memorise",
    "sttl": "testbed artefact: fixed hop counts per host, the TTL leaks the label",
    "dttl": "testbed artefact, as sttl",
    "ct_state_ttl": "derived from sttl/dttl and state, leaks the label as sttl does",
    "attack_cat": "label",
    "label": "label (0/1)",
}

_RAW_RENAMES = {"ct_src_ ltm": "ct_src_ltm"}


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def matches(fields: list[str]) -> bool:
    """Whether a first row (split into cells) is a UNSW-NB15 partition header or raw record."""
    lowered = {f.strip().lstrip("\ufeff").lower() for f in fields}
    if {"attack_cat", "sbytes", "dbytes"} <= lowered:
        return True
    return (
        len(fields) == len(RAW_COLUMNS) and _looks_like_ip(fields[0]) and _looks_like_ip(fields[2])
    )


def load(
    path: Path,
    data: bytes,
    fields: list[str],
    *,
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
) -> LabeledTable:
    """Read one UNSW-NB15 file (``fields``: its first row, split)."""
    raw = not any(f.strip().lstrip("\ufeff").lower() == "attack_cat" for f in fields)
    if raw:
        names = RAW_COLUMNS
    else:
        names = tuple(
            _RAW_RENAMES.get(n, n) for n in (f.strip().lstrip("\ufeff").lower() for f in fields)
        )
        missing = [c for c in (*CATEGORICAL, "attack_cat") if c not in names]
        if missing or len(set(names)) != len(names):
            raise InputError(
                path, f"not a UNSW-NB15 partition header (lacks {', '.join(missing)})", line=1
            )
    numeric = tuple(c for c in NUMERIC if c in names)
    text = (*CATEGORICAL, "attack_cat")
    if raw:
        numeric = (*numeric, "stime", "label")
        text = (*text, "srcip", "sport", "dstip", "dsport")
    layout = CsvLayout(names=names, header=not raw, numeric=numeric, text=text)
    rows = read_rows(path, data, layout, skip_bad=skip_bad, skip_log=skip_log)
    t = rows.table
    identity: dict[str, pa.Array | pa.ChunkedArray] = {}
    attack_cat = t.column("attack_cat")
    if raw:
        identity = {
            "ts": epoch_timestamps(path.name, t.column("stime")),
            "src_ip": t.column("srcip"),
            "src_port": ports(t.column("sport")),
            "dest_ip": t.column("dstip"),
            "dest_port": ports(t.column("dsport")),
        }
        # the raw files leave attack_cat empty on normal rows (label 0)
        normal = pc.and_(pc.equal(attack_cat, ""), pc.equal(t.column("label"), 0))
        attack_cat = pc.if_else(normal, "Normal", attack_cat)
    return assemble(
        NAME,
        path,
        rows,
        numeric={c: t.column(c) if c in names else None for c in NUMERIC},
        categorical={c: t.column(c) for c in CATEGORICAL},
        identity=identity,
        label_original=attack_cat,
    )
