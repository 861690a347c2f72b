"""One label taxonomy for every source.

Each public dataset's own labels map onto these classes through a documented table in
``swarmguard.acquire.datasets.taxonomy``; the original label is always kept beside it.

Examples
--------
>>> AttackClass("dos").is_attack
True
>>> AttackClass.BENIGN.is_attack
False
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AttackClass"]


class AttackClass(StrEnum):
    """Attack families shared by all datasets, captures and detectors."""

    BENIGN = "benign"
    DOS = "dos"
    PROBE = "probe"
    BRUTE_FORCE = "brute_force"
    WEB_ATTACK = "web_attack"
    BOTNET = "botnet"
    INFILTRATION = "infiltration"
    EXPLOIT = "exploit"
    BACKDOOR = "backdoor"
    PRIVILEGE_ESCALATION = "privilege_escalation"
    REMOTE_ACCESS = "remote_access"
    FUZZING = "fuzzing"
    MALWARE = "malware"
    UNKNOWN_ATTACK = "unknown_attack"

    @property
    def is_attack(self) -> bool:
        """Whether this class counts as an attack in binary metrics."""
        return self is not AttackClass.BENIGN
