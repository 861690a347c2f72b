"""Capture flows (``FLOW_SCHEMA``) as rows of a public dataset's feature columns.

A model trained on CIC-IDS2017, UNSW-NB15 or NSL-KDD scores live traffic only if the live
flows are described in the dataset's own columns and units. ``flows_to_dataset`` computes
every column it can from the flow statistics, converts units (CIC-IDS2017: microseconds,
bytes/s, packets/s; UNSW-NB15: seconds, bits/s, milliseconds), and fills the rest with null
for the preprocessor to impute from training data. ``mapping_coverage`` says, per column,
whether the value is ``exact``, ``approximate`` or ``unavailable``; ``docs/feature-mapping.md``
gives the formulas.

Examples
--------
>>> mapping_coverage("cic-ids2017")["Flow Duration"]
'exact'
>>> mapping_coverage("nsl-kdd")["hot"]
'unavailable'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from swarmguard.acquire.datasets import cic_ids2017, nsl_kdd, unsw_nb15
from swarmguard.records.dataset import IDENTITY_COLUMNS, LabeledTable
from swarmguard.records.flow import FLOW_SCHEMA, validate_flow_table

__all__ = ["FLOW_FEATURES", "flows_as_table", "flows_to_dataset", "mapping_coverage"]

Col: TypeAlias = "pa.Array | pa.ChunkedArray"
_Fn = Callable[[pa.Table], Col]

US = 1e6  # microseconds per second
MS = 1e3  # milliseconds per second


@dataclass(frozen=True)
class _Rule:
    coverage: str  # "exact" | "approximate"
    compute: _Fn


def _f(table: pa.Table, name: str) -> pa.ChunkedArray:
    return pc.cast(table.column(name), pa.float64())


def _col(name: str, scale: float = 1.0, coverage: str = "exact") -> _Rule:
    if scale == 1.0:
        return _Rule(coverage, lambda t: _f(t, name))
    return _Rule(coverage, lambda t: pc.multiply(_f(t, name), scale))


def _div(num: Col, den: Col) -> Col:
    """Divide num by den, null where den is 0 (the datasets' Infinity / NaN, which readers null)."""
    den_f = pc.cast(den, pa.float64())
    safe = pc.if_else(pc.equal(den_f, 0.0), None, den_f)
    return pc.divide(pc.cast(num, pa.float64()), safe)


def _add(t: pa.Table, *names: str) -> Col:
    out: Col = _f(t, names[0])
    for name in names[1:]:
        out = pc.add(out, _f(t, name))
    return out


def _no_minus_one(rule_col: str) -> _Rule:
    """TCP initial window: the flow meter's -1 (no packet) is 0 in the improved CIC files."""
    return _Rule(
        "approximate",
        lambda t: pc.if_else(pc.less(_f(t, rule_col), 0), 0.0, _f(t, rule_col)),
    )


# --- CIC-IDS2017 (improved names) ----------------------------------------------------------

_CIC: dict[str, _Rule] = {
    "Dst Port": _col("dest_port"),
    "Protocol": _col("ip_proto"),
    "Flow Duration": _col("duration_s", US),
    "Total Fwd Packet": _col("pkts_toserver"),
    "Total Bwd packets": _col("pkts_toclient"),
    "Total Length of Fwd Packet": _col("payload_bytes_toserver"),
    "Total Length of Bwd Packet": _col("payload_bytes_toclient"),
    **{
        f"{d} Packet Length {s.title()}": _col(f"{d.lower()}_pkt_len_{s}")
        for d in ("Fwd", "Bwd")
        for s in ("max", "min", "mean", "std")
    },
    "Flow Bytes/s": _Rule(
        "exact",
        lambda t: _div(
            _add(t, "payload_bytes_toserver", "payload_bytes_toclient"), _f(t, "duration_s")
        ),
    ),  # fmt: skip
    "Flow Packets/s": _Rule(
        "exact", lambda t: _div(_add(t, "pkts_toserver", "pkts_toclient"), _f(t, "duration_s"))
    ),
    **{f"Flow IAT {s.title()}": _col(f"flow_iat_{s}_s", US) for s in ("mean", "std", "max", "min")},
    **{
        f"{d} IAT {s.title()}": _col(f"{d.lower()}_iat_{s}_s", US)
        for d in ("Fwd", "Bwd")
        for s in ("total", "mean", "std", "max", "min")
    },
    "Fwd PSH Flags": _col("fwd_psh_count"),
    "Bwd PSH Flags": _col("bwd_psh_count"),
    "Fwd URG Flags": _col("fwd_urg_count"),
    "Bwd URG Flags": _col("bwd_urg_count"),
    "Fwd Header Length": _col("header_bytes_toserver"),
    "Bwd Header Length": _col("header_bytes_toclient"),
    "Fwd Packets/s": _Rule("exact", lambda t: _div(_f(t, "pkts_toserver"), _f(t, "duration_s"))),
    "Bwd Packets/s": _Rule("exact", lambda t: _div(_f(t, "pkts_toclient"), _f(t, "duration_s"))),
    "Packet Length Min": _col("pkt_len_min"),
    "Packet Length Max": _col("pkt_len_max"),
    "Packet Length Mean": _col("pkt_len_mean"),
    "Packet Length Std": _col("pkt_len_std"),
    "Packet Length Variance": _Rule(
        "exact", lambda t: pc.multiply(_f(t, "pkt_len_std"), _f(t, "pkt_len_std"))
    ),
    **{
        f"{flag} Flag Count": _col(f"{flag.lower()}_count")
        for flag in ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "CWR", "ECE")
    },
    "Down/Up Ratio": _Rule("exact", lambda t: _div(_f(t, "pkts_toclient"), _f(t, "pkts_toserver"))),
    "Average Packet Size": _Rule(
        "exact",
        lambda t: _div(
            _add(t, "payload_bytes_toserver", "payload_bytes_toclient"),
            _add(t, "pkts_toserver", "pkts_toclient"),
        ),
    ),  # fmt: skip
    "Fwd Segment Size Avg": _col("fwd_pkt_len_mean"),
    "Bwd Segment Size Avg": _col("bwd_pkt_len_mean"),
    "FWD Init Win Bytes": _no_minus_one("fwd_init_win_bytes"),
    "Bwd Init Win Bytes": _no_minus_one("bwd_init_win_bytes"),
    "Fwd Act Data Pkts": _col("fwd_act_data_pkts"),
    "Fwd Seg Size Min": _Rule(
        "approximate", lambda t: _div(_f(t, "header_bytes_toserver"), _f(t, "pkts_toserver"))
    ),
    **{
        f"{kind.title()} {s.title()}": _col(f"{kind}_{s}_s", US, "approximate")
        for kind in ("active", "idle")
        for s in ("mean", "std", "max", "min")
    },
    "ICMP Code": _col("icmp_code"),
    "ICMP Type": _col("icmp_type"),
    "Total TCP Flow Time": _Rule(
        "approximate",
        lambda t: pc.if_else(
            pc.equal(t.column("ip_proto"), 6), pc.multiply(_f(t, "duration_s"), US), 0.0
        ),
    ),
}

