"""AllowList: addresses no decision may ever target (own addresses, gateways, the coordinator).

Entries are IPv4/IPv6 addresses or networks, each with a label saying why it is there. A decision
is refused when its target overlaps any entry: blocking ``10.0.0.0/8`` is refused if the gateway
``10.0.0.1`` is allow-listed. Loopback is always allowed.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.decision import Decision
>>> allow = AllowList({"10.220.0.1": "gateway", "192.0.2.0/28": "management"})
>>> allow.covers("10.220.0.0/24")
'10.220.0.0/24 overlaps 10.220.0.1/32 (gateway)'
>>> allow.covers("10.220.0.7") is None
True
>>> d = Decision(ts=datetime(2026, 1, 1, tzinfo=UTC), action="block", scope="ip",
...              value="::1", ttl_s=60, origin="agent:a")
>>> allow.check(d)
'::1/128 overlaps ::1/128 (loopback)'
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import subprocess
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from swarmguard.errors import SwarmguardError
from swarmguard.records.decision import Decision

__all__ = ["AllowList", "gateway_addresses", "local_addresses", "resolve_host"]

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_ALWAYS: dict[str, str] = {"127.0.0.0/8": "loopback", "::1/128": "loopback"}

#: Actions that change what traffic flows; ``notify`` and ``unblock`` never need the check.
GUARDED_ACTIONS = frozenset({"block", "rate_limit", "quarantine"})


def _ip_json(args: list[str], netns: str | None) -> list[dict[str, object]]:
    cmd = ["ip", "-j", *args]
    if netns:
        cmd = ["ip", "-n", netns, "-j", *args]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not run %s: %s", " ".join(cmd), exc)
        return []
    data = json.loads(res.stdout or "[]")
    return data if isinstance(data, list) else []


def local_addresses(netns: str | None = None) -> list[str]:
    """Every address configured on this host (or in network namespace ``netns``)."""
    found: list[str] = []
    for link in _ip_json(["addr", "show"], netns):
        infos = link.get("addr_info", [])
        if isinstance(infos, list):
            found.extend(str(i["local"]) for i in infos if isinstance(i, dict) and "local" in i)
    return found


def gateway_addresses(netns: str | None = None) -> list[str]:
    """The next hops of every route (default gateways first) on this host or in ``netns``."""
    found: list[str] = []
    for family in ("-4", "-6"):
        for route in _ip_json([family, "route", "show"], netns):
            gw = route.get("gateway")
            if isinstance(gw, str) and gw not in found:
                found.append(gw)
    return found


def resolve_host(host_or_url: str) -> list[str]:
    """Addresses of a host name, an address, or the host part of a URL."""
    host = urlsplit(host_or_url).hostname if "://" in host_or_url else host_or_url
    if not host:
        return []
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        log.warning("could not resolve %s for the allow-list: %s", host, exc)
        return []
    return sorted({str(info[4][0]) for info in infos})


class AllowList:
    """Networks that no block, rate limit or quarantine may overlap.

    Parameters
    ----------
    entries
        Addresses or CIDRs, with a label each (mapping) or a plain iterable (label ``configured``).
    """

    def __init__(self, entries: Mapping[str, str] | Iterable[str] = ()) -> None:
        self._nets: list[tuple[Network, str]] = []
        for value, label in _ALWAYS.items():
            self.add(value, label)
        if isinstance(entries, Mapping):
            for value, label in entries.items():
                self.add(value, label)
        else:
            for value in entries:
                self.add(value, "configured")

    @classmethod
    def for_host(
        cls,
        cidrs: Iterable[str] = (),
        *,
        coordinator: str | None = None,
        netns: str | None = None,
        own: bool = True,
        gateways: bool = True,
    ) -> AllowList:
        """The allow-list of an agent: its own addresses, gateways, coordinator and ``cidrs``."""
        allow = cls(dict.fromkeys(cidrs, "configured"))
        if own:
            for addr in local_addresses(netns):
                allow.add(addr, "own address")
        if gateways:
            for addr in gateway_addresses(netns):
                allow.add(addr, "gateway")
        if coordinator:
            for addr in resolve_host(coordinator):
                allow.add(addr, "coordinator")
        return allow

    def add(self, value: str, label: str = "configured") -> None:
        """Allow ``value`` (an address or a network)."""
        try:
            net = ipaddress.ip_network(value.split("%")[0], strict=False)
        except ValueError as exc:
            raise SwarmguardError(f"allow-list: not an address or network: {value!r}") from exc
        if all(net != n for n, _ in self._nets):
            self._nets.append((net, label))

    def entries(self) -> list[tuple[str, str]]:
        """Each allowed network with its label."""
        return [(str(n), label) for n, label in self._nets]

    def covers(self, value: str) -> str | None:
        """Why ``value`` may not be targeted (an overlap), or None when it may."""
        target = ipaddress.ip_network(value, strict=False)
        for net, label in self._nets:
            if net.version == target.version and net.overlaps(target):
                return f"{target} overlaps {net} ({label})"
        return None

    def check(self, decision: Decision) -> str | None:
        """The reason to refuse ``decision``, or None when it may go ahead."""
        if decision.action not in GUARDED_ACTIONS:
            return None
        return self.covers(decision.value)

    def __len__(self) -> int:
        return len(self._nets)
