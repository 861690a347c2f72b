"""Throwaway network namespaces for the response tests (10.220.0.0/16, names sgr-*)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Pair:
    attacker: str
    victim: str
    attacker_ip: str
    victim_ip: str
    attacker_ip6: str
    victim_ip6: str

    def ping(self, dest: str, *, count: int = 1, wait_s: float = 1.0, interval: float = 0.2) -> int:
        """Replies received by pings from the attacker namespace to `dest`."""
        return ping(self.attacker, dest, count=count, wait_s=wait_s, interval=interval)

    def nft(self, *args: str) -> str:
        """Run nft inside the victim namespace."""
        return sh("ip", "netns", "exec", self.victim, "nft", *args).stdout


def sh(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=timeout)


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    for tool in ("ip", "nft", "ping"):
        if shutil.which(tool) is None:
            pytest.fail(f"the net test needs `{tool}`")


def ping(ns: str, dest: str, *, count: int = 1, wait_s: float = 1.0, interval: float = 0.2) -> int:
    """Replies received by `count` pings from namespace `ns` to `dest`."""
    res = sh(
        "ip",
        "netns",
        "exec",
        ns,
        "ping",
        "-n",
        "-q",
        "-c",
        str(count),
        "-i",
        str(interval),
        "-W",
        str(wait_s),
        dest,
        check=False,
        timeout=30 + count * interval,
    )
    for line in res.stdout.splitlines():
        if "received" in line:
            return int(line.split(",")[1].split()[0])
    return 0


@pytest.fixture
def ns_pair() -> Iterator[Pair]:
    """An attacker and a victim namespace joined by a veth pair (IPv4 and IPv6)."""
    need_root()
    tag = uuid.uuid4().hex[:6]
    net = random.randint(1, 250)
    a, v = f"sgr-a-{tag}", f"sgr-v-{tag}"
    pair = Pair(
        a, v, f"10.220.{net}.1", f"10.220.{net}.2", f"fd00:220:{net:x}::1", f"fd00:220:{net:x}::2"
    )
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", v)
        sh(
            "ip",
            "link",
            "add",
            f"sgra{tag}",
            "netns",
            a,
            "type",
            "veth",
            "peer",
            "name",
            f"sgrv{tag}",
            "netns",
            v,
        )
        for ns, dev, ip4, ip6 in (
            (a, f"sgra{tag}", pair.attacker_ip, pair.attacker_ip6),
            (v, f"sgrv{tag}", pair.victim_ip, pair.victim_ip6),
        ):
            sh("ip", "-n", ns, "addr", "add", f"{ip4}/24", "dev", dev)
            sh("ip", "-n", ns, "addr", "add", f"{ip6}/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield pair
    finally:
        for ns in (a, v):
            sh("ip", "netns", "del", ns, check=False)
