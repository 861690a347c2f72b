"""The built-in policies and enforcers of the response stage, as lazy registry paths.

``register_builtins()`` adds them to ``POLICIES`` and ``ENFORCERS``; it is idempotent.

Examples
--------
>>> register_builtins()
>>> from swarmguard.respond.base import ENFORCERS, POLICIES
>>> [n for n in ENFORCERS.names() if n in BUILTIN_ENFORCERS]
['dryrun', 'nftables', 'quarantine', 'webhook']
>>> POLICIES.get("playbook").__name__
'PlaybookPolicy'
"""

from __future__ import annotations

from swarmguard.respond.base import ENFORCERS, POLICIES

__all__ = ["BUILTIN_ENFORCERS", "BUILTIN_POLICIES", "register_builtins"]

BUILTIN_POLICIES: dict[str, tuple[str, str | None]] = {
    "playbook": ("swarmguard.respond.playbook:PlaybookPolicy", None),
}
BUILTIN_ENFORCERS: dict[str, tuple[str, str | None]] = {
    "dryrun": ("swarmguard.respond.enforcers.dryrun:DryRunEnforcer", None),
    "nftables": ("swarmguard.respond.enforcers.nftables:NftablesEnforcer", None),
    "quarantine": ("swarmguard.respond.enforcers.quarantine:QuarantineEnforcer", None),
    "webhook": ("swarmguard.respond.enforcers.webhook:WebhookEnforcer", "service"),
}


def register_builtins() -> None:
    """Register the built-in policies and enforcers by name."""
    for name, (path, extra) in BUILTIN_POLICIES.items():
        POLICIES.add(name, path, extra=extra)
    for name, (path, extra) in BUILTIN_ENFORCERS.items():
        ENFORCERS.add(name, path, extra=extra)
