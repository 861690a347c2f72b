"""The range for real: namespaces, services across zones, an attack run, and the clean-up.

Needs root (network namespaces, nftables in the range's router namespace). Each test's run
has its own ``sgx-<run>-`` names and asserts that none of them are left afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from swarmguard.errors import SwarmguardError
from swarmguard.range import benign
from swarmguard.range.runner import RunArtifacts, hold_range, run_scenario
from swarmguard.range.scenario import Scenario
from swarmguard.range.services import check_tools
from swarmguard.range.topology import NETNS_ETC, RangeNet, sh

pytestmark = [pytest.mark.net, pytest.mark.slow]

SCENARIO: dict[str, Any] = {
    "name": "unit",
    "warmup_s": 10,
    "duration_s": 16,
    "settle_s": 2,
    "zones": [
        {
            "name": "users",
            "subnet": "10.206.0.0/24",
            "hosts": [{"name": "ws1"}, {"name": "ws2"}],
            "users": [
                {"host": "ws1", "kind": "browse", "target": "srv1", "per_min": 60},
                {"host": "ws2", "kind": "dns", "target": "srv1", "per_min": 30},
            ],
        },
        {
            "name": "servers",
            "subnet": "10.207.0.0/24",
            "hosts": [
                {
                    "name": "srv1",
                    "role": "server",
                    "services": ["nginx", "sshd", "vsftpd", "dnsmasq"],
                }
            ],
        },
    ],
    "attacker": {
        "subnet": "10.208.0.0/24",
        "schedule": [
            {"at_s": 2, "tool": "nmap", "target": "srv1", "duration_s": 5},
            {"at_s": 9, "tool": "curl-web", "target": "srv1", "duration_s": 3},
        ],
    },
}


@pytest.fixture(autouse=True)
def _root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    missing = check_tools()
    if missing:
        pytest.fail(f"the range needs these programs: {missing}")


def _left(run: str) -> list[str]:
    names = sh("ip", "netns", "list", check=False).stdout.split()
    etc = [p.name for p in NETNS_ETC.iterdir()] if NETNS_ETC.is_dir() else []
    return [n for n in names + etc if n.startswith(f"sgx-{run}-")]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_services_answer_across_zones(tmp_path: Path) -> None:
    """Every benign kind works from the users zone to the servers zone, and names resolve."""
    sc = Scenario.model_validate(SCENARIO)
    seen: dict[str, Any] = {}

    def ready(net: RangeNet) -> None:
        seen["run"] = net.run
        srv = net.plan["srv1"].ip
        code = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); from benign import request; "
            "print(json.dumps([request(k, sys.argv[2], {'name': 'c2.beacon.example', "
            "'key': sys.argv[3], 'user': 'alice'}) for k in ('browse', 'dns', 'ssh', 'ftp')]))"
        )
        key = str(net.workdir / "services" / "user_key")
        res = net.run_in("ws1", sys.executable, "-c", code, str(Path(benign.__file__).parent),
                         srv, key, timeout=60)  # fmt: skip
        seen["requests"] = json.loads(res.stdout)
        res = net.run_in("ws1", "getent", "hosts", "c2.beacon.example", timeout=10)
        seen["c2"] = res.stdout.split()[:1]
        seen["namespaces"] = _left(net.run)

    hold_range(sc, workdir=tmp_path, seed=1, agents=False, users=False, hold_s=0, ready=ready)
    assert [r["ok"] for r in seen["requests"]] == [True] * 4, seen["requests"]
    assert seen["c2"] == ["10.208.0.10"]
    assert len(seen["namespaces"]) >= 5
    assert _left(seen["run"]) == []


def test_small_run_detects_blocks_and_cleans_up(tmp_path: Path) -> None:
    """An attack is in the ground truth with its first packet; the agent blocks it; users work."""
    sc = Scenario.model_validate(SCENARIO)
    lines: list[str] = []
    arts = run_scenario(
        sc,
        workdir=tmp_path,
        seed=3,
        agent_overrides={"policy": {"name": "playbook"}},
        phase="measure",
        fail2ban=True,
        progress=lines.append,
    )
    assert _left(arts.run_id) == []
    assert RunArtifacts.from_json(json.loads((tmp_path / "run.json").read_text())) == arts
    truth = _lines(arts.ground_truth)
    assert [t["attack"] for t in truth] == ["nmap", "curl-web"]
    for t in truth:
        assert t["first_packet_ts"] is not None
        assert t["ts_start"] - 1 <= t["first_packet_ts"] <= t["ts_end"]
        assert t["zone"] == "servers"
    assert truth[1]["attempts"] and truth[1]["attempts"] >= 1
    events = _lines(arts.alerts["servers"])
    blocked = {e["value"] for e in events if e["type"] == "decision" and e.get("applied")}
    assert truth[0]["src_ip"] in blocked
    alerted = {e["src_ip"] for e in events if e["type"] == "alert"}
    assert {t["src_ip"] for t in truth} <= alerted
    requests = _lines(arts.benign_log)
    assert {r["kind"] for r in requests} == {"browse", "dns"}
    assert all(r["ok"] for r in requests), [r for r in requests if not r["ok"]]
    benign_ips = {arts.hosts[h]["ip"] for h in ("ws1", "ws2")}
    assert not blocked & benign_ips
    assert all(p.stat().st_size > 0 for p in arts.captures.values())
    assert arts.coordinator_db is not None and arts.coordinator_db.exists()
    assert list(arts.fail2ban_logs) == ["srv1"] and arts.fail2ban_logs["srv1"].exists()
    assert any("curl-web" in x for x in lines)


def test_failure_midway_removes_everything(tmp_path: Path) -> None:
    sc = Scenario.model_validate(SCENARIO)
    runs: list[str] = []

    def progress(msg: str) -> None:
        if "(run " in msg:
            runs.append(msg.split("(run ")[1].split(")")[0])
        if msg.startswith("starting the coordinator"):
            assert _left(runs[0])
            raise SwarmguardError("stop here")

    with pytest.raises(SwarmguardError, match="stop here"):
        run_scenario(sc, workdir=tmp_path, seed=0, agent_overrides=None, phase="warmup",
                     fail2ban=False, progress=progress)  # fmt: skip
    assert runs and _left(runs[0]) == []


def test_sigterm_removes_everything(tmp_path: Path) -> None:
    (tmp_path / "sc.json").write_text(json.dumps(SCENARIO))
    code = (
        "import json, sys; from pathlib import Path; "
        "from swarmguard.range.runner import run_scenario; "
        "from swarmguard.range.scenario import Scenario; "
        "sc = Scenario.model_validate(json.loads(Path(sys.argv[1]).read_text())); "
        "run_scenario(sc, workdir=Path(sys.argv[2]), seed=0, agent_overrides=None, "
        "phase='measure', fail2ban=False, agents=False, progress=lambda m: print(m, flush=True))"
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "sc.json"), str(tmp_path / "w")],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        run = first.split("(run ")[1].split(")")[0]
        for line in proc.stdout:
            if line.startswith("measure:"):
                break
        assert _left(run)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode != 0
    assert _left(run) == []
