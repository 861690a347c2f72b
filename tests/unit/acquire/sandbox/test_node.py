"""A sandbox node, for real: isolation, limits, crashes and timeouts (root, namespaces)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmguard.acquire.sandbox import Limits, SandboxNode
from swarmguard.acquire.sandbox.netns import list_namespaces
from swarmguard.sandbox.samples import sample_path

pytestmark = pytest.mark.net

UID_RANGE = range(61000, 65000)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[SandboxNode]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    tag = uuid.uuid4().hex[:6]
    yield SandboxNode("test-node", tag, tmp_path / "certs", Limits(cpu_s=10, memory_mb=128))
    assert list_namespaces(f"sgs-{tag}-") == []  # nothing left behind


def _sandbox_uids() -> set[int]:
    found = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                uid = d.stat().st_uid
            except FileNotFoundError:
                continue
            if uid in UID_RANGE:
                found.add(int(d.name))
    return found


def _links() -> list[tuple[str, str, int, str]]:
    """Root-namespace links that are not veths (others' tests add and remove veths)."""
    out = subprocess.run(["ip", "-j", "-d", "link"], capture_output=True, check=True, text=True)
    links = []
    for link in json.loads(out.stdout):
        if link.get("linkinfo", {}).get("info_kind") == "veth":
            continue
        links.append(
            (link["ifname"], ",".join(link["flags"]), link["mtu"], link.get("address", ""))
        )
    return sorted(links)


def _host_ip() -> str:
    out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, check=True, text=True)
    for link in json.loads(out.stdout):
        for a in link.get("addr_info", []):
            if a.get("scope") == "global":
                return str(a["local"])
    return "127.0.0.1"


class _HostSniffer:
    """Every frame seen on every root-namespace interface while the sample runs (passive)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.sock.settimeout(0.1)
        self.frames: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.frames.append(self.sock.recv(65536))
            except TimeoutError:
                continue

    def __enter__(self) -> _HostSniffer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_nothing_leaves_the_sandbox(node: SandboxNode, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    host_ip = _host_ip()
    sample = tmp_path / "escape.py"
    sample.write_text(
        f"""#!/usr/bin/env python3
import os, socket, subprocess
marker = b"{marker}"
print("uid", os.getuid())
links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
print("links", links.count("\\n"))
for path in ("/root/x", "/etc/escape-test"):
    try:
        open(path, "w").write("x")
        print("wrote", path)
    except OSError as exc:
        print("denied", path, exc.errno)
for dest in ("8.8.8.8", "{host_ip}", "10.213.0.1", "172.17.0.1", "192.0.2.2", "10.240.0.1"):
    for port in (9, 53, 22, 443):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(marker, (dest, port))
        with socket.socket() as t:
            t.settimeout(0.3)
            if t.connect_ex((dest, port)) == 0:
                t.sendall(marker)
print("pinged", subprocess.run(["ping", "-c1", "-W1", "8.8.8.8"], capture_output=True).returncode)
"""
    )
    links_before = _links()
    rules_before = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    with _HostSniffer() as sniffer:
        det = node.detonate(sample, tmp_path / "run", timeout_s=20)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # the sniffer works
            probe.sendto(b"sniffer-check", ("127.0.0.1", 9))
        time.sleep(0.3)
    assert det.status == "ok", det.stderr_tail
    out = det.stdout_tail
    uid = int(out.split("uid ")[1].split()[0])
    assert uid in UID_RANGE
    assert "links 2" in out  # lo and eth0, nothing else
    assert "wrote" not in out and out.count("denied") == 2
    assert "pinged 0" not in out  # no raw sockets unless the sample asks
    # the sample's packets went only to the simulated internet, and the capture has them all
    log = [json.loads(x) for x in det.services_log.read_text().splitlines()]
    assert sum(1 for r in log if r["service"] == "udp" and r["head"] == marker.encode().hex()) >= 6
    assert marker.encode() in det.pcap.read_bytes()
    # nothing reached the host: no frame with the marker, none from or to the sandbox subnet
    assert [f for f in sniffer.frames if b"sniffer-check" in f], "the host sniffer saw nothing"
    assert not [f for f in sniffer.frames if marker.encode() in f]
    sandbox_net = [
        f for f in sniffer.frames if len(f) >= 34 and f[12:14] == b"\x08\x00" and
        (f[26:28] == bytes([10, 240]) or f[30:32] == bytes([10, 240]))
    ]  # fmt: skip
    assert not sandbox_net
    assert _links() == links_before
    assert subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout == (
        rules_before
    )
    assert not _sandbox_uids()


@pytest.mark.slow
def test_fork_bomb_and_memory_hog_are_contained(node: SandboxNode, tmp_path: Path) -> None:
    bomb_node = SandboxNode(node.name, node.run_tag, node.cert_dir, Limits(pids=32, cpu_s=10))
    bomb = bomb_node.detonate(sample_path("fork_bomb.py"), tmp_path / "bomb", timeout_s=3)
    assert bomb.status == "timeout"
    if bomb.cgroup != "none":
        assert bomb.limits_hit["pids_max_hit"] > 0
    assert not _sandbox_uids()  # every fork is gone
    hog_node = SandboxNode(node.name, node.run_tag, node.cert_dir, Limits(memory_mb=96))
    hog = hog_node.detonate(sample_path("memory_hog.py"), tmp_path / "hog", timeout_s=20)
    assert hog.status in ("killed", "error"), hog.stdout_tail
    last = [int(x.split()[0]) for x in hog.stdout_tail.split("\n") if x.endswith("MiB")]
    assert last and last[-1] <= 96
    if hog.cgroup != "none":
        assert hog.limits_hit["oom_kills"] > 0 or hog.limits_hit["memory_max_hit"] > 0


def test_crash_and_timeout_are_statuses(node: SandboxNode, tmp_path: Path) -> None:
    crash = tmp_path / "crash.sh"
    crash.write_text("#!/bin/sh\necho going down\nexit 3\n")
    det = node.detonate(crash, tmp_path / "crash", timeout_s=10)
    assert (det.status, det.exit_status, det.stdout_tail) == ("error", 3, "going down\n")
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nsleep 60 &\nsleep 60\n")
    started = time.monotonic()
    det = node.detonate(hang, tmp_path / "hang", timeout_s=1)
    assert det.status == "timeout" and 1.0 <= det.duration_s < 3.0
    assert time.monotonic() - started < 10
    assert not _sandbox_uids()