# --- UNSW-NB15 (partition names) -----------------------------------------------------------

_UNSW_SERVICES = {
    20: "ftp-data", 21: "ftp", 22: "ssh", 25: "smtp", 53: "dns", 67: "dhcp", 68: "dhcp",
    80: "http", 110: "pop3", 161: "snmp", 194: "irc", 443: "ssl", 1812: "radius", 6667: "irc",
}  # fmt: skip

_KDD_SERVICES = {
    20: "ftp_data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 37: "time", 43: "whois",
    53: "domain", 70: "gopher", 79: "finger", 80: "http", 110: "pop_3", 111: "sunrpc",
    113: "auth", 119: "nntp", 123: "ntp_u", 143: "imap4", 179: "bgp", 194: "IRC",
    389: "ldap", 443: "http_443", 512: "exec", 513: "login", 514: "shell", 515: "printer",
    540: "uucp", 6000: "X11", 8001: "http_8001",
}  # fmt: skip


def _service(t: pa.Table, table: dict[int, str], default: str) -> Col:
    keys = pa.array(list(table), pa.int32())
    idx = pc.index_in(pc.cast(t.column("dest_port"), pa.int32()), value_set=keys)
    names = pc.take(pa.array(list(table.values()), pa.string()), idx)
    return pc.fill_null(names, default)


def _kdd_service(t: pa.Table) -> Col:
    svc = _service(t, _KDD_SERVICES, "private")
    is_udp_dns = pc.and_(pc.equal(t.column("ip_proto"), 17), pc.equal(t.column("dest_port"), 53))
    icmp = pc.equal(t.column("ip_proto"), 1)
    svc = pc.if_else(is_udp_dns, "domain_u", svc)
    return pc.if_else(icmp, "eco_i", svc)


