"""The two plug-in kinds of the response stage: ``Policy`` (alerts to decisions) and ``Enforcer``.

Built-ins register by name in ``POLICIES`` and ``ENFORCERS`` as lazy ``"module:Class"`` paths;
``rl`` (a trained defend/ policy) is one such name, loaded only when chosen.

Examples
--------
>>> from datetime import datetime, UTC
>>> ctx = PolicyContext(now=datetime(2026, 1, 1, tzinfo=UTC))
>>> ctx.offences.get("203.0.113.7", 0)
0
>>> PolicyContext(now=ctx.now, local_hosts=["10.0.0.0/24", "192.0.2.1"]).is_local("10.0.0.7")
True
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from swarmguard.records.alert import Alert
from swarmguard.records.decision import Decision, Feedback
from swarmguard.registry import Registry

__all__ = ["ENFORCERS", "POLICIES", "Enforcer", "Policy", "PolicyContext"]


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may look at besides the alerts: time, decisions in force, history."""

    now: datetime
    active: Sequence[Decision] = ()
    offences: Mapping[str, int] = field(default_factory=dict)
    """Decisions taken before against each target (repeat offenders get longer TTLs)."""
    local_hosts: Sequence[str] = ()
    """Addresses or networks (CIDR) this agent protects (targets for quarantine / restore)."""
    origin: str = "agent:local"

    def is_local(self, ip: str | None) -> bool:
        """True when ``ip`` is one of ``local_hosts`` or inside one of its networks."""
        if not ip:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        for item in self.local_hosts:
            try:
                if addr in ipaddress.ip_network(item, strict=False):
                    return True
            except ValueError:
                continue
        return False


@runtime_checkable
class Policy(Protocol):
    """Chooses decisions from a batch of alerts."""

    name: str

    def decide(self, alerts: Sequence[Alert], context: PolicyContext) -> list[Decision]:
        """Return the decisions to take now (possibly none)."""
        ...


@runtime_checkable
class Enforcer(Protocol):
    """Applies decisions to one enforcement point; idempotent; owns its own namespace only."""

    name: str

    def apply(self, decision: Decision) -> Feedback:
        """Put ``decision`` in force; applying it twice is harmless."""
        ...

    def revoke(self, decision: Decision) -> Feedback:
        """Lift ``decision`` before its TTL."""
        ...

    def list(self) -> list[str]:
        """Targets currently in force at this enforcement point."""
        ...


POLICIES: Registry[Policy] = Registry("policy", "swarmguard.policies")
ENFORCERS: Registry[Enforcer] = Registry("enforcer", "swarmguard.enforcers")
POLICIES.add("rl", "swarmguard.defend.policy:RlPolicy", extra="deep")
POLICIES.add("playbook", "swarmguard.respond.playbook:PlaybookPolicy")
ENFORCERS.add("dryrun", "swarmguard.respond.enforcers.dryrun:DryRunEnforcer")
ENFORCERS.add("nftables", "swarmguard.respond.enforcers.nftables:NftablesEnforcer")
ENFORCERS.add("quarantine", "swarmguard.respond.enforcers.quarantine:QuarantineEnforcer")
ENFORCERS.add("webhook", "swarmguard.respond.enforcers.webhook:WebhookEnforcer", extra="service")
