"""``swarmguard sandbox run`` end to end on a local three-node Ray cluster (root, slow)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from swarmguard.acquire.datasets import load_dataset
from swarmguard.acquire.sandbox.limits import cleanup_cgroups
from swarmguard.acquire.sandbox.netns import cleanup_run, list_namespaces
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


@pytest.fixture(scope="module")
def chaos_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """The shipped samples through the same CLI, while a worker and then a node are killed."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    base = tmp_path_factory.mktemp("chaos")
    out, js, info = base / "out", base / "run.json", base / "killed.json"
    crash = base / "crash.sh"
    crash.write_text("#!/bin/sh\necho bye >&2\nexit 5\n")
    args = [str(info), "run", *(str(sample_path(s)) for s in SHIPPED), str(crash)]
    args += ["--nodes", "3", "--timeout", "20", "--out", str(out), "--json", str(js), "-q"]
    proc = _python(CHAOS, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    yield out, json.loads(js.read_text()), json.loads(info.read_text())


CLI = "from swarmguard.cli.sandbox import sandbox_app; sandbox_app()"
# The CLI exactly as `swarmguard sandbox run`, with run_sandbox given a chaos thread that kills
# one worker mid-detonation, then a whole node while a detonation is running on it.
CHAOS = """
import functools, json, os, signal, sys, time
from pathlib import Path
import swarmguard.sandbox.scheduler as scheduler
from swarmguard.cli.sandbox import sandbox_app
info_file = Path(sys.argv[1])
killed = {"worker_key": None, "node": None, "node_keys": []}

def running(out):
    \"\"\"(key, node, pid, age) of attempts whose worker lives and whose result is not out.\"\"\"
    found = []
    for mark in sorted((out / ".attempts").glob("*/*.json")):
        with __import__("contextlib").suppress(OSError, ValueError):
            info = json.loads(mark.read_text())
            key = mark.parent.name
            if (out / "runs" / key).exists():
                continue
            os.kill(info["pid"], 0)
            found.append((key, info["node"], info["pid"], time.time() - mark.stat().st_mtime))
    return found

def chaos(cluster, out):
    victim = cluster.worker_node_name(0)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        now = running(out)
        if killed["worker_key"] is None:
            for key, node, pid, age in now:
                if node != victim and age < 0.5:
                    os.kill(pid, signal.SIGKILL)  # a worker dies mid-detonation
                    killed["worker_key"] = key
                    break
        else:
            on_victim = [key for key, node, pid, age in now if node == victim and age < 0.5]
            if on_victim:
                killed["node_keys"] = on_victim
                killed["node"] = cluster.remove_node(0)  # a whole node dies mid-detonation
                break
        time.sleep(0.02)
    info_file.write_text(json.dumps(killed))

scheduler.run_sandbox = functools.partial(scheduler.run_sandbox, chaos=chaos)
sandbox_app(sys.argv[2:])
"""
JOIN = """
import shutil, sys, tempfile
from ray.cluster_utils import Cluster
from swarmguard.cli.sandbox import sandbox_app
tmp = tempfile.mkdtemp(prefix="sgj-", dir="/tmp")
cluster = Cluster(initialize_head=True, head_node_args={
    "num_cpus": 1, "resources": {"sandbox_slots": 2}, "object_store_memory": 80 << 20,
    "include_dashboard": False, "temp_dir": tmp,
})
try:
    sandbox_app([*sys.argv[1:], "--address", cluster.address], standalone_mode=False)
finally:
    cluster.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
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


STATUSES = {"ok", "error", "killed", "timeout", "failed", "lost"}


def _assert_contract(run: dict[str, Any]) -> None:
    """Every key of the ``sandbox run`` contract, with its type, in each sample and the summary."""
    assert set(run) >= {"samples", "summary"}
    for r in run["samples"]:
        name = r.get("sample")
        assert isinstance(r["sha256"], str) and len(r["sha256"]) == 64, name
        assert r["status"] in STATUSES, name
        assert r["exit_status"] is None or isinstance(r["exit_status"], int), name
        assert r["duration_s"] is None or isinstance(r["duration_s"], int | float), name
        assert r["pcap"] is None or isinstance(r["pcap"], str), name
        assert isinstance(r["packets"], int) and isinstance(r["flows"], int), name
        assert isinstance(r["dns_queries"], list), name
        assert all(isinstance(q, str) and q for q in r["dns_queries"]), name
        assert isinstance(r["http_requests"], list), name
        for h in r["http_requests"]:
            assert all(isinstance(h[k], str) for k in ("method", "host", "path")), (name, h)
        assert isinstance(r["contacted"], list), name
        for c in r["contacted"]:
            host, _, port = c.rpartition(":")
            assert host and port.isdigit(), (name, c)
        assert isinstance(r["alerts_by_category"], dict), name
        assert all(
            isinstance(k, str) and isinstance(v, int) for k, v in r["alerts_by_category"].items()
        ), name
        assert r["node"] is None or isinstance(r["node"], str), name
        if r["status"] != "lost":
            assert isinstance(r["pcap"], str) and Path(r["pcap"]).is_file(), name
            assert isinstance(r["node"], str) and isinstance(r["duration_s"], int | float), name
    s = run["summary"]
    for key in ("samples", "completed", "retried", "lost"):
        assert isinstance(s[key], int) and s[key] >= 0, key
    assert isinstance(s["wall_seconds"], int | float) and s["wall_seconds"] > 0
    assert s["completed"] + s["lost"] == s["samples"]


def _ports(r: dict[str, Any]) -> set[int]:
    return {int(c.rpartition(":")[2]) for c in r["contacted"]}


def _services(r: dict[str, Any]) -> list[dict[str, Any]]:
    log = Path(r["pcap"]).with_name("services.jsonl")
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _assert_shipped(run: dict[str, Any]) -> None:
    """What each shipped sample does shows in its report (for every shipped sample in ``run``)."""
    s = {k: v for k, v in _by_name(run).items() if k in SHIPPED}
    assert s, "no shipped sample in the run"
    for name, r in s.items():
        assert r["status"] == "ok" and r["exit_status"] == 0, (name, r["error"], r["stderr_tail"])
        assert r["node"] in {"node-0", "node-1", "node-2"}
        assert Path(r["pcap"]).is_file() and r["packets"] > 0 and r["flows"] > 0
        sinkhole = r["contacted"][0].split(":")[0]
        assert all(c.startswith(sinkhole + ":") for c in r["contacted"])  # only the sinkhole
    if beacon := s.get("http_beacon.py"):
        assert beacon["dns_queries"] == ["c2.beacon.example"]
        assert [(h["method"], h["host"], h["path"]) for h in beacon["http_requests"]] == [
            ("GET", "c2.beacon.example", f"/beacon?id=sandbox&seq={i}") for i in range(4)
        ]
        assert _ports(beacon) == {53, 80}
    if tunnel := s.get("dns_tunnel.py"):
        assert len(tunnel["dns_queries"]) == 6
        assert all(q.endswith(".t.exfil-dns.example") for q in tunnel["dns_queries"])
        assert tunnel["http_requests"] == [] and _ports(tunnel) == {53}
    if scan := s.get("port_scan.py"):
        assert scan["dns_queries"] == ["scan-target.example"]
        assert _ports(scan) == set(range(1, 61))
        assert scan["alerts_by_category"].get("Attempted Information Leak", 0) > 0
    if guess := s.get("ftp_guess.py"):
        assert guess["dns_queries"] == ["ftp.target.example"]
        assert _ports(guess) == {21, 53}
        assert guess["alerts_by_category"].get("Attempted User Privilege Gain", 0) > 0
        logins = [x for x in _services(guess) if x["service"] == "ftp" and x["command"] == "LOGIN"]
        assert [(x["user"], x["password"]) for x in logins] == [("admin", p) for p in FTP_PASSWORDS]
    if exfil := s.get("http_exfil.py"):
        assert exfil["dns_queries"] == ["drop.exfil-http.example"]
        assert [(h["method"], h["host"], h["path"]) for h in exfil["http_requests"]] == [
            ("POST", "drop.exfil-http.example", f"/upload?part={i}") for i in range(3)
        ]
        assert _ports(exfil) == {53, 80}
        assert exfil["bytes_out"] > 3 * 4096 > exfil["bytes_in"]
        posts = [x for x in _services(exfil) if x["service"] == "http"]
        assert [x["body_bytes"] for x in posts] == [4096] * 3
    if browse := s.get("benign_browse.py"):
        sites = ["www.news.example", "docs.python.example", "weather.example"]
        assert browse["dns_queries"] == sites
        assert [(h["method"], h["host"], h["path"]) for h in browse["http_requests"]] == [
            ("GET", site, "/") for site in sites
        ]
        assert _ports(browse) == {53, 80} and browse["alerts_by_category"] == {}
    if nmap := s.get("nmap_scan.sh"):
        assert nmap["dns_queries"] == ["nmap-target.example"]
        assert len(_ports(nmap) - {53}) >= 95  # 100 ports
    if hping := s.get("hping3_syn.sh"):
        assert hping["dns_queries"] == ["hping-target.example"]
        assert 80 in _ports(hping) and hping["packets"] >= 400


FTP_PASSWORDS = [
    "123456", "password", "admin", "letmein", "qwerty", "welcome",
    "monkey", "dragon", "master", "secret", "shadow", "trustno1",
]  # fmt: skip


def test_reports_match_what_each_sample_does(shipped_run: tuple[Path, dict[str, Any]]) -> None:
    out, run = shipped_run
    _assert_contract(run)
    brief = [(r["sample"], r["status"], r["flows"], r.get("error")) for r in run["samples"]]
    assert run["summary"]["samples"] == len(SHIPPED), brief
    assert (run["summary"]["completed"], run["summary"]["lost"]) == (len(SHIPPED), 0), brief
    assert set(_by_name(run)) == set(SHIPPED)
    _assert_shipped(run)
    # the output folder: one result per sample, nothing of the run left behind
    assert len(list((out / "runs").iterdir())) == len(SHIPPED)
    assert not (out / ".tmp").exists() and not (out / ".attempts").exists()
    run_ids = {r["run_id"] for r in run["samples"]}
    assert len(run_ids) == 1
    run_id = run_ids.pop()
    assert list_namespaces(f"sgs-{run_id}-") == []
    assert not list(Path("/tmp").glob(f"sgr-{run_id}-*"))  # Ray's private folder is gone


def test_killed_worker_and_node_lose_nothing(
    chaos_run: tuple[Path, dict[str, Any], dict[str, Any]],
) -> None:
    out, run, killed = chaos_run
    _assert_contract(run)
    assert killed["worker_key"], killed
    assert killed["node"] in {"node-1", "node-2", "node-0"} and killed["node_keys"], killed
    summary = run["summary"]
    n = len(SHIPPED) + 1
    assert (summary["samples"], summary["completed"], summary["lost"]) == (n, n, 0)
    by_key = {f"{r['sha256'][:16]}-{r['run_id']}": r for r in run["samples"]}
    assert len(by_key) == n
    hit = {killed["worker_key"], *killed["node_keys"]}
    for key in hit:  # each sample that was running on what died was retried, and completed
        assert by_key[key]["attempts"] >= 2, (key, by_key[key]["sample"])
        assert by_key[key]["node"] != killed["node"] or key == killed["worker_key"]
    assert summary["retried"] >= len(hit)
    results = sorted((out / "runs").iterdir())
    assert sorted(p.name for p in results) == sorted(by_key)  # exactly once each
    assert all(len(list(p.glob("report.json"))) == 1 for p in results)
    crash = by_key[next(k for k, r in by_key.items() if r["sample"] == "crash.sh")]
    assert (crash["status"], crash["exit_status"]) == ("error", 5)  # reported, run goes on
    _assert_shipped(run)
    run_id = run["samples"][0]["run_id"]
    assert list_namespaces(f"sgs-{run_id}-") == []
    assert not list(Path("/tmp").glob(f"sgr-{run_id}-*"))


def test_output_is_labelled_training_data(
    shipped_run: tuple[Path, dict[str, Any]],
    chaos_run: tuple[Path, dict[str, Any], dict[str, Any]],
) -> None:
    from swarmguard.cli.app import app

    out, run = shipped_run
    other_out = chaos_run[0]
    rows = load_dataset(out / "dataset")
    files = {uid.split(":")[0] for uid in rows.table.column("uid").to_pylist()}
    assert files == {f"{Path(r['sample']).stem}-{r['sha256'][:12]}.csv" for r in run["samples"]}
    # `swarmguard ingest OUT` reads the output folder itself; each row keeps its sample's label
    ingested = out.parent / "rows.parquet"
    result = CliRunner().invoke(app, ["ingest", str(out), "-o", str(ingested)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(ingested)
    assert table.num_rows == rows.num_rows
    by_file: dict[str, set[str]] = {}
    for uid, label in zip(
        table.column("uid").to_pylist(), table.column("label").to_pylist(), strict=True
    ):
        by_file.setdefault(uid.split(":")[0].split("-")[0], set()).add(label)
    assert by_file["benign_browse"] == {"benign"}
    assert by_file["port_scan"] == {"probe"}
    assert by_file["ftp_guess"] == {"brute_force"}
    assert by_file["http_beacon"] == {"botnet"}
    # train on one run's dataset, test on another run's
    metrics = out.parent / "metrics.json"
    result = CliRunner().invoke(
        app,
        [
            "evaluate", "--detector", "svm", "--train", str(out / "dataset"),
            "--test", str(other_out / "dataset"), "--json", str(metrics),
            "--latency-samples", "10", "--model-out", str(out.parent / "svm.model"), "-q",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    m = json.loads(metrics.read_text())
    assert m["n_train"] == rows.num_rows
    assert m["n_test"] == load_dataset(other_out / "dataset").num_rows
    assert m["detection_rate"] > 0.5
    # the fitted model is a detector a later sandbox run can apply (--model)
    scan = next(r for r in run["samples"] if r["sample"] == "port_scan.py")
    flows = pq.read_table(scan["flows_file"])
    assert sum(model_alerts(out.parent / "svm.model", flows, "test").values()) > 0
    result = CliRunner().invoke(
        app, ["ingest", run["samples"][0]["pcap"], "-o", str(out.parent / "f.parquet")]
    )
    assert result.exit_code == 0, result.output


def _sleeper(path: Path, seconds: float, tag: str) -> Path:
    path.write_text(
        f"#!/bin/sh\n# {tag}\necho start $(date +%s.%N)\nsleep {seconds}\necho end $(date +%s.%N)\n"
    )
    return path


def _span(r: dict[str, Any]) -> tuple[float, float]:
    words = r["stdout_tail"].split()
    return float(words[words.index("start") + 1]), float(words[words.index("end") + 1])


def test_one_slot_runs_one_at_a_time_and_a_hang_times_out(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    sleepers = [_sleeper(tmp_path / f"nap{i}.sh", 1.5, f"nap {i}") for i in range(3)]
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nsleep 60\n")
    out, js = tmp_path / "out", tmp_path / "run.json"
    args = ["run", *map(str, [*sleepers, hang]), "--nodes", "1", "--parallel", "1"]
    started = time.monotonic()
    proc = _python(CLI, *args, "--timeout", "2", "--out", str(out), "--json", str(js), "-q")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.monotonic() - started < 120
    run = json.loads(js.read_text())
    _assert_contract(run)
    s = _by_name(run)
    assert (run["summary"]["completed"], run["summary"]["lost"]) == (4, 0)
    assert s["hang.sh"]["status"] == "timeout" and s["hang.sh"]["duration_s"] < 5
    spans = sorted(_span(s[p.name]) for p in sleepers)
    assert all(s[p.name]["status"] == "ok" for p in sleepers)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, spans  # one sandbox at a time on the one node
    assert {r["node"] for r in run["samples"]} == {"node-0"}


def test_joins_an_existing_cluster_by_address(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    naps = [_sleeper(tmp_path / f"nap{i}.sh", 2, f"joined {i}") for i in range(2)]
    out, js = tmp_path / "out", tmp_path / "run.json"
    proc = _python(JOIN, "run", *map(str, naps), "--out", str(out), "--json", str(js), "-q")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads(js.read_text())
    _assert_contract(run)
    assert (run["summary"]["completed"], run["summary"]["lost"]) == (2, 0)
    assert {r["node"] for r in run["samples"]} == {"node-0"}  # the one node of that cluster
    (a0, a1), (b0, b1) = sorted(_span(r) for r in run["samples"])
    assert b0 < a1  # its node offers two slots: both ran at once
    assert not list(Path("/tmp").glob(f"sgr-{run['samples'][0]['run_id']}-*"))


def _run_processes(needle: str) -> list[str]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and d.name != str(os.getpid()):
            with contextlib.suppress(OSError):
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if needle in cmd:
                    found.append(f"{d.name}: {cmd[:120]}")
    return found


def _cgroups(prefix: str) -> list[Path]:
    root = Path("/sys/fs/cgroup")
    return [
        p for parent in (root, root / "memory", root / "pids") for p in parent.glob(prefix + "*")
    ]


def test_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    naps = [_sleeper(tmp_path / f"long{i}.sh", 60, f"long {i}") for i in range(2)]
    out, js = tmp_path / "out", tmp_path / "run.json"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    args = ["run", *map(str, naps), "--nodes", "2", "--timeout", "60"]
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *args, "--out", str(out), "--json", str(js), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    run_id = ""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not run_id:
            marks = list(out.glob(".attempts/*/*.json"))
            if marks:
                tag = marks[0].parent.name.rsplit("-", 1)[1]
                if list_namespaces(f"sgs-{tag}-") and _cgroups(f"sgs-{tag}-"):
                    run_id = tag
            time.sleep(0.2)
        assert run_id, "the run did not start a detonation"
        time.sleep(1.0)
        assert _run_processes(f"sgr-{run_id}-"), "no Ray process of the run was found"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        proc.wait(90)
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        assert proc.returncode != 0 and "interrupted" in stderr, stderr[-2000:]
        assert list_namespaces(f"sgs-{run_id}-") == []
        assert _cgroups(f"sgs-{run_id}-") == []
        assert not list(Path("/tmp").glob(f"sgr-{run_id}-*"))
        left: list[str] = []
        for _ in range(50):  # Ray's processes may take a moment to notice
            left = _run_processes(f"sgr-{run_id}-") + _run_processes(f"sgs-{run_id}-")
            if not left:
                break
            time.sleep(0.2)
        assert left == []
        links = json.loads(
            subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
        )
        assert not [x["ifname"] for x in links if x["ifname"].startswith("sgs")]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if run_id:
            cleanup_run(run_id)
            cleanup_cgroups(f"sgs-{run_id}-")
