"""The real ``crowdsec-firewall-bouncer`` (Debian) enforces the coordinator's decisions.

Two throwaway namespaces joined by a veth pair: the coordinator in ``sgc-co-*`` on 10.230.1.1,
the bouncer in ``sgc-fw-*`` (10.230.1.2) with its own nftables table. A decision added through
the API must appear in the bouncer's set within a few seconds, drop traffic from that address,
and disappear after a revoke. Everything is deleted afterwards, also on failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.net, pytest.mark.slow]

BOUNCER = Path("/usr/bin/crowdsec-firewall-bouncer")
CO_IP, FW_IP, ATTACKER_IP = "10.230.1.1", "10.230.1.2", "10.230.1.3"
PORT = 8480
ADMIN = "e2e-admin-token"
KEY = "e2e-bouncer-key"
TABLE, SET = "sgc-crowdsec", "sgc-blacklist"


def _run(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    for tool in ("ip", "nft", "curl", "ping"):
        if shutil.which(tool) is None:
            pytest.fail(f"the bouncer test needs `{tool}`")
    if not BOUNCER.exists():
        pytest.fail(f"{BOUNCER} is missing: apt-get install crowdsec-firewall-bouncer")
    tag = uuid.uuid4().hex[:6]
    co, fw = f"sgc-co-{tag}", f"sgc-fw-{tag}"
    try:
        _run("ip", "netns", "add", co)
        _run("ip", "netns", "add", fw)
        _run("ip", "link", "add", f"sgc{tag}a", "netns", co, "type", "veth", "peer", "name",
             f"sgc{tag}b", "netns", fw)  # fmt: skip
        _run("ip", "-n", co, "addr", "add", f"{CO_IP}/24", "dev", f"sgc{tag}a")
        _run("ip", "-n", co, "addr", "add", f"{ATTACKER_IP}/24", "dev", f"sgc{tag}a")
        _run("ip", "-n", fw, "addr", "add", f"{FW_IP}/24", "dev", f"sgc{tag}b")
        for ns, dev in ((co, f"sgc{tag}a"), (fw, f"sgc{tag}b")):
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        yield co, fw
    finally:
        for ns in (co, fw):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def _bouncer_config(tmp: Path) -> Path:
    config = {
        "mode": "nftables",
        "pid_dir": str(tmp),
        "update_frequency": "1s",
        "daemonize": False,
        "log_mode": "file",
        "log_dir": str(tmp),
        "log_level": "debug",
        "api_url": f"http://{CO_IP}:{PORT}/",
        "api_key": KEY,
        "insecure_skip_verify": False,
        "disable_ipv6": True,
        "deny_action": "DROP",
        "deny_log": False,
        "supported_decisions_types": ["ban"],
        "blacklists_ipv4": SET,
        "blacklists_ipv6": "sgc6-blacklist",
        "nftables": {
            "ipv4": {"enabled": True, "set-only": False, "table": TABLE, "chain": "sgc-chain"},
            "ipv6": {"enabled": False, "set-only": False, "table": "sgc6", "chain": "sgc6-chain"},
        },
        "prometheus": {"enabled": False, "listen_addr": "127.0.0.1", "listen_port": 60601},
    }
    path = tmp / "crowdsec-firewall-bouncer.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - start


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_real_bouncer_enforces_and_revokes(namespaces: tuple[str, str], tmp_path: Path) -> None:
    co, fw = namespaces
    base = f"http://{CO_IP}:{PORT}"

    def api(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        cmd = ["ip", "netns", "exec", co, "curl", "-sS", "--fail-with-body", "-m", "5",
               "-X", method, "-H", f"Authorization: Bearer {ADMIN}"]  # fmt: skip
        if body is not None:
            cmd += ["-H", "content-type: application/json", "--data-binary", json.dumps(body)]
        out = _run(*cmd, f"{base}{path}").stdout
        return json.loads(out) if out else None

    def in_set() -> set[str]:
        out = _run("ip", "netns", "exec", fw, "nft", "-j", "list", "set", "ip", TABLE, SET,
                   check=False).stdout  # fmt: skip
        if not out:
            return set()
        found: set[str] = set()
        for item in json.loads(out)["nftables"]:
            for elem in item.get("set", {}).get("elem", []):
                found.add(elem["elem"]["val"] if isinstance(elem, dict) else elem)
        return found

    def has_set() -> bool:
        cmd = ["ip", "netns", "exec", fw, "nft", "list", "set", "ip", TABLE, SET]
        return _run(*cmd, check=False).returncode == 0

    def reachable() -> bool:
        return (
            _run(
                "ip",
                "netns",
                "exec",
                co,
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "-I",
                ATTACKER_IP,
                FW_IP,
                check=False,
            ).returncode
            == 0  # fmt: skip
        )

    env = {**os.environ, "SWARMGUARD_ADMIN_TOKEN": ADMIN}
    server_log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            co,
            sys.executable,
            "-m",
            "swarmguard.cli.coordinator_serve",
            "--host",
            CO_IP,
            "--port",
            str(PORT),
            "--db",
            str(tmp_path / "c.db"),
            "--bouncer-key",
            f"fw={KEY}",
            "--no-correlate",
        ],  # fmt: skip
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    bouncer: subprocess.Popen[bytes] | None = None
    try:

        def up() -> bool:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            return _run("ip", "netns", "exec", co, "curl", "-sf", "-m", "1", f"{base}/healthz",
                        check=False).returncode == 0  # fmt: skip

        _wait(up, 30, "the coordinator")
        bouncer = subprocess.Popen(
            ["ip", "netns", "exec", fw, str(BOUNCER), "-c", str(_bouncer_config(tmp_path))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: bool(in_set() or has_set()), 15, "the bouncer's nftables set")
        assert reachable(), "traffic from the attacker address should pass before any decision"

        decision = {
            "ts": datetime.now(UTC).isoformat(),
            "action": "block",
            "scope": "ip",
            "value": ATTACKER_IP,
            "ttl_s": 600,
            "origin": "coordinator",
            "reason": {"category": "brute_force", "summary": "e2e"},
            "simulated": False,
        }
        assert api("POST", "/api/v1/decisions", {"decisions": [decision]})["accepted"] == 1
        uid = api("GET", "/api/v1/decisions")["decisions"][0]["uid"]
        took = _wait(lambda: ATTACKER_IP in in_set(), 5, "the decision in the bouncer's set")
        assert not reachable(), "the bouncer's set should drop the attacker's traffic"

        assert api("DELETE", f"/api/v1/decisions/{uid}")["revoked"]["uid"] == uid
        _wait(lambda: ATTACKER_IP not in in_set(), 5, "the revoke to reach the bouncer")
        assert reachable()
        print(f"decision reached the CrowdSec bouncer's nft set in {took * 1000:.0f} ms")
    finally:
        if bouncer is not None:
            _stop(bouncer)
        _stop(server)
        server_log.close()
