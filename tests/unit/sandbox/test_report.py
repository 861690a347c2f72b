"""Reports: service-log summaries, flow labels, CIC-IDS2017 rows that the dataset reader reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from swarmguard.acquire.datasets import load_dataset
from swarmguard.acquire.pcap import read_pcap
from swarmguard.acquire.sandbox.node import Detonation
from swarmguard.sandbox.report import (
    build_report,
    label_flows,
    read_services_log,
    services_summary,
    write_cic_csv,
)


def test_services_summary_keeps_order_and_drops_repeats(tmp_path: Path) -> None:
    log = tmp_path / "services.jsonl"
    lines = [
        {"service": "dns", "qname": "b.example", "qtype": 1},
        {"service": "dns", "qname": "a.example", "qtype": 1},
        {"service": "dns", "qname": "b.example", "qtype": 28},
        {"service": "https", "method": "POST", "host": "a.example", "path": "/up"},
        {"service": "ftp", "command": "LOGIN", "user": "admin", "password": "x"},
    ]
    log.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"torn')
    names, http = services_summary(read_services_log(log))
    assert names == ["b.example", "a.example"]
    assert http == [{"method": "POST", "host": "a.example", "path": "/up", "service": "https"}]


def test_cic_rows_round_trip_with_the_sample_label(datasets_dir: Path, tmp_path: Path) -> None:
    flows = read_pcap(datasets_dir / "pcaps" / "esnet" / "nmap" / "nmap_80_all.pcap")
    labelled = label_flows(flows, "PortScan", "scan.py", "ab" * 32)
    assert set(labelled.column("label").to_pylist()) == {"probe"}
    assert set(labelled.column("label_original").to_pylist()) == {"sandbox:scan.py:abababababab"}
    path = tmp_path / "scan-abababababab.csv"
    assert write_cic_csv(labelled, "PortScan", path) == flows.num_rows
    rows = load_dataset(path)
    assert rows.format == "cic-ids2017" and rows.num_rows == flows.num_rows
    assert set(rows.labels()) == {"probe"}
    assert rows.table.column("uid")[0].as_py() == "scan-abababababab.csv:2"
    ports = sorted(rows.table.column("dest_port").to_pylist())
    assert ports == sorted(flows.column("dest_port").to_pylist())


def test_build_report_from_a_capture(datasets_dir: Path, tmp_path: Path) -> None:
    src = datasets_dir / "pcaps" / "esnet" / "nmap" / "nmap_80_all.pcap"
    shutil.copyfile(src, tmp_path / "traffic.pcap")
    (tmp_path / "services.jsonl").write_text('{"service":"dns","qname":"t.example","qtype":1}\n')
    flows = read_pcap(src)
    scanner = flows.column("src_ip")[0].as_py()
    target = flows.column("dest_ip")[0].as_py()
    det = Detonation(
        sample="scan.sh",
        sha256="cd" * 32,
        node="node-0",
        status="ok",
        exit_status=0,
        duration_s=1.0,
        overhead_s=0.5,
        pcap=tmp_path / "traffic.pcap",
        services_log=tmp_path / "services.jsonl",
        sample_ip=scanner,
        sinkhole_ip="10.240.0.1",
        label="PortScan",
    )
    report = build_report(det, tmp_path, run_id="r1")
    assert report["flows"] == flows.num_rows and report["packets"] > report["flows"]
    assert report["dns_queries"] == ["t.example"]
    assert f"{target}:80" in report["contacted"]
    assert {c.split(":")[0] for c in report["contacted"]} == {target}  # nmap -p 80 -A target
    assert report["alerts_by_category"].get("Attempted Information Leak", 0) > 0  # nmap -A
    assert report["bytes_out"] > 0
    assert pq.read_table(tmp_path / "flows.parquet").num_rows == flows.num_rows
    assert set(load_dataset(tmp_path / "flows.csv").labels()) == {"probe"}
