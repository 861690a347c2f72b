r"""CIC-IDS2017 CICFlowMeter flows, in both column vocabularies.

*Improved* files (Engelen, Rimmer, Joosen, WTMC 2021) name columns ``Src IP``, ``Dst Port``,
``Total Fwd Packet``, ``Label``, ``Attempted Category``. The *original* CIC files
(``MachineLearningCVE``, ``TrafficLabelling``) write ``" Destination Port"`` with a leading
space, ``Total Fwd Packets``, ``Init_Win_bytes_forward``, a second ``Fwd Header Length`` (a
CICFlowMeter bug: an exact copy), ``Infinity`` in the rate columns, and the label
``Web Attack \x96 Brute Force`` in cp1252. Both read into the improved names (see
``ORIGINAL_RENAMES``); a column one vocabulary lacks is null, so a model trained on one variant
scores the other.

Examples
--------
>>> canonical_name(" Total Backward Packets")
'Total Bwd packets'
>>> canonical_name("Init_Win_bytes_forward")
'FWD Init Win Bytes'
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa

from swarmguard.acquire.datasets.assemble import assemble
from swarmguard.acquire.datasets.csvread import CsvLayout, read_rows
from swarmguard.acquire.datasets.identity import ports, proto_from_number, text_timestamps
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.dataset import LabeledTable

__all__ = [
    "COLUMNS",
    "EXCLUDED",
    "NAME",
    "NUMERIC",
    "ORIGINAL_RENAMES",
    "canonical_name",
    "load",
    "matches",
]

_log = logging.getLogger(__name__)

NAME = "cic-ids2017"

#: The improved re-extraction's 91 columns, in file order: the canonical names.
COLUMNS: tuple[str, ...] = (
    "id", "Flow ID", "Src IP", "Src Port", "Dst IP", "Dst Port", "Protocol", "Timestamp",
    "Flow Duration", "Total Fwd Packet", "Total Bwd packets", "Total Length of Fwd Packet",
    "Total Length of Bwd Packet", "Fwd Packet Length Max", "Fwd Packet Length Min",
    "Fwd Packet Length Mean", "Fwd Packet Length Std", "Bwd Packet Length Max",
    "Bwd Packet Length Min", "Bwd Packet Length Mean", "Bwd Packet Length Std", "Flow Bytes/s",
    "Flow Packets/s", "Flow IAT Mean", "Flow IAT Std", "Flow IAT Max", "Flow IAT Min",
    "Fwd IAT Total", "Fwd IAT Mean", "Fwd IAT Std", "Fwd IAT Max", "Fwd IAT Min",
    "Bwd IAT Total", "Bwd IAT Mean", "Bwd IAT Std", "Bwd IAT Max", "Bwd IAT Min",
    "Fwd PSH Flags", "Bwd PSH Flags", "Fwd URG Flags", "Bwd URG Flags", "Fwd RST Flags",
    "Bwd RST Flags", "Fwd Header Length", "Bwd Header Length", "Fwd Packets/s",
    "Bwd Packets/s", "Packet Length Min", "Packet Length Max", "Packet Length Mean",
    "Packet Length Std", "Packet Length Variance", "FIN Flag Count", "SYN Flag Count",
    "RST Flag Count", "PSH Flag Count", "ACK Flag Count", "URG Flag Count", "CWR Flag Count",
    "ECE Flag Count", "Down/Up Ratio", "Average Packet Size", "Fwd Segment Size Avg",
    "Bwd Segment Size Avg", "Fwd Bytes/Bulk Avg", "Fwd Packet/Bulk Avg", "Fwd Bulk Rate Avg",
    "Bwd Bytes/Bulk Avg", "Bwd Packet/Bulk Avg", "Bwd Bulk Rate Avg", "Subflow Fwd Packets",
    "Subflow Fwd Bytes", "Subflow Bwd Packets", "Subflow Bwd Bytes", "FWD Init Win Bytes",
    "Bwd Init Win Bytes", "Fwd Act Data Pkts", "Fwd Seg Size Min", "Active Mean",
    "Active Std", "Active Max", "Active Min", "Idle Mean", "Idle Std", "Idle Max", "Idle Min",
    "ICMP Code", "ICMP Type", "Total TCP Flow Time", "Label", "Attempted Category",
)  # fmt: skip

#: Original CICFlowMeter names (stripped) -> improved names, where they differ.
ORIGINAL_RENAMES: dict[str, str] = {
    "Source IP": "Src IP",
    "Source Port": "Src Port",
    "Destination IP": "Dst IP",
    "Destination Port": "Dst Port",
    "Total Fwd Packets": "Total Fwd Packet",
    "Total Backward Packets": "Total Bwd packets",
    "Total Length of Fwd Packets": "Total Length of Fwd Packet",
    "Total Length of Bwd Packets": "Total Length of Bwd Packet",
    "Min Packet Length": "Packet Length Min",
    "Max Packet Length": "Packet Length Max",
    "CWE Flag Count": "CWR Flag Count",
    "Avg Fwd Segment Size": "Fwd Segment Size Avg",
    "Avg Bwd Segment Size": "Bwd Segment Size Avg",
    "Fwd Avg Bytes/Bulk": "Fwd Bytes/Bulk Avg",
    "Fwd Avg Packets/Bulk": "Fwd Packet/Bulk Avg",
    "Fwd Avg Bulk Rate": "Fwd Bulk Rate Avg",
    "Bwd Avg Bytes/Bulk": "Bwd Bytes/Bulk Avg",
    "Bwd Avg Packets/Bulk": "Bwd Packet/Bulk Avg",
    "Bwd Avg Bulk Rate": "Bwd Bulk Rate Avg",
    "Init_Win_bytes_forward": "FWD Init Win Bytes",
    "Init_Win_bytes_backward": "Bwd Init Win Bytes",
    "act_data_pkt_fwd": "Fwd Act Data Pkts",
    "min_seg_size_forward": "Fwd Seg Size Min",
}

#: Columns never used as features, with the reason (docs/datasets.md repeats this).
EXCLUDED: dict[str, str] = {
    "id": "row number of the re-extraction",
    "Flow ID": "5-tuple string: identity",
    "Src IP": "address (identity: src_ip)",
    "Src Port": "ephemeral source port (identity: src_port)",
    "Dst IP": "address (identity: dest_ip)",
    "Timestamp": "capture time (identity: ts); it separates the attack days",
    "Label": "label",
    "Attempted Category": "derived from the label (which attempted attack)",
}

NUMERIC: tuple[str, ...] = tuple(c for c in COLUMNS if c not in EXCLUDED)

_BY_KEY = {c.lower(): c for c in COLUMNS} | {k.lower(): v for k, v in ORIGINAL_RENAMES.items()}
_TEXT = ("Src IP", "Src Port", "Dst IP", "Timestamp", "Label")
_DUPLICATE = "Fwd Header Length (duplicate)"


def canonical_name(name: str) -> str | None:
    """The improved-vocabulary name of a column, or None when it is not a CIC-IDS2017 column."""
    return _BY_KEY.get(" ".join(name.strip().lstrip("\ufeff").split()).lower())


def matches(fields: list[str]) -> bool:
    """Whether a header row (split into cells) is a CIC-IDS2017 header, either vocabulary."""
    names = {canonical_name(f) for f in fields}
    return {"Flow Duration", "Dst Port", "Label"} <= names


def load(
    path: Path,
    data: bytes,
    fields: list[str],
    *,
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
) -> LabeledTable:
    """Read one CIC-IDS2017 file (``fields``: its header, split)."""
    names: list[str] = []
    unknown: list[str] = []
    for i, field in enumerate(fields):
        name = canonical_name(field)
        if name is None:
            unknown.append(field.strip())
            name = f"unused column {i + 1}"
        elif name in names:
            name = _DUPLICATE if name == "Fwd Header Length" else f"{name} (column {i + 1})"
        names.append(name)
    if unknown:
        _log.debug("%s: columns not in CIC-IDS2017, not read: %s", path.name, unknown)
    for required in ("Flow Duration", "Label"):
        if required not in names:
            raise InputError(path, f"CIC-IDS2017 header lacks {required!r}", line=1)
    numeric = tuple(c for c in NUMERIC if c in names)
    text = tuple(c for c in _TEXT if c in names)
    layout = CsvLayout(
        names=tuple(names), header=True, numeric=numeric, text=text, cp1252=("Label",)
    )
    rows = read_rows(path, data, layout, skip_bad=skip_bad, skip_log=skip_log)
    t = rows.table
    original = "Destination Port" in {" ".join(f.split()) for f in fields}
    identity: dict[str, pa.Array | pa.ChunkedArray] = {}
    if "Timestamp" in names:
        identity["ts"] = text_timestamps(
            path.name, t.column("Timestamp"), day_first_offset_h=-3.0 if original else 0.0
        )
    for src, dst in (("Src IP", "src_ip"), ("Dst IP", "dest_ip")):
        if src in names:
            identity[dst] = t.column(src)
    if "Src Port" in names:
        identity["src_port"] = ports(t.column("Src Port"))
    identity["dest_port"] = ports(t.column("Dst Port"))
    if "Protocol" in names:
        identity["proto"] = proto_from_number(t.column("Protocol"))
    return assemble(
        NAME,
        path,
        rows,
        numeric={c: t.column(c) if c in names else None for c in NUMERIC},
        categorical={},
        identity=identity,
        label_original=t.column("Label"),
    )