def _unsw_state(t: pa.Table) -> Col:
    tcp = pc.equal(t.column("ip_proto"), 6)
    answered = pc.greater(t.column("pkts_toclient"), 0)
    fin = pc.greater(pc.fill_null(t.column("fin_count"), 0), 0)
    rst = pc.greater(pc.fill_null(t.column("rst_count"), 0), 0)
    tcp_state = pc.if_else(fin, "FIN", pc.if_else(rst, "RST", pc.if_else(answered, "CON", "REQ")))
    other = pc.if_else(answered, "CON", "INT")
    return pc.if_else(tcp, tcp_state, other)


def _kdd_flag(t: pa.Table) -> Col:
    tcp = pc.equal(t.column("ip_proto"), 6)
    answered = pc.greater(t.column("pkts_toclient"), 0)
    fin = pc.greater(pc.fill_null(t.column("fin_count"), 0), 0)
    rst = pc.greater(pc.fill_null(t.column("rst_count"), 0), 0)
    syn = pc.greater(pc.fill_null(t.column("syn_count"), 0), 0)
    no_data = pc.equal(_add(t, "payload_bytes_toserver", "payload_bytes_toclient"), 0.0)
    tcp_flag = pc.if_else(
        pc.and_(syn, pc.invert(answered)),
        "S0",
        pc.if_else(
            pc.and_(rst, no_data), "REJ", pc.if_else(rst, "RSTO", pc.if_else(fin, "SF", "S1"))
        ),
    )
    return pc.if_else(tcp, tcp_flag, "SF")


def _unsw_load(direction: str) -> _Rule:
    b, p = ("bytes_toserver", "pkts_toserver") if direction == "s" else (
        "bytes_toclient", "pkts_toclient")  # fmt: skip

    def compute(t: pa.Table) -> Col:
        # Argus: bits over the time between the first and last packet of the direction
        per_pkt = _div(pc.multiply(_f(t, b), 8.0), _f(t, p))
        bits = pc.multiply(per_pkt, pc.subtract(_f(t, p), 1.0))
        return pc.fill_null(_div(bits, _f(t, "duration_s")), 0.0)

    return _Rule("approximate", compute)


def _same_ends(t: pa.Table) -> Col:
    same = pc.and_(
        pc.equal(t.column("src_ip"), t.column("dest_ip")),
        pc.equal(t.column("src_port"), t.column("dest_port")),
    )
    return pc.cast(same, pa.float64())


_UNSW: dict[str, _Rule] = {
    "dur": _col("duration_s"),
    "spkts": _col("pkts_toserver"),
    "dpkts": _col("pkts_toclient"),
    "sbytes": _col("bytes_toserver", coverage="approximate"),
    "dbytes": _col("bytes_toclient", coverage="approximate"),
    "rate": _Rule(
        "approximate",
        lambda t: pc.fill_null(
            _div(pc.subtract(_add(t, "pkts_toserver", "pkts_toclient"), 1.0), _f(t, "duration_s")),
            0.0,
        ),
    ),
    "sload": _unsw_load("s"),
    "dload": _unsw_load("d"),
    "sinpkt": _col("fwd_iat_mean_s", MS, "approximate"),
    "dinpkt": _col("bwd_iat_mean_s", MS, "approximate"),
    "sjit": _col("fwd_iat_std_s", MS, "approximate"),
    "djit": _col("bwd_iat_std_s", MS, "approximate"),
    "swin": _no_minus_one("fwd_init_win_bytes"),
    "dwin": _no_minus_one("bwd_init_win_bytes"),
    "smean": _Rule("approximate", lambda t: _div(_f(t, "bytes_toserver"), _f(t, "pkts_toserver"))),
    "dmean": _Rule(
        "approximate",
        lambda t: pc.fill_null(_div(_f(t, "bytes_toclient"), _f(t, "pkts_toclient")), 0.0),
    ),
    "is_sm_ips_ports": _Rule("exact", _same_ends),
    "proto": _Rule("approximate", lambda t: pc.utf8_lower(t.column("proto"))),
    "service": _Rule("approximate", lambda t: _service(t, _UNSW_SERVICES, "-")),
    "state": _Rule("approximate", _unsw_state),
}

# --- NSL-KDD ------------------------------------------------------------------------------

