"""The flow batch schema: the one columnar record that carries flows between stages.

Field names follow the Zeek ``conn.log`` / Suricata EVE ``flow`` vocabulary; units are in the
names (``_s`` seconds, ``bytes_`` octets). Direction: *toserver* is the direction of the first
packet seen (the originator, CICFlowMeter's "forward"), *toclient* the reverse.

Byte totals (``bytes_toserver`` / ``bytes_toclient``) count whole frames as captured on the wire
(link layer included), as tshark's conversation table and Suricata's flow records do. Packet
length statistics (``*_pkt_len_*``) follow CICFlowMeter and measure the transport payload.

The core columns (time, 5-tuple, community id, duration, packet and byte counts) are never null.
The statistics are null where a source did not measure them (a Zeek ``conn.log`` or an EVE flow
record has counts but no inter-arrival times); the capture flow meter fills every column.

Example
-------
>>> from swarmguard.records.flow import FLOW_SCHEMA, empty_flow_table
>>> "community_id" in FLOW_SCHEMA.names
True
>>> empty_flow_table().num_rows
0
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["FLOW_FIELDS", "FLOW_SCHEMA", "FlowField", "empty_flow_table", "validate_flow_table"]


@dataclass(frozen=True)
class FlowField:
    """One column of the flow schema: name, Arrow type, and what it means."""

    name: str
    type: pa.DataType
    doc: str
    nullable: bool = True


_TS = pa.timestamp("us", tz="UTC")
_F = pa.float64()
_I = pa.int64()

FLOW_FIELDS: tuple[FlowField, ...] = (
    FlowField("ts", _TS, "time of the first packet of the flow (UTC)", nullable=False),
    FlowField("uid", pa.string(), "unique flow id within a sensor (Zeek style)", nullable=False),
    FlowField(
        "sensor_id", pa.string(), "the sensor or agent that metered the flow", nullable=False
    ),
    FlowField(
        "src_ip", pa.string(), "originator address (sender of the first packet)", nullable=False
    ),
    FlowField(
        "src_port", pa.int32(), "originator port; 0 for protocols without ports", nullable=False
    ),
    FlowField("dest_ip", pa.string(), "responder address", nullable=False),
    FlowField(
        "dest_port", pa.int32(), "responder port; 0 for protocols without ports", nullable=False
    ),
    FlowField(
        "proto",
        pa.string(),
        "transport protocol name as in EVE: TCP, UDP, ICMP, IPv6-ICMP",
        nullable=False,
    ),
    FlowField(
        "ip_proto",
        pa.int32(),
        "IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6)",
        nullable=False,
    ),
    FlowField("vlan", pa.int32(), "outer 802.1Q VLAN id, null when untagged"),
    FlowField(
        "community_id",
        pa.string(),
        "Community ID v1 flow hash (Corelight spec, seed 0)",
        nullable=False,
    ),
    FlowField("duration_s", _F, "last packet time minus first packet time", nullable=False),
    FlowField("end_reason", pa.string(), "why the flow ended: fin, rst, idle, active, eof", False),
    FlowField("pkts_toserver", _I, "packets from originator to responder", nullable=False),
    FlowField("pkts_toclient", _I, "packets from responder to originator", nullable=False),
    FlowField("bytes_toserver", _I, "captured frame bytes originator to responder", nullable=False),
    FlowField("bytes_toclient", _I, "captured frame bytes responder to originator", nullable=False),
    FlowField("payload_bytes_toserver", _I, "transport payload bytes originator to responder"),
    FlowField("payload_bytes_toclient", _I, "transport payload bytes responder to originator"),
    FlowField("header_bytes_toserver", _I, "transport header bytes originator to responder"),
    FlowField("header_bytes_toclient", _I, "transport header bytes responder to originator"),
    FlowField("fwd_pkt_len_max", _F, "max payload length toserver"),
    FlowField("fwd_pkt_len_min", _F, "min payload length toserver"),
    FlowField("fwd_pkt_len_mean", _F, "mean payload length toserver"),
    FlowField("fwd_pkt_len_std", _F, "sample std of payload length toserver"),
    FlowField("bwd_pkt_len_max", _F, "max payload length toclient (0 if none)"),
    FlowField("bwd_pkt_len_min", _F, "min payload length toclient (0 if none)"),
    FlowField("bwd_pkt_len_mean", _F, "mean payload length toclient (0 if none)"),
    FlowField("bwd_pkt_len_std", _F, "sample std of payload length toclient (0 if none)"),
    FlowField("pkt_len_max", _F, "max payload length, both directions"),
    FlowField("pkt_len_min", _F, "min payload length, both directions"),
    FlowField("pkt_len_mean", _F, "mean payload length, both directions"),
    FlowField("pkt_len_std", _F, "sample std of payload length, both directions"),
    FlowField("flow_iat_mean_s", _F, "mean inter-arrival time, both directions"),
    FlowField("flow_iat_std_s", _F, "sample std of inter-arrival time, both directions"),
    FlowField("flow_iat_max_s", _F, "max inter-arrival time, both directions"),
    FlowField("flow_iat_min_s", _F, "min inter-arrival time, both directions"),
    FlowField("fwd_iat_total_s", _F, "sum of inter-arrival times toserver"),
    FlowField("fwd_iat_mean_s", _F, "mean inter-arrival time toserver"),
    FlowField("fwd_iat_std_s", _F, "sample std of inter-arrival time toserver"),
    FlowField("fwd_iat_max_s", _F, "max inter-arrival time toserver"),
    FlowField("fwd_iat_min_s", _F, "min inter-arrival time toserver"),
    FlowField("bwd_iat_total_s", _F, "sum of inter-arrival times toclient"),
    FlowField("bwd_iat_mean_s", _F, "mean inter-arrival time toclient"),
    FlowField("bwd_iat_std_s", _F, "sample std of inter-arrival time toclient"),
    FlowField("bwd_iat_max_s", _F, "max inter-arrival time toclient"),
    FlowField("bwd_iat_min_s", _F, "min inter-arrival time toclient"),
    FlowField("fin_count", _I, "packets with FIN set, both directions"),
    FlowField("syn_count", _I, "packets with SYN set, both directions"),
    FlowField("rst_count", _I, "packets with RST set, both directions"),
    FlowField("psh_count", _I, "packets with PSH set, both directions"),
    FlowField("ack_count", _I, "packets with ACK set, both directions"),
    FlowField("urg_count", _I, "packets with URG set, both directions"),
    FlowField("cwr_count", _I, "packets with CWR set, both directions"),
    FlowField("ece_count", _I, "packets with ECE set, both directions"),
    FlowField("fwd_psh_count", _I, "packets with PSH set toserver"),
    FlowField("bwd_psh_count", _I, "packets with PSH set toclient"),
    FlowField("fwd_urg_count", _I, "packets with URG set toserver"),
    FlowField("bwd_urg_count", _I, "packets with URG set toclient"),
    FlowField("tcp_flags_toserver", pa.int32(), "OR of TCP flags toserver (EVE tcp.tcp_flags_ts)"),
    FlowField("tcp_flags_toclient", pa.int32(), "OR of TCP flags toclient (EVE tcp.tcp_flags_tc)"),
    FlowField("fwd_init_win_bytes", _I, "TCP window of the first packet toserver, -1 if none"),
    FlowField("bwd_init_win_bytes", _I, "TCP window of the first packet toclient, -1 if none"),
    FlowField("fwd_act_data_pkts", _I, "packets toserver with at least one payload byte"),
    FlowField("ttl_toserver", pa.int32(), "IP TTL / hop limit of the first packet toserver"),
    FlowField("ttl_toclient", pa.int32(), "IP TTL / hop limit of the first packet toclient, -1"),
    FlowField("active_mean_s", _F, "mean length of active periods (split by the idle threshold)"),
    FlowField("active_std_s", _F, "sample std of active period lengths"),
    FlowField("active_max_s", _F, "max active period length"),
    FlowField("active_min_s", _F, "min active period length"),
    FlowField("idle_mean_s", _F, "mean idle gap longer than the activity threshold"),
    FlowField("idle_std_s", _F, "sample std of idle gaps"),
    FlowField("idle_max_s", _F, "max idle gap"),
    FlowField("idle_min_s", _F, "min idle gap"),
    FlowField("icmp_type", pa.int32(), "ICMP type of the first packet, -1 when not ICMP"),
    FlowField("icmp_code", pa.int32(), "ICMP code of the first packet, -1 when not ICMP"),
    FlowField("label", pa.string(), "taxonomy label when known (see records.labels)"),
    FlowField("label_original", pa.string(), "the source's own label when known", True),
)

FLOW_SCHEMA: pa.Schema = pa.schema(
    [pa.field(f.name, f.type, nullable=f.nullable, metadata={"doc": f.doc}) for f in FLOW_FIELDS],
    metadata={"swarmguard.schema": "flow", "swarmguard.schema_version": "1"},
)


def empty_flow_table() -> pa.Table:
    """Return a table with the flow schema and no rows."""
    return FLOW_SCHEMA.empty_table()


def validate_flow_table(table: pa.Table) -> pa.Table:
    """Check that ``table`` has the flow schema's columns and types; return it cast.

    Raises
    ------
    ValueError
        If a column is missing or cannot be cast.

    Examples
    --------
    >>> validate_flow_table(empty_flow_table()).num_columns == len(FLOW_FIELDS)
    True
    """
    present = set(table.column_names)
    missing = [name for name in FLOW_SCHEMA.names if name not in present]
    if missing:
        raise ValueError(f"flow table lacks columns: {', '.join(missing)}")
    try:
        return table.select(FLOW_SCHEMA.names).cast(FLOW_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"flow table does not match the flow schema: {exc}") from exc
