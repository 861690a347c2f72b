"""QuarantineEnforcer: cut a host off from everything but the management networks.

It shares the nftables table of ``NftablesEnforcer`` (``inet swarmguard``): a quarantined host is
an element of the timed set ``quarantine4``/``quarantine6``, and the table's rules drop every
packet to or from it (input, forward, output) unless the other end is in ``mgmt4``/``mgmt6``,
which this enforcer fills from its ``management`` networks when it starts.

Examples
--------
>>> q = QuarantineEnforcer(management=["192.0.2.0/28", "2001:db8::10"])
>>> print(q.management_script())
flush set inet swarmguard mgmt4
flush set inet swarmguard mgmt6
add element inet swarmguard mgmt4 { 192.0.2.0/28 }
add element inet swarmguard mgmt6 { 2001:db8::10/128 }
<BLANKLINE>
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from swarmguard.errors import SwarmguardError
from swarmguard.respond.clock import Clock, utcnow
from swarmguard.respond.enforcers.nftables import NftablesEnforcer

__all__ = ["QuarantineEnforcer"]


class QuarantineEnforcer(NftablesEnforcer):
    """Quarantines hosts in the shared swarmguard table, sparing management addresses.

    Parameters
    ----------
    management
        Networks a quarantined host may still talk to (and be reached from).
    table, netns, backend, priority, clock
        As for ``NftablesEnforcer``.
    """

    name = "quarantine"
    actions: frozenset[str] = frozenset({"quarantine"})

    def __init__(
        self,
        *,
        management: Sequence[str] = (),
        table: str = "swarmguard",
        netns: str | None = None,
        backend: str = "auto",
        priority: int = -10,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(table=table, netns=netns, backend=backend, priority=priority, clock=clock)
        try:
            self.management = [ipaddress.ip_network(m, strict=False) for m in management]
        except ValueError as exc:
            raise SwarmguardError(f"quarantine: bad management network: {exc}") from exc

    def management_script(self) -> str:
        """The transaction that sets the management networks."""
        lines = [f"flush set inet {self.table} mgmt4", f"flush set inet {self.table} mgmt6"]
        for version in (4, 6):
            nets = [str(n) for n in self.management if n.version == version]
            if nets:
                lines.append(f"add element inet {self.table} mgmt{version} {{ {', '.join(nets)} }}")
        return "\n".join(lines) + "\n"

    def _setup_script(self) -> str:
        return super()._setup_script() + self.management_script()
