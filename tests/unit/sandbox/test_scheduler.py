"""``swarmguard sandbox run`` end to end on a local three-node Ray cluster (root, slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from swarmguard.acquire.datasets import load_dataset
from swarmguard.acquire.sandbox.netns import list_namespaces
from swarmguard.sandbox.report import model_alerts
from swarmguard.sandbox.samples import sample_path

pytestmark = [pytest.mark.net, pytest.mark.slow]

SHIPPED = [
    "http_beacon.py",
    "dns_tunnel.py",
    "port_scan.py",
    "ftp_guess.py",
    "http_exfil.py",
    "benign_browse.py",
    "nmap_scan.sh",
    "hping3_syn.sh",
]


@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    base = tmp_path_factory.mktemp("sandbox")
    out, js = base / "out", base / "run.json"
    args = ["run", *(str(sample_path(s)) for s in SHIPPED)]
    args += ["--nodes", "3", "--timeout", "20", "--out", str(out), "--json", str(js), "-q"]
    # Ray runs in a child process: its node launcher leaves /dev/null handles for the garbage
    # collector, which would turn into warnings (errors here) in whatever test runs next.
    proc = _python(CLI, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    yield out, json.loads(js.read_text())


CLI = "from swarmguard.cli.sandbox import sandbox_app; sandbox_app()"
CHAOS = """
import json, os, signal, sys, time
from pathlib import Path
from swarmguard.sandbox.scheduler import SandboxConfig, run_sandbox
killed = []

def chaos(cluster, out):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not killed:
        for mark in sorted((out / ".attempts").glob("*/*.json")):
            info = json.loads(mark.read_text())
            os.kill(info["pid"], signal.SIGKILL)  # a worker dies mid-detonation
            killed.append(f"worker {info['pid']} on {info['node']}")
            break
        time.sleep(0.05)
    time.sleep(0.5)
    cluster.remove_node(0)  # and then a whole node
    killed.append("node")

cfg = SandboxConfig(
    samples=[Path(p) for p in sys.argv[2:]], out_dir=Path(sys.argv[1]), nodes=3, timeout_s=20
)
run = run_sandbox(cfg, chaos=chaos)
print(json.dumps({"run": run, "killed": killed, "run_id": cfg.run_id}))
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        check=False,
    )


def _by_name(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["sample"]: s for s in run["samples"]}


def test_reports_match_what_each_sample_does(shipped_run: tuple[Path, dict[str, Any]]) -> None:
    out, run = shipped_run
    brief = [(r["sample"], r["status"], r["flows"], r.get("error")) for r in run["samples"]]
    assert run["summary"]["samples"] == len(SHIPPED), brief
    assert (run["summary"]["completed"], run["summary"]["lost"]) == (len(SHIPPED), 0), brief
    s = _by_name(run)
    for name, r in s.items():
        assert r["status"] == "ok" and r["exit_status"] == 0, (name, r["error"], r["stderr_tail"])
        assert r["node"] in {"node-0", "node-1", "node-2"}
        assert Path(r["pcap"]).is_file() and r["packets"] > 0 and r["flows"] > 0
        for key in ("sha256", "duration_s", "dns_queries", "http_requests", "contacted"):
            assert key in r
        sinkhole = r["contacted"][0].split(":")[0]
        assert all(c.startswith(sinkhole + ":") for c in r["contacted"])  # only the sinkhole
    beacon = s["http_beacon.py"]
    assert beacon["dns_queries"] == ["c2.beacon.example"]
    assert [(h["method"], h["host"], h["path"]) for h in beacon["http_requests"]] == [
        ("GET", "c2.beacon.example", f"/beacon?id=sandbox&seq={i}") for i in range(4)
    ]
    assert sorted(c.split(":")[1] for c in beacon["contacted"]) == ["53", "80"]
    tunnel = s["dns_tunnel.py"]
    assert len(tunnel["dns_queries"]) == 6
    assert all(q.endswith(".t.exfil-dns.example") for q in tunnel["dns_queries"])
    assert tunnel["http_requests"] == [] and [c.split(":")[1] for c in tunnel["contacted"]] == [
        "53"
    ]
    scan = s["port_scan.py"]
    assert scan["dns_queries"] == ["scan-target.example"]
    assert {int(c.split(":")[1]) for c in scan["contacted"]} == set(range(1, 61))
    assert scan["alerts_by_category"].get("Attempted Information Leak", 0) > 0
    guess = s["ftp_guess.py"]
    assert guess["dns_queries"] == ["ftp.target.example"]
    assert sorted(c.split(":")[1] for c in guess["contacted"]) == ["21", "53"]
    assert guess["alerts_by_category"].get("Attempted User Privilege Gain", 0) > 0
    exfil = s["http_exfil.py"]
    assert [(h["method"], h["path"]) for h in exfil["http_requests"]] == [
        ("POST", f"/upload?part={i}") for i in range(3)
    ]
    assert exfil["bytes_out"] > 3 * 4096 > exfil["bytes_in"]
    assert [h["host"] for h in s["benign_browse.py"]["http_requests"]] == [
        "www.news.example",
        "docs.python.example",
        "weather.example",
    ]
    nmap = s["nmap_scan.sh"]
    assert nmap["dns_queries"] == ["nmap-target.example"]
    assert len({c for c in nmap["contacted"] if not c.endswith(":53")}) >= 95  # 100 ports
    hping = s["hping3_syn.sh"]
    assert hping["dns_queries"] == ["hping-target.example"]
    assert any(c.endswith(":80") for c in hping["contacted"]) and hping["packets"] >= 400
    # the output folder: one result per sample, nothing of the run left behind
    assert len(list((out / "runs").iterdir())) == len(SHIPPED)
    assert not (out / ".tmp").exists() and not (out / ".attempts").exists()
    run_ids = {r["run_id"] for r in s.values()}
    assert len(run_ids) == 1 and list_namespaces(f"sgs-{run_ids.pop()}-") == []


