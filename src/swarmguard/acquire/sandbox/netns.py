"""The two network namespaces of one detonation: the sample's, and the simulated internet.

The sample namespace has one veth (``eth0``) and a default route to the other end, which lives
in the internet namespace. The internet namespace answers for every address (a ``local``
route of ``0.0.0.0/0`` on ``lo``, looked up for packets from ``eth0`` only), redirects every
TCP port without a protocol speaker to the TCP catch-all and diverts (tproxy) every UDP port
but 53 to the UDP catch-all (an nftables table inside that namespace only). DNS is redirected
to itself: conntrack then gives the answers to a hard-coded resolver (``8.8.8.8:53`` on a
connected socket) the address that was asked. Neither namespace has any other link, and
forwarding is off, so nothing can leave. Names start with ``sgs-<run>-`` so that
``cleanup_run`` finds whatever a crashed run left behind.

Examples
--------
>>> net = SandboxNet("ab12cd", "0f0f0f0f")
>>> net.sample_ns, net.internet_ns
('sgs-ab12cd-0f0f0f0f-s', 'sgs-ab12cd-0f0f0f0f-i')
>>> net.sample_ip, net.sinkhole_ip
('10.240.60.62', '10.240.60.61')
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import subprocess
from pathlib import Path

from swarmguard.acquire.sandbox.internet import CATCHALL_TCP, CATCHALL_UDP, SERVICE_PORTS
from swarmguard.errors import SwarmguardError

__all__ = [
    "NFT_RULES",
    "NFT_RULES_NO_TPROXY",
    "PREFIX",
    "SUBNET",
    "SandboxNet",
    "cleanup_run",
    "list_namespaces",
    "run_ip",
]

_log = logging.getLogger(__name__)

PREFIX = "sgs-"
SUBNET = ipaddress.IPv4Network("10.240.0.0/16")
_TCP_SPEAKERS = ", ".join(str(SERVICE_PORTS[s]) for s in ("ftp", "smtp", "http", "https"))
_NAT = f"""  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport != {{ {_TCP_SPEAKERS} }} redirect to :{CATCHALL_TCP}
    udp dport {SERVICE_PORTS["dns"]} redirect to :{SERVICE_PORTS["dns"]}
"""
#: UDP to other ports is diverted (tproxy) to the catch-all, which reads the original address.
NFT_RULES = f"""table ip sgs_internet {{
{_NAT}  }}
  chain divert {{
    type filter hook prerouting priority mangle; policy accept;
    udp dport != {SERVICE_PORTS["dns"]} tproxy to :{CATCHALL_UDP}
  }}
}}
"""
#: Without tproxy in the kernel: UDP is redirected (the original address is then lost).
NFT_RULES_NO_TPROXY = f"""table ip sgs_internet {{
{_NAT}    udp dport != {SERVICE_PORTS["dns"]} redirect to :{CATCHALL_UDP}
  }}
}}
"""


def run_ip(*args: str, check: bool = True, stdin: str | None = None) -> str:
    """Run ``ip ARGS`` (or ``ip netns exec NS CMD``) and return its stdout.

    Raises
    ------
    SwarmguardError
        If the command fails and ``check`` is set.
    """
    proc = subprocess.run(
        ["ip", *args], input=stdin, capture_output=True, text=True, timeout=30, check=False
    )
    if check and proc.returncode != 0:
        raise SwarmguardError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def list_namespaces(prefix: str = PREFIX) -> list[str]:
    """Network namespaces whose name starts with ``prefix``."""
    names = [line.split()[0] for line in run_ip("netns", "list").splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def _kill_ns_processes(ns: str) -> None:
    out = run_ip("netns", "pids", ns, check=False)
    for pid in out.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def delete_namespace(ns: str) -> None:
    """Kill every process in ``ns`` and delete it (its veth goes with it)."""
    _kill_ns_processes(ns)
    run_ip("netns", "del", ns, check=False)


def cleanup_run(run_tag: str) -> list[str]:
    """Delete every namespace of run ``run_tag``; return their names."""
    found = list_namespaces(f"{PREFIX}{run_tag}-")
    for ns in found:
        delete_namespace(ns)
    return found


class SandboxNet:
    """Create and destroy the namespace pair of one detonation (``det``: 8 hex digits)."""

    def __init__(self, run_tag: str, det: str) -> None:
        self.run_tag = run_tag
        self.det = det
        self.sample_ns = f"{PREFIX}{run_tag}-{det}-s"
        self.internet_ns = f"{PREFIX}{run_tag}-{det}-i"
        block = int(det, 16) % (SUBNET.num_addresses // 4)
        base = int(SUBNET.network_address) + 4 * block
        self.sinkhole_ip = str(ipaddress.IPv4Address(base + 1))
        self.sample_ip = str(ipaddress.IPv4Address(base + 2))

    def create(self) -> None:
        """Make both namespaces, the veth between them, routes and the redirect rules."""
        s, i = self.sample_ns, self.internet_ns
        run_ip("netns", "add", s)
        run_ip("netns", "add", i)
        for ns in (s, i):  # IPv4 only: no IPv6 link-local chatter, no v6 path around the sinkhole
            run_ip(
                "netns", "exec", ns, "sysctl", "-qw",
                "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
            )  # fmt: skip
        # made inside the namespaces: the pair never appears in the root namespace
        run_ip(
            "link", "add", "eth0", "netns", s, "type", "veth", "peer", "name", "eth0", "netns", i
        )
        for ns, addr in ((s, self.sample_ip), (i, self.sinkhole_ip)):
            run_ip("-n", ns, "addr", "add", f"{addr}/30", "dev", "eth0")
            run_ip("-n", ns, "link", "set", "eth0", "up")
            run_ip("-n", ns, "link", "set", "lo", "up")
        run_ip("-n", s, "route", "add", "default", "via", self.sinkhole_ip)
        # Any address the sample sends to is local here (only for packets from eth0: the
        # answers go back out by the main table).
        run_ip("-n", i, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")
        run_ip("-n", i, "rule", "add", "iif", "eth0", "lookup", "100", "pref", "100")
        try:
            run_ip("netns", "exec", i, "nft", "-f", "-", stdin=NFT_RULES)
        except SwarmguardError as exc:
            _log.warning("no tproxy (%s): UDP catch-all loses original destinations", exc)
            run_ip("netns", "exec", i, "nft", "-f", "-", stdin=NFT_RULES_NO_TPROXY)

    def exec_prefix(self, ns: str) -> list[str]:
        """Command prefix that runs a program inside ``ns``."""
        return ["ip", "netns", "exec", ns]

    def destroy(self) -> None:
        """Kill everything in both namespaces and delete them (safe to call twice)."""
        for ns in (self.sample_ns, self.internet_ns):
            if Path("/run/netns", ns).exists():
                delete_namespace(ns)
