"""Group decoded packets into bidirectional flows with CICFlowMeter-style statistics.

Flows are keyed by the unordered pair of endpoints (address, port), the IP protocol and the
outer VLAN id. The sender of a flow's first packet is its originator (``src_*``, *toserver*,
CICFlowMeter's *forward*). Within one key, a new flow starts when

* the gap since the key's previous packet exceeds ``idle_timeout_s`` (the old flow ends *idle*);
* a TCP SYN without ACK arrives after a FIN or RST was seen in the current flow (the old flow
  ends *fin* or *rst*);
* the packet comes more than ``active_timeout_s`` after the flow's first packet (the old flow
  ends *active*).

``end_reason`` is ``active`` for a flow cut by the active timeout; otherwise ``rst`` if the flow
saw a RST, else ``fin`` if it saw a FIN, else ``idle`` (expired) or ``eof`` (still open when the
meter was closed). A FIN or RST does not close the flow by itself: late ACKs and retransmissions
stay in it, as they do in tshark's conversations and Zeek's connections.

Statistics follow CICFlowMeter (Lashkari et al., "Characterization of Tor Traffic using Time
based Features", ICISSP 2017; Engelen et al., WTMC 2021 for the corrected definitions):
packet-length statistics use transport payload lengths, inter-arrival times (IAT) are in
seconds, standard deviations are sample deviations (0 for fewer than two values), an active
period is a run of packets whose gaps are at most ``activity_threshold_s`` and counts only when
it lasts longer than 0 s, an idle period is a gap longer than the threshold. Empty statistics
are 0. Byte totals are whole frame lengths on the wire, as in tshark's conversation table.

Everything is computed on whole arrays (numpy sorts and polars group-bys); ``FlowMeter`` keeps
the packets of flows that are still open and recomputes them at each ``flush``, so that a
capture read in many chunks yields exactly the flows of one read in a single chunk.

Example
-------
>>> import numpy as np
>>> from swarmguard.acquire.packets import PacketChunk
>>> p = PacketChunk.empty()
>>> meter = FlowMeter(sensor_id="doc")
>>> meter.add(p)
>>> meter.close().num_rows
0
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import struct
from dataclasses import dataclass

import communityid
import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from swarmguard.acquire.packets import PacketChunk, address_bytes
from swarmguard.config import FlowMeterSettings
from swarmguard.records.flow import FLOW_SCHEMA, empty_flow_table, validate_flow_table

__all__ = ["FlowMeter", "meter_flows"]

logger = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

_PROTO_NAMES = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 51: "AH"}
_PROTO_NAMES.update({58: "IPv6-ICMP", 89: "OSPF", 132: "SCTP"})
_FIN, _SYN, _RST, _PSH, _ACK, _URG, _ECE, _CWR = 1, 2, 4, 8, 16, 32, 64, 128
_NS = 1_000_000_000
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CID = communityid.CommunityID(seed=0)
_SEED = struct.pack("!H", 0)
_PORT_PROTOS = (6, 17, 132)

# causes recorded for the flow that precedes a new-flow start
_CAUSE_NONE, _CAUSE_IDLE, _CAUSE_FINSYN, _CAUSE_ACTIVE = 0, 1, 2, 3


@dataclass
class _Assigned:
    """Packets sorted by flow (then arrival) with flow ids and per-flow split causes."""

    order: I64  # positions into the input chunk, sorted by key then arrival
    fid: I64  # flow id per sorted packet, 0..n_flows-1, contiguous
    conv_last: B  # per flow: the last flow of its key in this batch
    cause: I64  # per flow: why the next flow of the same key started


def _assign(p: PacketChunk, s: FlowMeterSettings) -> _Assigned:
    n = len(p)
    arrival = np.arange(n, dtype=np.int64)
    swap = (p.src_hi > p.dst_hi) | (
        (p.src_hi == p.dst_hi)
        & ((p.src_lo > p.dst_lo) | ((p.src_lo == p.dst_lo) & (p.sport > p.dport)))
    )
    a_hi = np.where(swap, p.dst_hi, p.src_hi)
    a_lo = np.where(swap, p.dst_lo, p.src_lo)
    b_hi = np.where(swap, p.src_hi, p.dst_hi)
    b_lo = np.where(swap, p.src_lo, p.dst_lo)
    a_pt = np.where(swap, p.dport, p.sport)
    b_pt = np.where(swap, p.sport, p.dport)
    keys = (p.vlan, p.ip_proto, b_pt, a_pt, b_lo, b_hi, a_lo, a_hi)
    order = np.lexsort((arrival, *keys)).astype(np.int64)
    newconv = np.ones(n, dtype=np.bool_)
    if n > 1:
        diff = np.zeros(n - 1, dtype=np.bool_)
        for k in keys:
            ks = k[order]
            diff |= ks[1:] != ks[:-1]
        newconv[1:] = diff
    ts = p.ts_ns[order]
    flags = p.tcp_flags[order]
    tcp = p.ip_proto[order] == 6
    gap = np.zeros(n, dtype=np.int64)
    gap[1:] = ts[1:] - ts[:-1]
    idle_split = ~newconv & (gap > int(s.idle_timeout_s * _NS))
    segstart = newconv | idle_split

    # a SYN without ACK after a FIN or RST in the current flow starts a new flow
    syn = tcp & ((flags & (_SYN | _ACK)) == _SYN)
    finrst = tcp & ((flags & (_FIN | _RST)) != 0)
    cum = np.cumsum(finrst, dtype=np.int64)
    mark = np.where(segstart | syn, arrival, -1)
    anchor = np.maximum.accumulate(mark)
    prev_anchor = np.empty(n, dtype=np.int64)
    if n:
        prev_anchor[0] = 0
        prev_anchor[1:] = anchor[:-1]
    before = np.where(arrival > 0, cum[np.maximum(arrival - 1, 0)], 0)
    at_anchor = np.where(prev_anchor > 0, cum[np.maximum(prev_anchor - 1, 0)], 0)
    finsyn_split = syn & ~segstart & (before - at_anchor > 0)

    start = segstart | finsyn_split
    cause_at = np.where(idle_split, _CAUSE_IDLE, np.where(finsyn_split, _CAUSE_FINSYN, 0))

    active_ns = int(s.active_timeout_s * _NS)
    while True:
        fid = np.cumsum(start) - 1
        starts = np.flatnonzero(start)
        over = ts - ts[starts][fid] > active_ns
        if not over.any():
            break
        idx = np.flatnonzero(over)
        _, first = np.unique(fid[idx], return_index=True)
        start[idx[first]] = True
        cause_at[idx[first]] = _CAUSE_ACTIVE

    starts = np.flatnonzero(start)
    n_flows = starts.shape[0]
    cause = np.zeros(n_flows, dtype=np.int64)
    conv_last = np.ones(n_flows, dtype=np.bool_)
    if n_flows > 1:
        # flow i is followed by flow i+1 of the same key when flow i+1 did not start a key
        follows = ~newconv[starts[1:]]
        conv_last[:-1] = ~follows
        cause[:-1] = np.where(follows, cause_at[starts[1:]], _CAUSE_NONE)
    return _Assigned(
        order=order, fid=fid if n else np.zeros(0, np.int64), conv_last=conv_last, cause=cause
    )


def _dir_iat(fid: I64, fwd: B, ts: I64) -> npt.NDArray[np.float64]:
    """Inter-arrival time to the previous packet of the same flow and direction (NaN if none)."""
    n = fid.shape[0]
    key = fid * 2 + (~fwd).astype(np.int64)
    o = np.argsort(key, kind="stable")
    ks, tso = key[o], ts[o]
    iat = np.full(n, np.nan)
    same = np.zeros(n, dtype=np.bool_)
    same[1:] = ks[1:] == ks[:-1]
    vals = np.full(n, np.nan)
    vals[1:] = (tso[1:] - tso[:-1]) / _NS
    iat[o] = np.where(same, vals, np.nan)
    return iat


def _stats(col: str, mask: pl.Expr | None, prefix: str) -> list[pl.Expr]:
    e = pl.col(col) if mask is None else pl.col(col).filter(mask)
    return [
        e.max().cast(pl.Float64).alias(f"{prefix}_max"),
        e.min().cast(pl.Float64).alias(f"{prefix}_min"),
        e.mean().alias(f"{prefix}_mean"),
        e.std().alias(f"{prefix}_std"),
    ]


def _b62(data: bytes) -> str:
    v = int.from_bytes(data, "big")
    out = []
    while v:
        v, r = divmod(v, 62)
        out.append(_B62[r])
    return "".join(reversed(out)) or "0"


def _community_ids(
    src: list[bytes],
    dst: list[bytes],
    sport: list[int],
    dport: list[int],
    proto: list[int],
    itype: list[int],
    icmp_code: list[int],
) -> list[str]:
    """Community ID v1 (seed 0) for each flow.

    ICMP and ICMPv6 go through the ``communityid`` package (it maps type/code pairs to
    ports as Zeek does). For the other protocols the same hash is computed here directly
    from packed addresses: the package's checks and address parsing cost about 30 us per
    flow, the hash alone about 1 us. ``tests/unit/acquire/test_flowmeter_stats.py`` checks
    that both agree on every flow of the test captures.
    """
    out = []
    for sa, da, sp, dp, pr, it, ic in zip(
        src, dst, sport, dport, proto, itype, icmp_code, strict=True
    ):
        if pr in (1, 58) and it >= 0:
            make = communityid.FlowTuple.make_icmp if pr == 1 else communityid.FlowTuple.make_icmp6
            out.append(str(_CID.calc(make(sa, da, it, ic))))
            continue
        if (da, dp) < (sa, sp):
            sa, da, sp, dp = da, sa, dp, sp
        data = _SEED + sa + da + bytes((pr, 0))
        if pr in _PORT_PROTOS:
            data += struct.pack("!HH", sp, dp)
        out.append("1:" + base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"))
    return out


def _build_table(
    p: PacketChunk,
    a: _Assigned,
    sel: I64,
    reasons: list[str],
    sensor_id: str,
    s: FlowMeterSettings,
) -> pa.Table:
    """Statistics for the flows ``sel`` (flow ids of ``a``) as a flow table."""
    o = a.order
    fid = a.fid
    keep = np.isin(fid, sel)
    o, fid = o[keep], fid[keep]
    if o.size == 0:
        return empty_flow_table()
    ts = p.ts_ns[o]
    first_pos = np.flatnonzero(np.r_[True, fid[1:] != fid[:-1]])
    first_of = np.cumsum(np.r_[True, fid[1:] != fid[:-1]]) - 1
    f_src_hi = p.src_hi[o][first_pos][first_of]
    f_src_lo = p.src_lo[o][first_pos][first_of]
    f_sport = p.sport[o][first_pos][first_of]
    fwd = (p.src_hi[o] == f_src_hi) & (p.src_lo[o] == f_src_lo) & (p.sport[o] == f_sport)
    flags = p.tcp_flags[o]
    iat = np.full(o.size, np.nan)
    newf = np.r_[True, fid[1:] != fid[:-1]]
    iat[1:] = (ts[1:] - ts[:-1]) / _NS
    iat[newf] = np.nan
    thr = s.activity_threshold_s
    idle_gap = np.where(iat > thr, iat, np.nan)
    run = np.cumsum(newf | (iat > thr)) - 1
    df = pl.DataFrame(
        {
            "fid": fid,
            "run": run,
            "arrival": o,
            "ts": ts,
            "fwd": fwd,
            "src_hi": p.src_hi[o],
            "src_lo": p.src_lo[o],
            "dst_hi": p.dst_hi[o],
            "dst_lo": p.dst_lo[o],
            "sport": p.sport[o],
            "dport": p.dport[o],
            "proto": p.ip_proto[o],
            "vlan": p.vlan[o],
            "frame": p.frame_len[o],
            "payload": p.payload_len[o],
            "hdr": p.l4_hdr_len[o],
            "flags": flags,
            "win": p.tcp_win[o],
            "ttl": p.ttl[o],
            "itype": p.icmp_type[o],
            "icode": p.icmp_code[o],
            "iat": pl.Series(iat, nan_to_null=True),
            "diat": pl.Series(_dir_iat(fid, fwd, ts), nan_to_null=True),
            "idle": pl.Series(idle_gap, nan_to_null=True),
            **{
                name: (flags & bit) != 0
                for name, bit in (
                    ("fin", _FIN),
                    ("syn", _SYN),
                    ("rst", _RST),
                    ("psh", _PSH),
                    ("ack", _ACK),
                    ("urg", _URG),
                    ("ece", _ECE),
                    ("cwr", _CWR),
                )
            },
        }
    )
    f = pl.col("fwd")
    b = ~pl.col("fwd")
    agg = df.group_by("fid", maintain_order=True).agg(
        pl.col("arrival").first(),
        pl.col("ts").first().alias("ts_first"),
        pl.col("ts").last().alias("ts_last"),
        *(pl.col(c).first() for c in ("src_hi", "src_lo", "dst_hi", "dst_lo", "sport", "dport")),
        *(pl.col(c).first() for c in ("proto", "vlan", "itype", "icode")),
        f.sum().cast(pl.Int64).alias("pkts_toserver"),
        b.sum().cast(pl.Int64).alias("pkts_toclient"),
        pl.col("frame").filter(f).sum().alias("bytes_toserver"),
        pl.col("frame").filter(b).sum().alias("bytes_toclient"),
        pl.col("payload").filter(f).sum().alias("payload_bytes_toserver"),
        pl.col("payload").filter(b).sum().alias("payload_bytes_toclient"),
        pl.col("hdr").filter(f).sum().alias("header_bytes_toserver"),
        pl.col("hdr").filter(b).sum().alias("header_bytes_toclient"),
        *_stats("payload", f, "fwd_pkt_len"),
        *_stats("payload", b, "bwd_pkt_len"),
        *_stats("payload", None, "pkt_len"),
        pl.col("iat").mean().alias("flow_iat_mean_s"),
        pl.col("iat").std().alias("flow_iat_std_s"),
        pl.col("iat").max().alias("flow_iat_max_s"),
        pl.col("iat").min().alias("flow_iat_min_s"),
        pl.col("diat").filter(f).sum().alias("fwd_iat_total_s"),
        pl.col("diat").filter(f).mean().alias("fwd_iat_mean_s"),
        pl.col("diat").filter(f).std().alias("fwd_iat_std_s"),
        pl.col("diat").filter(f).max().alias("fwd_iat_max_s"),
        pl.col("diat").filter(f).min().alias("fwd_iat_min_s"),
        pl.col("diat").filter(b).sum().alias("bwd_iat_total_s"),
        pl.col("diat").filter(b).mean().alias("bwd_iat_mean_s"),
        pl.col("diat").filter(b).std().alias("bwd_iat_std_s"),
        pl.col("diat").filter(b).max().alias("bwd_iat_max_s"),
        pl.col("diat").filter(b).min().alias("bwd_iat_min_s"),
        *(
            pl.col(c).sum().cast(pl.Int64).alias(f"{c}_count")
            for c in ("fin", "syn", "rst", "psh", "ack", "urg", "cwr", "ece")
        ),
        (pl.col("psh") & f).sum().cast(pl.Int64).alias("fwd_psh_count"),
        (pl.col("psh") & b).sum().cast(pl.Int64).alias("bwd_psh_count"),
        (pl.col("urg") & f).sum().cast(pl.Int64).alias("fwd_urg_count"),
        (pl.col("urg") & b).sum().cast(pl.Int64).alias("bwd_urg_count"),
        pl.col("flags").filter(f).bitwise_or().alias("tcp_flags_toserver"),
        pl.col("flags").filter(b).bitwise_or().alias("tcp_flags_toclient"),
        pl.col("win").filter(f).first().alias("fwd_init_win_bytes"),
        pl.col("win").filter(b).first().alias("bwd_init_win_bytes"),
        ((pl.col("payload") > 0) & f).sum().cast(pl.Int64).alias("fwd_act_data_pkts"),
        pl.col("ttl").filter(f).first().alias("ttl_toserver"),
        pl.col("ttl").filter(b).first().alias("ttl_toclient"),
        pl.col("idle").mean().alias("idle_mean_s"),
        pl.col("idle").std().alias("idle_std_s"),
        pl.col("idle").max().alias("idle_max_s"),
        pl.col("idle").min().alias("idle_min_s"),
    )
    runs = (
        df.group_by("run", maintain_order=True)
        .agg(pl.col("fid").first(), ((pl.col("ts").last() - pl.col("ts").first()) / _NS).alias("a"))
        .filter(pl.col("a") > 0)
        .group_by("fid")
        .agg(
            pl.col("a").mean().alias("active_mean_s"),
            pl.col("a").std().alias("active_std_s"),
            pl.col("a").max().alias("active_max_s"),
            pl.col("a").min().alias("active_min_s"),
        )
    )
    agg = agg.join(runs, on="fid", how="left", maintain_order="left")
    minus1 = ("fwd_init_win_bytes", "bwd_init_win_bytes", "ttl_toclient")
    agg = agg.with_columns(
        *(pl.col(c).fill_null(-1) for c in minus1),
        pl.all().exclude(minus1).fill_null(0),
    ).sort("arrival")

    fids = agg["fid"].to_numpy()
    src_b = address_bytes(agg["src_hi"].to_numpy(), agg["src_lo"].to_numpy())
    dst_b = address_bytes(agg["dst_hi"].to_numpy(), agg["dst_lo"].to_numpy())
    src = [socket.inet_ntop(socket.AF_INET if len(x) == 4 else socket.AF_INET6, x) for x in src_b]
    dst = [socket.inet_ntop(socket.AF_INET if len(x) == 4 else socket.AF_INET6, x) for x in dst_b]
    proto = agg["proto"].to_list()
    sport = agg["sport"].to_list()
    dport = agg["dport"].to_list()
    cids = _community_ids(
        src_b, dst_b, sport, dport, proto, agg["itype"].to_list(), agg["icode"].to_list()
    )
    ts_first = agg["ts_first"].to_list()
    uids = [
        "C" + _b62(hashlib.blake2b(f"{sensor_id}|{c}|{t}".encode(), digest_size=12).digest())
        for c, t in zip(cids, ts_first, strict=True)
    ]
    reason_of = dict(zip(sel.tolist(), reasons, strict=True))
    vlan = agg["vlan"].to_numpy()
    cols: dict[str, pa.Array] = {
        "ts": pa.array(agg["ts_first"].to_numpy() // 1000, type=pa.timestamp("us", tz="UTC")),
        "uid": pa.array(uids, type=pa.string()),
        "sensor_id": pa.array([sensor_id] * len(uids), type=pa.string()),
        "src_ip": pa.array(src, type=pa.string()),
        "src_port": pa.array(sport, type=pa.int32()),
        "dest_ip": pa.array(dst, type=pa.string()),
        "dest_port": pa.array(dport, type=pa.int32()),
        "proto": pa.array([_PROTO_NAMES.get(x, str(x)) for x in proto], type=pa.string()),
        "ip_proto": pa.array(proto, type=pa.int32()),
        "vlan": pa.array(vlan, mask=vlan < 0, type=pa.int32()),
        "community_id": pa.array(cids, type=pa.string()),
        "duration_s": pa.array((agg["ts_last"] - agg["ts_first"]).to_numpy() / _NS),
        "end_reason": pa.array([reason_of[int(x)] for x in fids], type=pa.string()),
        "icmp_type": pa.array(agg["itype"].to_numpy(), type=pa.int32()),
        "icmp_code": pa.array(agg["icode"].to_numpy(), type=pa.int32()),
        "label": pa.nulls(len(uids), type=pa.string()),
        "label_original": pa.nulls(len(uids), type=pa.string()),
    }
    for name in FLOW_SCHEMA.names:
        if name not in cols:
            cols[name] = pa.array(agg[name].to_numpy(), type=FLOW_SCHEMA.field(name).type)
    return validate_flow_table(pa.table(cols))


def _reasons(p: PacketChunk, a: _Assigned, sel: I64, open_cause: str) -> list[str]:
    flags = p.tcp_flags[a.order]
    n_flows = a.cause.shape[0]
    rst = np.zeros(n_flows, dtype=np.bool_)
    fin = np.zeros(n_flows, dtype=np.bool_)
    tcp = p.ip_proto[a.order] == 6
    np.logical_or.at(rst, a.fid, tcp & ((flags & _RST) != 0))
    np.logical_or.at(fin, a.fid, tcp & ((flags & _FIN) != 0))
    out = []
    for i in sel.tolist():
        c = int(a.cause[i])
        if c == _CAUSE_ACTIVE:
            out.append("active")
        elif rst[i]:
            out.append("rst")
        elif fin[i]:
            out.append("fin")
        elif c == _CAUSE_IDLE:
            out.append("idle")
        elif a.conv_last[i]:
            out.append(open_cause)
        else:
            out.append("idle")
    return out


class FlowMeter:
    """Incremental flow meter: add packet chunks, take finished flows as flow tables.

    Parameters
    ----------
    settings
        Timeouts; ``FlowMeterSettings()`` when None.
    sensor_id
        Written into every flow and mixed into its ``uid``.

    Examples
    --------
    >>> meter = FlowMeter(sensor_id="s1")
    >>> meter.flush(now_ts=0.0).num_rows, meter.open_packets
    (0, 0)
    """

    def __init__(self, settings: FlowMeterSettings | None = None, sensor_id: str = "local") -> None:
        self.settings = settings or FlowMeterSettings()
        self.sensor_id = sensor_id
        self._chunks: list[PacketChunk] = []
        self._max_ts: int | None = None

    @property
    def open_packets(self) -> int:
        """Packets held for flows that are not finished yet."""
        return sum(len(c) for c in self._chunks)

    def add(self, packets: PacketChunk) -> None:
        """Add decoded packets (in arrival order)."""
        if len(packets):
            self._chunks.append(packets)
            top = int(packets.ts_ns.max())
            self._max_ts = top if self._max_ts is None else max(self._max_ts, top)

    def flush(self, now_ts: float) -> pa.Table:
        """Return the flows finished by ``now_ts`` (seconds since the epoch) and forget them.

        A flow is finished when a later flow of the same key has started, or when its last
        packet is more than ``idle_timeout_s`` before ``now_ts``.
        """
        return self._emit(int(now_ts * _NS), close=False)

    def close(self) -> pa.Table:
        """Return every remaining flow; flows still open at the last packet end with ``eof``."""
        return self._emit(self._max_ts if self._max_ts is not None else 0, close=True)

    def _emit(self, now_ns: int, *, close: bool) -> pa.Table:
        p = PacketChunk.concat(self._chunks)
        if not len(p):
            self._chunks = []
            return empty_flow_table()
        a = _assign(p, self.settings)
        last_ts = np.full(a.cause.shape[0], np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last_ts, a.fid, p.ts_ns[a.order])
        expired = last_ts + int(self.settings.idle_timeout_s * _NS) < now_ns
        done = ~a.conv_last | expired | close
        sel = np.flatnonzero(done)
        # an open flow that timed out ended idle; one still open at close ended at eof
        a.cause = np.where(a.conv_last & expired, _CAUSE_IDLE, a.cause)
        table = _build_table(p, a, sel, _reasons(p, a, sel, "eof"), self.sensor_id, self.settings)
        keep_packets = np.sort(a.order[~done[a.fid]])
        self._chunks = [p.take(keep_packets)] if keep_packets.size else []
        return table


def meter_flows(
    packets: PacketChunk,
    settings: FlowMeterSettings | None = None,
    sensor_id: str = "local",
) -> pa.Table:
    """Meter all ``packets`` at once and return every flow (open flows end ``eof``).

    Examples
    --------
    >>> meter_flows(PacketChunk.empty()).num_rows
    0
    """
    meter = FlowMeter(settings, sensor_id)
    meter.add(packets)
    return meter.close()
