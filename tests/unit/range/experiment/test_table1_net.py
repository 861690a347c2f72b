"""The ``--quick`` contract end to end on the small scenario: every row, every plot, real runs.

Needs root (network namespaces, nftables) and about ten minutes on two cores. The command runs
as a subprocess in its own process group; the range removes its namespaces itself, also when
the command is killed, and ``range.topology.sweep`` is called afterwards for anything left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from swarmguard.range.experiment.report import CONTRACT_FIELDS

pytestmark = [pytest.mark.net, pytest.mark.slow]

ROWS = ["rules", "fail2ban", "svm", "lstm-federated", "gnn-federated", "marl"]
PLOTS = ["dr_far.png", "response_times.png", "timeline.png"]


def _command() -> list[str]:
    """``swarmguard experiment table1`` of this checkout."""
    return [sys.executable, "-m", "swarmguard", "experiment", "table1"]


@pytest.mark.timeout(1800)
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_quick_small_scenario_end_to_end(tmp_path: Path) -> None:
    for tool in ("ip", "nft", "tcpdump", "nmap", "hping3", "hydra", "fail2ban-server"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed")
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    # a deep output folder: fail2ban's control socket must not live under it (AF_UNIX limit)
    out = tmp_path / ("deep-output-folder-" * 4) / "out"
    result_path = tmp_path / "table1.json"
    argv = [
        *_command(),
        "--scenario",
        "small",
        "--quick",
        "--seed",
        "1",
        "--out",
        str(out),
        "--json",
        str(result_path),
    ]
    proc = subprocess.Popen(
        argv, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        stdout, stderr = proc.communicate(timeout=1500)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        from swarmguard.range.topology import sweep

        sweep()
    assert proc.returncode == 0, stderr.decode(errors="replace")[-3000:]
    text = stderr.decode(errors="replace")
    assert "warm-up" in text and "run 6/6: marl" in text  # progress throughout

    result = json.loads(result_path.read_text())
    names = [r["name"] for r in result["rows"]]
    assert names == ROWS
    for r in result["rows"]:
        assert set(CONTRACT_FIELDS) <= set(r), r["name"]
        assert r["attempts"] > 0 and r["benign_flows"] > 0, r["name"]
        assert r["benign_requests"] > 0, r["name"]
        assert r["trained_on"], r["name"]
        # benign users keep working where no false alarm fires
        if r["false_alerts"] == 0:
            assert r["benign_requests_failed"] == 0, r["name"]
        # response times are measured from captured packets, never from the schedule
        for a in r["per_attempt"]:
            if a["response_ms"] is not None:
                assert a["first_packet_from"] == "capture", (r["name"], a["attack"])
    rules = result["rows"][0]
    assert rules["detection_rate"] > 0 and rules["enforced"] > 0
    assert rules["response_ms_p50"] is not None and rules["response_ms_p50"] > 0
    fail2ban = result["rows"][1]
    # fail2ban alone (no agent) on the same scenario and seed: it bans the SSH guesser
    assert fail2ban["attempts"] >= 1 and fail2ban["run"] != rules["run"]
    assert fail2ban["detection_rate"] > 0 and fail2ban["enforced"] > 0
    for name in ("lstm-federated", "gnn-federated"):
        assert (
            "Flower deployment"
            in next(r for r in result["rows"] if r["name"] == name)["trained_on"]
        )
    fed = result["federation"]
    assert set(fed) == {"lstm", "gnn"}
    for report in fed.values():
        assert report["report"]["protect"] == "ckks"
        assert report["report"]["coordinator_holds_secret_key"] is False
    assert {o["dataset"] for o in result["offline"]} >= {"NSL-KDD", "CIC-IDS2017"}
    for o in result["offline"]:
        assert o["test_set"] and o["n_test"] > 0

    for name in ("table1.md", "table1.csv", "table1.json", *PLOTS):
        assert (out / name).stat().st_size > 0, name
    for name in PLOTS:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "| marl |" in (out / "table1.md").read_text()
    assert b"Table 1" in stdout
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "sgx-" not in leftover
