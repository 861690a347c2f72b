"""The command lines in CONTRACTS.md, run as a user runs them (a subprocess, real files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "data" / "demo"

CONTRACT_FIELDS = {
    "detector",
    "format",
    "n_train",
    "n_test",
    "tp",
    "fp",
    "tn",
    "fn",
    "detection_rate",
    "false_alarm_rate",
    "precision",
    "f1",
    "accuracy",
    "per_class_detection_rate",
    "fit_seconds",
    "score_seconds",
    "flows_per_second",
    "latency_ms_p50",
    "latency_ms_p99",
}


def sg(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmguard", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def nsl_split(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("nsl-split")
    proc = sg(
        "split",
        datasets_dir / "nsl-kdd" / "KDDTrain+_20Percent.txt",
        "--by",
        "family",
        "--holdout",
        "probe",
        "--out",
        out,
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow
def test_evaluate_contract_on_an_attack_family_holdout(nsl_split: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    proc = sg(
        "evaluate",
        "--detector",
        "svm",
        "--train",
        nsl_split / "train",
        "--test",
        nsl_split / "test",
        "--format",
        "nsl-kdd",
        "--seed",
        "1",
        "--json",
        out,
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert set(result) >= CONTRACT_FIELDS
    assert result["format"] == "nsl-kdd"
    assert result["tp"] + result["fn"] + result["fp"] + result["tn"] == result["n_test"]
    # Every probe type in test was unseen in training; none of it may appear there.
    train_text = next((nsl_split / "train").iterdir()).read_text()
    for probe in ("ipsweep", "nmap", "portsweep", "satan"):
        assert f",{probe}," not in train_text
        assert probe in result["per_class_detection_rate"]


def test_evaluate_auto_format_on_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    proc = sg(
        "evaluate",
        "--detector",
        "svm",
        "--train",
        DEMO / "cic-ids2017",
        "--test",
        DEMO / "cic-ids2017",
        "--json",
        out,
        "--quiet",
        "--latency-samples",
        "20",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["format"] == "cic-ids2017"
    assert set(result) >= CONTRACT_FIELDS


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage\x81\x82\n" * 5, "garbage.csv"),
        (b"1,2,3\n4,5\n", "garbage.csv"),
    ],
)
def test_evaluate_bad_input_is_one_line(tmp_path: Path, content: bytes, needle: str) -> None:
    bad = tmp_path / "garbage.csv"
    bad.write_bytes(content)
    proc = sg(
        "evaluate",
        "--detector",
        "svm",
        "--train",
        bad,
        "--test",
        bad,
        "--json",
        tmp_path / "o.json",
        "--quiet",
    )
    assert needle in one_error_line(proc)
    assert not (tmp_path / "o.json").exists()


def test_evaluate_unknown_detector_and_missing_file(tmp_path: Path) -> None:
    proc = sg(
        "evaluate",
        "--detector",
        "nope",
        "--train",
        DEMO / "nsl-kdd",
        "--test",
        DEMO / "nsl-kdd",
        "--json",
        tmp_path / "o.json",
    )
    assert "unknown detector 'nope'" in one_error_line(proc)
    proc = sg(
        "evaluate",
        "--detector",
        "svm",
        "--train",
        tmp_path / "missing.csv",
        "--test",
        tmp_path / "missing.csv",
        "--json",
        tmp_path / "o.json",
    )
    assert "missing.csv" in one_error_line(proc)


def test_detect_contract_writes_eve_alerts(tmp_path: Path) -> None:
    model = tmp_path / "svm.joblib"
    proc = sg(
        "evaluate",
        "--detector",
        "svm",
        "--train",
        DEMO / "cic-ids2017",
        "--test",
        DEMO / "cic-ids2017",
        "--json",
        tmp_path / "m.json",
        "--model-out",
        model,
        "--quiet",
        "--latency-samples",
        "0",
    )
    assert proc.returncode == 0, proc.stderr
    eve = tmp_path / "alerts.jsonl"
    pcap = DEMO / "pcaps" / "synflood_first2000.pcap"
    proc = sg("detect", "--pcap", pcap, "--detector", "svm", "--model", model, "--eve", eve)
    assert proc.returncode == 0, proc.stderr
    alerts = [json.loads(line) for line in eve.read_text().splitlines()]
    assert alerts, "a spoofed SYN flood should raise alerts"
    for alert in alerts:
        assert alert["event_type"] == "alert"
        assert alert["dest_ip"] == "10.10.10.10"
        assert {"signature_id", "signature", "category", "severity"} <= set(alert["alert"])
        assert alert["community_id"].startswith("1:")
        assert alert["detector"] == "svm" and 0 <= alert["score"] <= 1


def test_detect_bad_capture_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture file at all")
    proc = sg("detect", "--pcap", bad, "--eve", tmp_path / "a.jsonl")
    assert "bad.pcap" in one_error_line(proc)


def test_ingest_pcap_to_parquet_and_jsonl(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    pcap = DEMO / "pcaps" / "synflood_first2000.pcap"
    proc = sg("ingest", pcap, "--out", tmp_path / "f.parquet", "--quiet")
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(tmp_path / "f.parquet")
    assert table.num_rows > 0 and "community_id" in table.column_names
    proc = sg("ingest", pcap, "--out", tmp_path / "f.jsonl", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "f.jsonl").read_text().splitlines()) == table.num_rows


def test_help_everywhere() -> None:
    for cmd in ("ingest", "detect", "evaluate", "split", "demo", "experiment"):
        proc = sg(cmd, "--help")
        assert proc.returncode == 0 and "--help" in proc.stdout, cmd