def test_output_is_labelled_training_data(shipped_run: tuple[Path, dict[str, Any]]) -> None:
    from swarmguard.cli.app import app

    out, run = shipped_run
    rows = load_dataset(out / "dataset")
    files = {uid.split(":")[0] for uid in rows.table.column("uid").to_pylist()}
    assert files == {f"{Path(r['sample']).stem}-{r['sha256'][:12]}.csv" for r in run["samples"]}, [
        (r["sample"], r["status"], r["flows"], r.get("error")) for r in run["samples"]
    ]
    by_file = {
        f: set(lbl)
        for f in files
        for lbl in [
            [
                label
                for uid, label in zip(
                    rows.table.column("uid").to_pylist(), rows.labels(), strict=True
                )
                if uid.startswith(f + ":")
            ]
        ]
    }
    assert by_file[next(f for f in files if f.startswith("benign_browse-"))] == {"benign"}
    assert by_file[next(f for f in files if f.startswith("port_scan-"))] == {"probe"}
    assert by_file[next(f for f in files if f.startswith("ftp_guess-"))] == {"brute_force"}
    metrics = out.parent / "metrics.json"
    result = CliRunner().invoke(
        app,
        [
            "evaluate", "--detector", "svm", "--train", str(out / "dataset"),
            "--test", str(out / "dataset"), "--json", str(metrics), "--latency-samples", "10",
            "--model-out", str(out.parent / "svm.model"), "-q",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    m = json.loads(metrics.read_text())
    assert m["n_train"] == rows.num_rows and m["detection_rate"] > 0.5
    # the fitted model is a detector a later sandbox run can apply (--model)
    scan = next(r for r in run["samples"] if r["sample"] == "port_scan.py")
    flows = pq.read_table(scan["flows_file"])
    assert sum(model_alerts(out.parent / "svm.model", flows, "test").values()) > 0
    ingested = out.parent / "flows.parquet"
    result = CliRunner().invoke(app, ["ingest", run["samples"][0]["pcap"], "-o", str(ingested)])
    assert result.exit_code == 0, result.output


def test_killed_worker_and_node_lose_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    samples = []
    for i in range(6):
        p = tmp_path / f"slow{i}.sh"
        p.write_text(f"#!/bin/sh\ngetent hosts slow{i}.example\nsleep 2\n")
        samples.append(p)
    crash = tmp_path / "crash.sh"
    crash.write_text("#!/bin/sh\necho bye >&2\nexit 5\n")
    samples.append(crash)  # a crashing sample is reported and does not stop the run
    proc = _python(CHAOS, str(tmp_path / "out"), *map(str, samples))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    run, killed, run_id = got["run"], got["killed"], got["run_id"]
    assert len(killed) == 2
    summary = run["summary"]
    assert (summary["samples"], summary["completed"], summary["lost"]) == (7, 7, 0)
    assert summary["retried"] >= 1
    results = sorted((tmp_path / "out" / "runs").iterdir())
    assert len(results) == 7  # exactly once each
    assert (run["samples"][6]["status"], run["samples"][6]["exit_status"]) == ("error", 5)
    for i, r in enumerate(run["samples"][:6]):
        assert r["status"] == "ok" and r["dns_queries"] == [f"slow{i}.example"]
    assert list_namespaces(f"sgs-{run_id}-") == []