_KDD: dict[str, _Rule] = {
    "duration": _col("duration_s", coverage="approximate"),
    "src_bytes": _col("payload_bytes_toserver", coverage="approximate"),
    "dst_bytes": _col("payload_bytes_toclient", coverage="approximate"),
    "land": _Rule("exact", _same_ends),
    "urgent": _col("urg_count", coverage="approximate"),
    "protocol_type": _Rule("exact", lambda t: pc.utf8_lower(t.column("proto"))),
    "service": _Rule("approximate", _kdd_service),
    "flag": _Rule("approximate", _kdd_flag),
}

_FORMATS: dict[str, tuple[dict[str, _Rule], tuple[str, ...], tuple[str, ...]]] = {
    "cic-ids2017": (_CIC, cic_ids2017.NUMERIC, ()),
    "unsw-nb15": (_UNSW, unsw_nb15.NUMERIC, unsw_nb15.CATEGORICAL),
    "nsl-kdd": (_KDD, nsl_kdd.NUMERIC, nsl_kdd.CATEGORICAL),
}

#: Flow statistics used as features by ``flows_as_table`` (format ``"flow"``): every
#: numeric statistic except identity, bookkeeping and path-dependent TTLs.
FLOW_FEATURES: tuple[str, ...] = tuple(
    f.name
    for f in FLOW_SCHEMA
    if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    and f.name not in (*IDENTITY_COLUMNS, "vlan", "ttl_toserver", "ttl_toclient")
)


def mapping_coverage(fmt: str) -> dict[str, str]:
    """Per feature column of ``fmt``: ``"exact"``, ``"approximate"`` or ``"unavailable"``.

    Raises
    ------
    ValueError
        If ``fmt`` is not a dataset format.
    """
    rules, numeric, categorical = _spec(fmt)
    return {c: rules[c].coverage if c in rules else "unavailable" for c in (*numeric, *categorical)}


def flows_to_dataset(flows: pa.Table, fmt: str) -> LabeledTable:
    """Describe capture flows in a dataset's feature columns and units.

    Columns that a capture cannot give are null. ``uid``, ``label`` and ``label_original`` come
    from the flow table; the identity columns are carried over.

    Raises
    ------
    ValueError
        If ``fmt`` is not a dataset format or ``flows`` does not have the flow schema.

    Examples
    --------
    >>> from swarmguard.records.flow import empty_flow_table
    >>> flows_to_dataset(empty_flow_table(), "cic-ids2017").numeric_columns[:2]
    ('Dst Port', 'Protocol')
    """
    rules, numeric, categorical = _spec(fmt)
    t = validate_flow_table(flows)
    n = t.num_rows
    columns: dict[str, Col] = _reserved(t)
    for name in numeric:
        columns[name] = (
            pc.cast(rules[name].compute(t), pa.float64())
            if name in rules
            else pa.nulls(n, pa.float64())
        )
    for name in categorical:
        columns[name] = (
            pc.cast(rules[name].compute(t), pa.string())
            if name in rules
            else pa.nulls(n, pa.string())
        )
    return LabeledTable(
        table=pa.table(columns),
        format=fmt,
        numeric_columns=numeric,
        categorical_columns=categorical,
    )


def flows_as_table(flows: pa.Table) -> LabeledTable:
    """Capture flows as a ``LabeledTable`` of format ``"flow"`` (features: ``FLOW_FEATURES``).

    Examples
    --------
    >>> from swarmguard.records.flow import empty_flow_table
    >>> lt = flows_as_table(empty_flow_table())
    >>> lt.format, "duration_s" in lt.numeric_columns, "dest_port" in lt.numeric_columns
    ('flow', True, False)
    """
    t = validate_flow_table(flows)
    columns = _reserved(t)
    for name in FLOW_FEATURES:
        columns[name] = pc.cast(t.column(name), pa.float64())
    return LabeledTable(
        table=pa.table(columns),
        format="flow",
        numeric_columns=FLOW_FEATURES,
        categorical_columns=(),
    )


def _spec(fmt: str) -> tuple[dict[str, _Rule], tuple[str, ...], tuple[str, ...]]:
    try:
        return _FORMATS[fmt]
    except KeyError:
        raise ValueError(f"no feature mapping for format {fmt!r}") from None


def _reserved(t: pa.Table) -> dict[str, Col]:
    columns: dict[str, Col] = {
        "uid": t.column("uid"),
        "label": t.column("label"),
        "label_original": t.column("label_original"),
    }
    for name in IDENTITY_COLUMNS:
        columns[name] = t.column(name)
    return columns
