"""Training rows from a capture, the report files and plots, and the command's errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from t1_synthetic import tcp_frame, write_pcap
from typer.testing import CliRunner

from swarmguard.acquire.datasets import load_dataset
from swarmguard.acquire.pcap import read_pcap
from swarmguard.cli.experiment_table1 import experiment_table1_command
from swarmguard.range.experiment.artifacts import Attempt
from swarmguard.range.experiment.plots import Timeline, plot_all
from swarmguard.range.experiment.report import CONTRACT_FIELDS, write_report
from swarmguard.range.experiment.table1 import configurations
from swarmguard.range.experiment.training import label_zone_flows, write_zone_dataset

ATK, SRV, WS = "10.209.0.21", "10.202.0.10", "10.201.0.10"
T = 1_800_000_000.0


def test_warmup_flows_are_labelled_from_ground_truth_and_load_back(tmp_path: Path) -> None:
    pcap = write_pcap(
        tmp_path / "servers.pcap",
        [(T + 1 + i / 10, tcp_frame(ATK, SRV, 40000 + i, 22)) for i in range(6)]
        + [(T + 2 + i, tcp_frame(WS, SRV, 50000 + i, 80)) for i in range(4)]
        + [(T + 60, tcp_frame(ATK, SRV, 41000, 22))],  # after the attempt: benign
    )
    flows = read_pcap(pcap)
    a = Attempt("1", "hydra-ssh", "hydra", "brute_force", ATK, SRV, 22, "servers", T, T + 10)
    labels = label_zone_flows(flows, [a])
    assert labels.count("brute_force") == 6 and labels.count("benign") == 5
    data = write_zone_dataset("servers", flows, labels, tmp_path / "servers")
    assert data.counts == {"benign": 5, "brute_force": 6} and data.rows == 11
    rows = load_dataset(data.path)
    assert rows.format == "cic-ids2017"
    assert list(rows.labels()).count("brute_force") == 6


def _row(name: str, dr: float | None, response: list[float]) -> dict[str, Any]:
    per_attempt = [
        {
            "attempt_id": "1",
            "attack": "hydra-ssh",
            "category": "brute_force",
            "first_packet_ts": T + 1,
            "ts_start": T,
            "ts_end": T + 8,
            "detected": True,
            "enforced_ts": T + 2,
        }
    ]
    return {
        "name": name,
        "detection_rate": dr,
        "false_alarm_rate": 0.01,
        "response_ms_p50": response[0] if response else None,
        "response_ms_p95": response[-1] if response else None,
        "detect_to_enforce_ms_p50": 12.0 if response else None,
        "attempts_before_block_median": 3.0 if response else None,
        "benign_requests_failed": 0,
        "benign_requests": 40,
        "attempts": 1,
        "detected": 1,
        "enforced": len(response),
        "benign_flows": 100,
        "benign_flows_alerted": 1,
        "per_attack": {"hydra-ssh": {"category": "brute_force", "attempts": 1, "detected": 1}},
        "per_attempt": per_attempt,
        "response_ms": response,
        "trained_on": "warm-up capture",
    }


def test_report_and_plots_are_written(tmp_path: Path) -> None:
    rows = [_row("rules", 1.0, [900.0, 1500.0]), _row("svm", None, [])]
    offline = [
        {
            "name": "svm",
            "dataset": "NSL-KDD",
            "detection_rate": 0.9,
            "false_alarm_rate": 0.05,
            "f1": 0.91,
            "n_train": 10,
            "n_test": 5,
            "test_set": "random 30 %",
        }
    ]
    timelines = {"rules": Timeline(T, [T + 1.5], [T + 2])}
    plots = plot_all(rows, offline, timelines, tmp_path)
    assert [p.name for p in plots] == ["dr_far.png", "response_times.png", "timeline.png"]
    for p in plots:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = {
        "scenario": "small",
        "quick": True,
        "seed": 3,
        "machine": "test",
        "seconds": 1.0,
        "rows": rows,
        "offline": offline,
        "plots": [str(p) for p in plots],
        "notes": ["a note"],
    }
    paths = write_report(result, tmp_path, tmp_path / "out" / "t.json")
    md = paths[0].read_text()
    assert "| rules | 100.0 % (1/1)" in md and "900 ms / 1500 ms" in md
    assert "NSL-KDD" in md and "![timeline](timeline.png)" in md
    data = json.loads((tmp_path / "out" / "t.json").read_text())
    for r in data["rows"]:
        assert set(CONTRACT_FIELDS) <= set(r)
    assert data["offline"][0]["test_set"]
    with (tmp_path / "table1.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert [r["kind"] for r in table] == ["live", "live", "offline"]
    assert table[0]["response_ms_p50"] == "900.0"


def test_configurations_isolate_the_detector_under_test() -> None:
    configs = {c.name: c for c in configurations(Path("/m"))}
    assert configs["fail2ban"].fail2ban and not configs["fail2ban"].agents
    assert not configs["rules"].fail2ban and configs["rules"].agents
    svm = configs["svm"].overrides["detectors"]
    assert svm["learned"] == "svm" and not svm["rules"] and not svm["packet_rules"]
    marl = configs["marl"].overrides
    assert marl["policy"]["name"] == "rl:default"
    assert marl["detectors"]["model"] == "/m/lstm-federated.model"


def test_unknown_scenario_is_one_clear_error(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(experiment_table1_command)
    result = CliRunner().invoke(
        app,
        [
            "--scenario",
            str(tmp_path / "nope.yaml"),
            "--out",
            str(tmp_path / "o"),
            "--json",
            str(tmp_path / "o.json"),
        ],
    )
    assert result.exit_code == 2
    assert "nope.yaml: no such scenario file" in result.output


@pytest.mark.parametrize("flag", ["--scenario", "--out", "--json"])
def test_required_options(flag: str, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(experiment_table1_command)
    args = {"--scenario": "small", "--out": str(tmp_path), "--json": str(tmp_path / "r.json")}
    argv = [x for k, v in args.items() if k != flag for x in (k, v)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
