"""A sandbox node, for real: isolation, limits, crashes and timeouts (root, namespaces)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _host_addresses() -> list[tuple[int, str]]:
    """Every address of the root namespace: (family 4 or 6, address with ``%scope`` if link)."""
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, check=True, text=True)
    found = []
    for link in json.loads(out.stdout):
        for a in link.get("addr_info", []):
            if a["family"] == "inet":
                found.append((4, str(a["local"])))
            elif a["family"] == "inet6":
                local = str(a["local"])
                found.append(
                    (6, f"{local}%{link['ifname']}" if local.startswith("fe80") else local)
                )
    return found


def _run_text(*cmd: str) -> str | None:
    """The output of ``cmd``, or None if the tool is missing."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        return None
    return "\n".join(
        line for line in proc.stdout.splitlines() if not line.startswith("#")
    )  # iptables-save dates its output in comments


def _host_state() -> dict[str, Any]:
    """The root namespace's addresses, routes, rules, firewalls and forwarding switch.

    Veths are left out: other tests on this machine add and remove their own.
    """
    veths = {
        link["ifname"]
        for link in json.loads(_run_text("ip", "-j", "-d", "link") or "[]")
        if link.get("linkinfo", {}).get("info_kind") == "veth"
    }
    addrs = [
        (
            link["ifname"],
            sorted((a["family"], a["local"], a["prefixlen"]) for a in link["addr_info"]),
        )
        for link in json.loads(_run_text("ip", "-j", "addr") or "[]")
        if link["ifname"] not in veths
    ]
    routes = sorted(
        json.dumps(r, sort_keys=True)
        for fam in ("-4", "-6")
        for r in json.loads(_run_text("ip", "-j", fam, "route", "show", "table", "all") or "[]")
        if r.get("dev") not in veths
    )
    return {
        "links": _links(),
        "addrs": sorted(addrs),
        "routes": routes,
        "rules": _run_text("ip", "-j", "rule"),
        "rules6": _run_text("ip", "-j", "-6", "rule"),
        "iptables": _run_text("iptables-save"),
        "ip6tables": _run_text("ip6tables-save"),
        "nft": _run_text("nft", "list", "ruleset"),
        "forward": _run_text("sysctl", "-n", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"),
    }


class _HostListeners:
    """TCP and UDP listeners on one port of every root-namespace address (passive)."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []
        self.got: list[str] = []
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        probe.bind(("::", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            sock = socket.socket(socket.AF_INET6, kind)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # v4 and v6
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("::", self.port))
            if kind == socket.SOCK_STREAM:
                sock.listen(16)
            sock.settimeout(0.1)
            self.socks.append(sock)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tcp, udp = self.socks
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, peer = tcp.accept()
                self.got.append(f"tcp from {peer}")
                conn.close()
            with contextlib.suppress(TimeoutError, OSError):
                data, peer = udp.recvfrom(65536)
                self.got.append(f"udp {data[:40]!r} from {peer}")

    def __enter__(self) -> _HostListeners:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.socks:
            sock.close()


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


ESCAPE = """#!/usr/bin/env python3
import errno, os, socket, subprocess
marker = b"{marker}"
port = {port}
targets = {targets!r}
print("uid", os.getuid())
links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
print("links", links.count("\\n"))
for path in ("/root/x", "/etc/escape-test", "/var/tmp/{marker}", "/usr/{marker}",
             "/dev/shm/{marker}", "/tmp/{marker}"):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        print("wrote", path)
    except OSError as exc:
        print("denied", path, errno.errorcode.get(exc.errno, exc.errno))
sent = 0
for fam, dest in targets:
    af = socket.AF_INET if fam == 4 else socket.AF_INET6
    for p in (port, 9, 53, 22, 443):
        try:
            with socket.socket(af, socket.SOCK_DGRAM) as u:
                u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                u.sendto(marker, (dest, p))
                sent += 1
        except OSError as exc:
            print("udp-fail", dest, p, errno.errorcode.get(exc.errno, exc.errno))
        try:
            with socket.socket(af, socket.SOCK_STREAM) as t:
                t.settimeout(0.3)
                if t.connect_ex((dest, p)) == 0:
                    t.sendall(marker)
        except OSError as exc:
            print("tcp-fail", dest, p, errno.errorcode.get(exc.errno, exc.errno))
print("sent", sent)
print("pinged", subprocess.run(["ping", "-c1", "-W1", "8.8.8.8"], capture_output=True).returncode)
"""


def test_nothing_leaves_the_sandbox(node: SandboxNode, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    host_addrs = _host_addresses()
    v4 = [a for f, a in host_addrs if f == 4]
    assert v4, "the host has no IPv4 address"
    extra = [(4, a) for a in ("8.8.8.8", "10.213.0.1", "172.17.0.1", "10.240.0.1")]
    extra += [(4, "255.255.255.255"), (6, "2001:4860:4860::8888"), (6, "ff02::1%eth0")]
    sample = tmp_path / "escape.py"
    with _HostListeners() as listeners:
        sample.write_text(
            ESCAPE.format(marker=marker, port=listeners.port, targets=host_addrs + extra)
        )
        before = _host_state()
        with _HostSniffer() as sniffer:
            det = node.detonate(sample, tmp_path / "run", timeout_s=30)
            time.sleep(0.3)
        after = _host_state()
    assert det.status == "ok", det.stderr_tail
    out = (tmp_path / "run" / "stdout").read_text()
    uid = int(out.split("uid ")[1].split()[0])
    assert uid in UID_RANGE
    assert "links 2" in out  # lo and eth0, nothing else
    # a read-only system: even world-writable host folders refuse with EROFS
    assert f"denied /var/tmp/{marker} EROFS" in out, out
    assert f"denied /usr/{marker} EROFS" in out, out
    assert "wrote /root/x" not in out and "wrote /etc/escape-test" not in out
    assert f"wrote /tmp/{marker}" in out  # a private, writable /tmp ...
    for host_path in (f"/tmp/{marker}", f"/var/tmp/{marker}", f"/dev/shm/{marker}"):
        assert not Path(host_path).exists(), host_path  # ... that is not the host's
    assert "pinged 0" not in out  # no raw sockets unless the sample asks
    # every host address was tried; nothing arrived at any of them
    sent = int(out.split("sent ")[1].split()[0])
    assert sent >= 5 * len(v4) + 5 * 5, out
    assert listeners.got == []
    # the v4 packets went only to the simulated internet (v6 is off in the sandbox: they fail)
    log = [json.loads(x) for x in det.services_log.read_text().splitlines()]
    udp_heads = [r for r in log if r["service"] == "udp" and r["head"] == marker.encode().hex()]
    routed = [a for a in v4 if not a.startswith("127.")] + [a for f, a in extra[:4]]
    assert {r["dst"] for r in udp_heads} >= {f"{a}:{listeners.port}" for a in routed}, udp_heads
    assert len(udp_heads) >= 4 * len(routed), len(udp_heads)
    assert all(r["src"].startswith(det.sample_ip + ":") for r in udp_heads)
    assert marker.encode() in det.pcap.read_bytes()
    for fam, addr in host_addrs:
        if fam == 6:
            assert f"udp-fail {addr} {listeners.port} " in out, out
    # nothing reached the host: no frame with the marker, none from or to the sandbox subnet
    assert not [f for f in sniffer.frames if marker.encode() in f]
    sandbox_net = [
        f for f in sniffer.frames if len(f) >= 34 and f[12:14] == b"\x08\x00" and
        (f[26:28] == bytes([10, 240]) or f[30:32] == bytes([10, 240]))
    ]  # fmt: skip
    assert not sandbox_net
    # the host's interfaces, addresses, routes, rules and firewalls are untouched
    for key in before:
        assert after[key] == before[key], key
    all_links = json.loads(_run_text("ip", "-j", "link") or "[]")
    assert not [link["ifname"] for link in all_links if link["ifname"].startswith("sgs")]
    assert not _sandbox_uids()


SERVICES = """#!/usr/bin/env python3
import smtplib, socket, ssl, struct, subprocess, urllib.request

def query(name):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + labels + b"\\0\\0\\1\\0\\1"

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a hard-coded resolver
    s.settimeout(3)
    s.connect(("8.8.8.8", 53))
    s.send(query("hardcoded.resolver.example"))
    reply = s.recv(512)
    print("dns-answer", socket.inet_ntoa(reply[-4:]))
dig = subprocess.run(["dig", "+short", "+tries=1", "+time=2", "@9.9.9.9", "dig.resolver.example"],
                     capture_output=True, text=True)
print("dig", dig.returncode, dig.stdout.strip())
ctx = ssl._create_unverified_context()
url = "https://secure.login.example/account?x=1"
with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
    print("https", r.status)
with smtplib.SMTP("mail.spam.example", 25, timeout=5) as m:
    m.sendmail("bot@spam.example", ["victim@mail.example"], "Subject: hi\\r\\n\\r\\nbuy now\\r\\n")
print("smtp sent")
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
    u.sendto(b"udp-catchall-probe", ("198.51.100.7", 5555))
"""


def test_hardcoded_resolver_https_smtp_and_udp(node: SandboxNode, tmp_path: Path) -> None:
    sample = tmp_path / "services.py"
    sample.write_text(SERVICES)
    det = node.detonate(sample, tmp_path / "run", timeout_s=30)
    out = (tmp_path / "run" / "stdout").read_text()
    assert det.status == "ok", (out, det.stderr_tail)
    assert f"dns-answer {det.sinkhole_ip}" in out  # the reply came from 8.8.8.8, as asked
    log = [json.loads(x) for x in det.services_log.read_text().splitlines()]
    names = [r.get("qname") for r in log if r["service"] == "dns"]
    assert "hardcoded.resolver.example" in names
    if "dig 0 " in out:  # dig is installed: it used 9.9.9.9 and got the sinkhole
        assert f"dig 0 {det.sinkhole_ip}" in out and "dig.resolver.example" in names
    https = [r for r in log if r["service"] == "https"]
    assert [(r["method"], r["host"], r["path"]) for r in https] == [
        ("GET", "secure.login.example", "/account?x=1")
    ]
    smtp = [r["command"] for r in log if r["service"] == "smtp"]
    assert {"EHLO", "MAIL", "RCPT", "DATA", "MESSAGE", "QUIT"} <= set(smtp), smtp
    rcpt = next(r for r in log if r["service"] == "smtp" and r["command"] == "RCPT")
    assert "victim@mail.example" in rcpt["argument"]
    udp = [r for r in log if r["service"] == "udp"]
    assert [bytes.fromhex(r["head"]) for r in udp] == [b"udp-catchall-probe"]


def test_cpu_time_limit_kills_a_busy_loop(node: SandboxNode, tmp_path: Path) -> None:
    spin = tmp_path / "spin.sh"
    spin.write_text("#!/bin/sh\nwhile :; do :; done\n")
    busy = SandboxNode(node.name, node.run_tag, node.cert_dir, Limits(cpu_s=1))
    started = time.monotonic()
    det = busy.detonate(spin, tmp_path / "spin", timeout_s=10)
    assert det.status == "killed", (det.status, det.exit_status, det.stderr_tail)
    assert det.limits_hit.get("cpu_time_hit") == 1, det.limits_hit
    assert det.duration_s < 8 and time.monotonic() - started < 15
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
