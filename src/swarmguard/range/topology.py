"""Network namespaces for a scenario: one per host, a router joining one bridge per zone.

Every name starts with ``sgx-<run>-`` (namespaces) and every address lies in the scenario's
10.200-10.209 subnets, so nothing outside the range is touched. The router namespace holds a
bridge per zone (``br-<zone>``, the zone's gateway ``.1``) with IP forwarding on; each host is a
namespace with ``eth0`` on its zone's bridge. Defended hosts get ``.10``, ``.11``, ... in zone
order; in the attacker zone the C2 server is ``.10`` and scheduled step *i* runs from ``.11+i``.

>>> from swarmguard.range.scenario import load_scenario
>>> plan = address_plan(load_scenario("small"))
>>> plan["srv1"].ip, plan["srv1"].zone, plan["c2"].ip, plan["atk0"].ip
('10.202.0.10', 'servers', '10.209.0.10', '10.209.0.11')
>>> bridge("servers"), gateway("10.202.0.0/24")
('br-servers', '10.202.0.1')
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from swarmguard.errors import SwarmguardError
from swarmguard.range.scenario import Scenario

__all__ = [
    "NETNS_ETC",
    "PREFIX",
    "HostAddr",
    "RangeNet",
    "address_plan",
    "bridge",
    "gateway",
    "sh",
    "sweep",
]

PREFIX = "sgx-"
"""Every namespace the range creates starts with this."""
NETNS_ETC = Path("/etc/netns")
"""``ip netns exec NS`` bind-mounts ``/etc/netns/NS/*`` over ``/etc`` (resolv.conf, passwd)."""


@dataclass(frozen=True)
class HostAddr:
    """Where one host lives: address, zone and role."""

    name: str
    ip: str
    zone: str
    role: str
    prefixlen: int
    gateway: str


def bridge(zone: str) -> str:
    """The router's interface (a bridge) for ``zone``."""
    return f"br-{zone}"[:15]


def gateway(subnet: str) -> str:
    """The zone's gateway: the first address of its subnet."""
    return str(ipaddress.ip_network(subnet)[1])


def address_plan(scenario: Scenario) -> dict[str, HostAddr]:
    """Every host's address, the attacker zone's included (``c2``, ``atk0``, ``atk1``...)."""
    plan: dict[str, HostAddr] = {}
    for zone in scenario.zones:
        net = ipaddress.ip_network(zone.subnet)
        for i, host in enumerate(zone.hosts):
            plan[host.name] = HostAddr(
                host.name,
                str(net[10 + i]),
                zone.name,
                host.role,
                net.prefixlen,
                gateway(zone.subnet),
            )
    net = ipaddress.ip_network(scenario.attacker.subnet)
    gw = gateway(scenario.attacker.subnet)
    plan["c2"] = HostAddr("c2", str(net[10]), "attacker", "c2", net.prefixlen, gw)
    for i, step in enumerate(scenario.attacker.schedule):
        if not step.tool.startswith("sample:"):
            plan[f"atk{i}"] = HostAddr(
                f"atk{i}", str(net[11 + i]), "attacker", "attacker", net.prefixlen, gw
            )
    return plan


def sh(*args: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise ``SwarmguardError`` with its stderr."""
    res = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and res.returncode != 0:
        raise SwarmguardError(f"{' '.join(args[:6])}: {res.stderr.strip() or res.returncode}")
    return res


def _kill_netns(name: str) -> None:
    res = sh("ip", "netns", "pids", name, check=False)
    for pid in res.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.kill(int(pid), signal.SIGKILL)
    sh("ip", "netns", "del", name, check=False)
    shutil.rmtree(NETNS_ETC / name, ignore_errors=True)


def sweep(run: str = "") -> list[str]:
    """Remove every ``sgx-`` namespace (of one run id, or all) and its /etc/netns files.

    Returns the names removed. This is ``swarmguard range down``.
    """
    prefix = f"{PREFIX}{run}-" if run else PREFIX
    names = [
        line.split()[0]
        for line in sh("ip", "netns", "list", check=False).stdout.splitlines()
        if line.startswith(prefix)
    ]
    if NETNS_ETC.is_dir():
        names += [p.name for p in NETNS_ETC.iterdir() if p.name.startswith(prefix)]
    names = sorted(set(names))
    for name in names:
        _kill_netns(name)
    for leftover in Path(tempfile.gettempdir()).glob(f"{prefix}*"):  # RangeNet.scratch_dir
        shutil.rmtree(leftover, ignore_errors=True)
    return names


class RangeNet:
    """The namespaces, links and processes of one run; ``close()`` removes all of it."""

    def __init__(self, scenario: Scenario, workdir: Path, *, run: str | None = None) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.run = run or uuid.uuid4().hex[:6]
        self.plan = address_plan(scenario)
        self.namespaces: list[str] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self.logdir = workdir / "logs"
        self._scratch: list[Path] = []

    # ------------------------------------------------------------------ names
    def ns(self, host: str) -> str:
        """The namespace of ``host`` (or of the router)."""
        return f"{PREFIX}{self.run}-{host}"

    @property
    def router(self) -> str:
        """The router's namespace."""
        return self.ns(self.scenario.router)

    def etc(self, host: str) -> Path:
        """``/etc/netns/<ns>/``: files that replace /etc's inside ``host``'s namespace."""
        path = NETNS_ETC / self.ns(host)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ------------------------------------------------------------------ building
    def build(self) -> None:
        """Create the router, one bridge per zone, and every host's namespace."""
        self.logdir.mkdir(parents=True, exist_ok=True)
        router = self.router
        self._add_ns(router)
        sh("ip", "-n", router, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        zones = [(z.name, z.subnet) for z in self.scenario.zones]
        zones.append(("attacker", self.scenario.attacker.subnet))
        for name, subnet in zones:
            br = bridge(name)
            prefix = ipaddress.ip_network(subnet).prefixlen
            sh("ip", "-n", router, "link", "add", br, "type", "bridge")
            sh("ip", "-n", router, "addr", "add", f"{gateway(subnet)}/{prefix}", "dev", br)
            sh("ip", "-n", router, "link", "set", br, "up")
        for host in self.plan.values():
            ns = self.ns(host.name)
            self._add_ns(ns)
            port = f"v{host.name}"[:15]
            sh("ip", "-n", router, "link", "add", port, "type", "veth", "peer", "name", "eth0",
               "netns", ns)  # fmt: skip
            sh("ip", "-n", router, "link", "set", port, "master", bridge(host.zone), "up")
            sh("ip", "-n", ns, "addr", "add", f"{host.ip}/{host.prefixlen}", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "route", "add", "default", "via", host.gateway)

    def _add_ns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)

    # ------------------------------------------------------------------ processes
    def exec_args(self, host: str, *args: str) -> list[str]:
        """``ip netns exec <ns of host> args...``."""
        return ["ip", "netns", "exec", self.ns(host), *args]

    def run_in(
        self, host: str, *args: str, timeout: float = 30.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in ``host``'s namespace and wait for it."""
        return sh(*self.exec_args(host, *args), timeout=timeout, check=check)

    def start(
        self,
        name: str,
        host: str,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process in ``host``'s namespace; output to ``log``.

        The default log is ``logs/<name>.log``.
        """
        out = (log or self.logdir / f"{name}.log").open("ab")
        self._logs[name] = out
        proc = subprocess.Popen(
            self.exec_args(host, *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd or self.workdir,
            env=env,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 8.0, sig: int = signal.SIGTERM) -> int | None:
        """Stop a started process (its whole process group); return its exit status."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        fh = self._logs.pop(name, None)
        if fh is not None:
            fh.close()
        return proc.returncode

    def wait_for(self, check: object, what: str, timeout: float) -> None:
        """Poll ``check()`` until true; raise ``SwarmguardError`` naming ``what`` on timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if callable(check) and check():
                return
            time.sleep(0.2)
        raise SwarmguardError(f"range: timed out after {timeout:g} s waiting for {what}")

    def port_open(self, host: str, ip: str, port: int) -> bool:
        """Whether a TCP connection from ``host`` to ``ip:port`` succeeds."""
        res = self.run_in(host, "bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}", timeout=5)
        return res.returncode == 0

    def scratch_dir(self, name: str) -> Path:
        """A short-pathed folder under /tmp for this run (``close`` removes it).

        For sockets: an AF_UNIX path is limited to 107 bytes, which a deep workdir exceeds.
        """
        path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{self.run}-{name}-"))
        self._scratch.append(path)
        return path

    # ------------------------------------------------------------------ cleanup
    def close(self) -> None:
        """Stop every process and remove every namespace and /etc/netns entry of this run."""
        for name in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop(name, timeout=5)
        for name in reversed(self.namespaces):
            _kill_netns(name)
        self.namespaces.clear()
        for path in self._scratch:
            shutil.rmtree(path, ignore_errors=True)
        self._scratch.clear()
        sweep(self.run)
