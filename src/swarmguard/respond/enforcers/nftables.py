"""NftablesEnforcer: blocks and rate limits in its own nftables table, with kernel-timed sets.

Everything lives in one table (``inet swarmguard`` by default) that this enforcer creates and
owns; it never reads or writes another table. Blocked addresses are elements of timed sets
(``block4``, ``block6``; interval sets ``block4net``, ``block6net`` for CIDRs) whose per-element
``timeout`` is the decision's remaining TTL, so the kernel lifts them on time even if swarmguard
is gone. Rate limits map a source to a named ``limit`` object (``rl4``, ``rl6`` maps). Drop rules
sit in ``input`` and ``forward`` hooks; chains ``input_watch``/``forward_watch`` at a later priority
count, per blocked source (sets ``watch4``/``watch6``), the packets that got past the drop rules
(the effectiveness check). Each apply or revoke is one atomic transaction.

Examples
--------
>>> print(element_script(table="swarmguard", set_name="block4", value="203.0.113.7",
...                      timeout_ms=60000))
add element inet swarmguard block4 { 203.0.113.7 timeout 60000ms }
>>> set_for("block", "2001:db8::/64"), set_for("block", "10.0.0.1/32")
('block6net', 'block4')
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
import threading
import time
from typing import Any

from swarmguard.errors import SwarmguardError
from swarmguard.records.decision import Decision, Feedback
from swarmguard.respond.clock import Clock, feedback, utcnow
from swarmguard.respond.nft import Nft, NftError, open_nft

__all__ = ["NftablesEnforcer", "element_script", "set_for", "table_script"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
_HOOKS = ("input", "forward", "output")


def set_for(action: str, value: str) -> str:
    """The set (or map) of this table that holds a target of ``action``."""
    net = ipaddress.ip_network(value, strict=False)
    fam = "4" if net.version == 4 else "6"
    single = net.prefixlen == net.max_prefixlen
    base = {"block": "block", "rate_limit": "rl", "quarantine": "quarantine"}[action]
    return f"{base}{fam}" if single else f"{base}{fam}net"


def element_script(*, table: str, set_name: str, value: str, timeout_ms: int) -> str:
    """The ``add element`` line putting ``value`` in ``set_name`` for ``timeout_ms``."""
    return f"add element inet {table} {set_name} {{ {value} timeout {timeout_ms}ms }}"


def _sets() -> list[str]:
    out = []
    for fam, addr in (("4", "ipv4_addr"), ("6", "ipv6_addr")):
        out += [
            f"set block{fam} {{ type {addr}; flags timeout; counter; }}",
            f"set block{fam}net {{ type {addr}; flags interval,timeout; counter; }}",
            f"set watch{fam} {{ type {addr}; flags timeout; counter; }}",
            f"set watch{fam}net {{ type {addr}; flags interval,timeout; counter; }}",
            f"map rl{fam} {{ type {addr} : limit; flags timeout; }}",
            f"map rl{fam}net {{ type {addr} : limit; flags interval,timeout; }}",
            f"set quarantine{fam} {{ type {addr}; flags timeout; }}",
            f"set mgmt{fam} {{ type {addr}; flags interval; }}",
        ]
    return out


def _rules(hook: str) -> list[str]:
    rules: list[str] = []
    for fam, ip in (("4", "ip"), ("6", "ip6")):
        if hook in ("input", "forward"):
            rules += [
                f"{ip} saddr @block{fam} drop",
                f"{ip} saddr @block{fam}net drop",
                f"limit name {ip} saddr map @rl{fam} drop",
                f"limit name {ip} saddr map @rl{fam}net drop",
                f"{ip} saddr @quarantine{fam} {ip} daddr != @mgmt{fam} drop",
            ]
        if hook in ("output", "forward"):
            rules += [f"{ip} daddr @quarantine{fam} {ip} saddr != @mgmt{fam} drop"]
    return rules


def _watch_rules() -> list[str]:
    rules: list[str] = []
    for fam, ip in (("4", "ip"), ("6", "ip6")):
        rules += [f"{ip} saddr @watch{fam} counter", f"{ip} saddr @watch{fam}net counter"]
    return rules


def table_script(table: str = "swarmguard", *, priority: int = -10) -> str:
    """The idempotent transaction that (re)creates this table's sets, chains and rules.

    Existing set elements are kept; the chains are flushed and refilled, so the rules are
    exactly these after it runs, whatever was there before.
    """
    lines = [f"add table inet {table}"]
    lines += [f"add {s.split(' ', 1)[0]} inet {table} {s.split(' ', 1)[1]}" for s in _sets()]
    for hook in _HOOKS:
        lines.append(
            f"add chain inet {table} {hook} "
            f"{{ type filter hook {hook} priority {priority}; policy accept; }}"
        )
        lines.append(f"flush chain inet {table} {hook}")
        lines += [f"add rule inet {table} {hook} {r}" for r in _rules(hook)]
    for hook in ("input", "forward"):
        chain = f"{hook}_watch"
        lines.append(
            f"add chain inet {table} {chain} "
            f"{{ type filter hook {hook} priority {priority + 20}; policy accept; }}"
        )
        lines.append(f"flush chain inet {table} {chain}")
        lines += [f"add rule inet {table} {chain} {r}" for r in _watch_rules()]
    return "\n".join(lines) + "\n"


def _is_missing(exc: NftError) -> bool:
    text = str(exc)
    return "No such file or directory" in text or "does not exist" in text


class NftablesEnforcer:
    """Blocks and rate limits through timed sets of its own nftables table.

    Parameters
    ----------
    table
        Name of the ``inet`` table this enforcer owns.
    netns
        Network namespace to enforce in (None: this one).
    backend
        ``auto`` (libnftables if present), ``lib`` or ``cli`` (``nft -f -``).
    priority
        Hook priority of the chains (before the usual filter at 0).
    clock
        Current time; the element timeout is the decision's remaining TTL.
    """

    name = "nftables"
    actions: frozenset[str] = frozenset({"block", "rate_limit"})

    def __init__(
        self,
        *,
        table: str = "swarmguard",
        netns: str | None = None,
        backend: str = "auto",
        priority: int = -10,
        clock: Clock = utcnow,
    ) -> None:
        if not _NAME.match(table):
            raise SwarmguardError(f"nftables: bad table name {table!r}")
        self.table = table
        self.netns = netns
        self.backend = backend
        self.priority = priority
        self.clock = clock
        self._nft: Nft | None = None
        self._lock = threading.RLock()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Open the backend and (re)assert the table; existing elements are kept."""
        with self._lock:
            if self._nft is None:
                self._nft = open_nft(self.backend, netns=self.netns)
            self._nft.run(self._setup_script())

    def _setup_script(self) -> str:
        return table_script(self.table, priority=self.priority)

    def close(self) -> None:
        """Close the backend; the table and its timed elements stay in the kernel."""
        with self._lock:
            if self._nft is not None:
                self._nft.close()
                self._nft = None

    def remove_table(self) -> None:
        """Delete this enforcer's table (everything it enforces) and nothing else."""
        with self._lock:
            try:
                self._run(f"delete table inet {self.table}\n")
            except NftError as exc:
                if not _is_missing(exc):
                    raise

    def __enter__(self) -> NftablesEnforcer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, script: str, *, json_output: bool = False, echo: bool = False) -> str:
        if self._nft is None:
            self.start()
        assert self._nft is not None
        return self._nft.run(script, json_output=json_output, echo=echo)

    # -- enforcement -----------------------------------------------------------------------
    def _timeout_ms(self, decision: Decision) -> int:
        remaining = (decision.expires_at - self.clock()).total_seconds()
        return max(1000, math.ceil(remaining * 1000))

    def _value(self, decision: Decision) -> str:
        net = ipaddress.ip_network(decision.value, strict=False)
        return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)

    def _limit_name(self, decision: Decision) -> str:
        return f"rl_{decision.uid[:24]}"

    def apply_script(self, decision: Decision) -> str:
        """The one transaction that puts ``decision`` in force."""
        if decision.action not in self.actions:
            raise SwarmguardError(f"{self.name} does not handle '{decision.action}' decisions")
        timeout = self._timeout_ms(decision)
        value = self._value(decision)
        target = set_for(decision.action, decision.value)
        if decision.action == "rate_limit":
            limit = self._limit_name(decision)
            return (
                f"add limit inet {self.table} {limit} "
                f"{{ rate over {decision.rate_limit_pps}/second }}\n"
                f"add element inet {self.table} {target} "
                f'{{ {value} timeout {timeout}ms : "{limit}" }}\n'
            )
        lines = [element_script(table=self.table, set_name=target, value=value, timeout_ms=timeout)]
        if decision.action == "block":
            watch = target.replace("block", "watch")
            lines.append(
                element_script(table=self.table, set_name=watch, value=value, timeout_ms=timeout)
            )
        return "\n".join(lines) + "\n"

    def apply(self, decision: Decision) -> Feedback:
        """Add the target to its timed set (or rate-limit map) in one transaction.

        The kernel's echo of the new element confirms it is live; when the element was there
        already (no echo), a lookup confirms it instead.
        """
        started = time.perf_counter()
        if decision.expires_at <= self.clock():
            return feedback(
                decision.uid,
                self.name,
                "expired",
                started,
                clock=self.clock,
                detail="TTL already over: nothing applied",
            )
        script = self.apply_script(decision)
        value = self._value(decision)
        with self._lock:
            try:
                echoed = self._run(script, echo=True)
                confirmed = value in echoed or self.contains(decision)
            except NftError as exc:
                return feedback(
                    decision.uid, self.name, "failed", started, clock=self.clock, detail=str(exc)
                )
        if not confirmed:
            return feedback(
                decision.uid,
                self.name,
                "failed",
                started,
                clock=self.clock,
                detail=f"{value} not found in the kernel set after the transaction",
            )
        detail = script.strip().splitlines()[-1 if decision.action == "rate_limit" else 0]
        return feedback(
            decision.uid, self.name, "applied", started, clock=self.clock, detail=detail
        )

    def revoke(self, decision: Decision) -> Feedback:
        """Delete the target's element (already expired is fine)."""
        started = time.perf_counter()
        value = self._value(decision)
        target = set_for(decision.action, decision.value)
        scripts = [f"delete element inet {self.table} {target} {{ {value} }}\n"]
        if decision.action == "block":
            scripts.append(
                scripts[0].replace(f" {target} ", f" {target.replace('block', 'watch')} ")
            )
        if decision.action == "rate_limit":
            scripts.append(f"delete limit inet {self.table} {self._limit_name(decision)}\n")
        with self._lock:
            for script in scripts:
                try:
                    self._run(script)
                except NftError as exc:
                    if not _is_missing(exc):
                        return feedback(
                            decision.uid,
                            self.name,
                            "failed",
                            started,
                            clock=self.clock,
                            detail=str(exc),
                        )
        return feedback(
            decision.uid, self.name, "revoked", started, clock=self.clock, detail=scripts[0].strip()
        )

    # -- inspection ------------------------------------------------------------------------
    def _elements(self, set_name: str) -> list[dict[str, Any]]:
        kind = "map" if set_name.startswith("rl") else "set"
        try:
            out = self._run(f"list {kind} inet {self.table} {set_name}\n", json_output=True)
        except NftError as exc:
            if _is_missing(exc):
                return []
            raise
        found: list[dict[str, Any]] = []
        for item in json.loads(out or "{}").get("nftables", []):
            body = item.get(kind)
            if isinstance(body, dict):
                found.extend(_flatten(e) for e in body.get("elem", []))
        return found

    def list(self) -> list[str]:
        """Targets in force in this enforcer's sets (what the kernel holds right now)."""
        names: list[str] = []
        for action in sorted(self.actions):
            for fam in ("4", "6"):
                for suffix in ("", "net"):
                    base = {"block": "block", "rate_limit": "rl", "quarantine": "quarantine"}
                    names.append(f"{base[action]}{fam}{suffix}")
        with self._lock:
            return [e["value"] for n in names for e in self._elements(n)]

    def contains(self, decision: Decision) -> bool:
        """True when the kernel holds ``decision``'s target in its set right now."""
        value = self._value(decision)
        target = set_for(decision.action, decision.value)
        with self._lock:
            try:
                self._run(f"get element inet {self.table} {target} {{ {value} }}\n")
            except NftError as exc:
                if _is_missing(exc) or "not found" in str(exc).lower():
                    return False
                raise
        return True

    def counters(self, decision: Decision) -> tuple[int, int] | None:
        """(packets from the target dropped, packets from it that got past) since it was added."""
        if decision.action != "block":
            return None
        value = self._value(decision)
        target = set_for(decision.action, decision.value)
        with self._lock:
            dropped = [e for e in self._elements(target) if e["value"] == value]
            replies = [
                e for e in self._elements(target.replace("block", "watch")) if e["value"] == value
            ]
        if not dropped:
            return None
        return int(dropped[0]["packets"]), int(replies[0]["packets"]) if replies else 0


def _flatten(elem: Any) -> dict[str, Any]:
    """One set element of ``nft -j`` output as {value, packets, expires}."""
    if isinstance(elem, list):  # map element: [key, data]
        elem = elem[0]
    packets = 0
    expires = None
    if isinstance(elem, dict) and "elem" in elem:
        inner = elem["elem"]
        packets = int(inner.get("counter", {}).get("packets", 0))
        expires = inner.get("expires")
        elem = inner.get("val")
    if isinstance(elem, dict) and "prefix" in elem:
        elem = f"{elem['prefix']['addr']}/{elem['prefix']['len']}"
    elif isinstance(elem, dict) and "range" in elem:
        elem = "-".join(str(x) for x in elem["range"])
    return {"value": str(elem), "packets": packets, "expires": expires}
