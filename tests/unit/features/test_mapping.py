"""Flow -> dataset feature mapping: units, coverage, and null fill."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from swarmguard.acquire.datasets import cic_ids2017, nsl_kdd, unsw_nb15
from swarmguard.features.mapping import (
    FLOW_FEATURES,
    flows_as_table,
    flows_to_dataset,
    mapping_coverage,
)
from swarmguard.records.flow import FLOW_SCHEMA


def _flows() -> pa.Table:
    """Two flows: a TCP HTTP flow of 2 s and a one-packet UDP flow of 0 s."""
    base = {f.name: [None, None] for f in FLOW_SCHEMA}
    base.update(
        ts=[datetime(2024, 1, 1, tzinfo=UTC)] * 2,
        uid=["C1", "C2"],
        sensor_id=["s", "s"],
        src_ip=["10.0.0.1", "10.0.0.2"],
        src_port=[40000, 5353],
        dest_ip=["10.0.0.9", "10.0.0.2"],
        dest_port=[80, 5353],
        proto=["TCP", "UDP"],
        ip_proto=[6, 17],
        community_id=["1:a", "1:b"],
        duration_s=[2.0, 0.0],
        end_reason=["fin", "idle"],
        pkts_toserver=[6, 1],
        pkts_toclient=[4, 0],
        bytes_toserver=[600, 100],
        bytes_toclient=[2400, 0],
        payload_bytes_toserver=[200, 58],
        payload_bytes_toclient=[2000, 0],
        header_bytes_toserver=[120, 8],
        header_bytes_toclient=[80, 0],
        fwd_pkt_len_mean=[200 / 6, 58.0],
        pkt_len_std=[3.0, 0.0],
        flow_iat_mean_s=[0.25, None],
        fwd_iat_total_s=[1.5, 0.0],
        idle_max_s=[0.5, None],
        fin_count=[2, None],
        syn_count=[2, None],
        rst_count=[0, None],
        fwd_init_win_bytes=[29200, -1],
        bwd_init_win_bytes=[1024, -1],
        icmp_type=[-1, -1],
        icmp_code=[-1, -1],
        label=["benign", "dos"],
        label_original=["normal", "udp flood"],
    )
    return pa.table(base, schema=FLOW_SCHEMA)


def test_cic_units() -> None:
    lt = flows_to_dataset(_flows(), "cic-ids2017")
    assert lt.format == "cic-ids2017"
    assert lt.numeric_columns == cic_ids2017.NUMERIC
    row = lt.table.slice(0, 1).to_pylist()[0]
    assert row["Flow Duration"] == 2_000_000  # microseconds
    assert row["Flow Bytes/s"] == pytest.approx(2200 / 2.0)  # payload bytes per second
    assert row["Flow Packets/s"] == pytest.approx(10 / 2.0)
    assert row["Fwd Packets/s"] == pytest.approx(3.0)
    assert row["Flow IAT Mean"] == pytest.approx(250_000)
    assert row["Fwd IAT Total"] == pytest.approx(1_500_000)
    assert row["Idle Max"] == pytest.approx(500_000)
    assert row["Total Length of Fwd Packet"] == 200
    assert row["Fwd Header Length"] == 120
    assert row["Packet Length Variance"] == pytest.approx(9.0)
    assert row["Down/Up Ratio"] == pytest.approx(4 / 6)
    assert row["Average Packet Size"] == pytest.approx(220.0)
    assert row["Dst Port"] == 80 and row["Protocol"] == 6
    assert row["Fwd Bytes/Bulk Avg"] is None  # unavailable -> null
    assert row["uid"] == "C1" and row["label"] == "benign" and row["dest_port"] == 80
    udp = lt.table.slice(1, 1).to_pylist()[0]
    assert udp["Flow Bytes/s"] is None  # zero duration: the dataset's Infinity, read as null
    assert udp["FWD Init Win Bytes"] == 0  # improved CIC writes 0 where the meter says -1
    assert udp["Total TCP Flow Time"] == 0


def test_unsw_and_kdd() -> None:
    unsw = flows_to_dataset(_flows(), "unsw-nb15").table.slice(0, 1).to_pylist()[0]
    assert unsw["dur"] == 2.0 and unsw["spkts"] == 6 and unsw["sbytes"] == 600
    assert unsw["service"] == "http" and unsw["proto"] == "tcp" and unsw["state"] == "FIN"
    assert unsw["rate"] == pytest.approx(9 / 2.0)
    assert unsw["sload"] == pytest.approx(600 * 8 * 5 / 6 / 2.0)
    assert unsw["smean"] == pytest.approx(100.0)
    assert unsw["tcprtt"] is None
    kdd = flows_to_dataset(_flows(), "nsl-kdd")
    assert kdd.categorical_columns == nsl_kdd.CATEGORICAL
    row = kdd.table.slice(0, 1).to_pylist()[0]
    assert (row["protocol_type"], row["service"], row["flag"]) == ("tcp", "http", "SF")
    assert row["src_bytes"] == 200 and row["hot"] is None
    assert kdd.table.column("land").to_pylist() == [0.0, 1.0]


@pytest.mark.parametrize("fmt", ["cic-ids2017", "unsw-nb15", "nsl-kdd"])
def test_coverage_lists_every_feature(fmt: str) -> None:
    cov = mapping_coverage(fmt)
    lt = flows_to_dataset(_flows(), fmt)
    assert list(cov) == [*lt.numeric_columns, *lt.categorical_columns]
    assert set(cov.values()) <= {"exact", "approximate", "unavailable"}
    for name, how in cov.items():
        if how == "unavailable":
            assert lt.table.column(name).null_count == 2, name
    mods = {"cic-ids2017": cic_ids2017, "unsw-nb15": unsw_nb15, "nsl-kdd": nsl_kdd}
    assert lt.numeric_columns == mods[fmt].NUMERIC


def test_cic_mostly_mapped() -> None:
    cov = mapping_coverage("cic-ids2017")
    assert sum(v != "unavailable" for v in cov.values()) >= 70


def test_flows_as_table_and_errors() -> None:
    lt = flows_as_table(_flows())
    assert lt.format == "flow" and lt.numeric_columns == FLOW_FEATURES
    assert "dest_port" not in FLOW_FEATURES and "duration_s" in FLOW_FEATURES
    with pytest.raises(ValueError):
        mapping_coverage("flow")
    with pytest.raises(ValueError):
        flows_to_dataset(pa.table({"x": [1]}), "cic-ids2017")
