"""The error a rule that cannot be loaded raises (naming the rule and the reason)."""

from __future__ import annotations

from swarmguard.errors import SwarmguardError

__all__ = ["UnsupportedRule"]


class UnsupportedRule(SwarmguardError):
    """A Sigma rule uses a construct this engine does not evaluate, or is invalid.

    ``reason`` is a short, stable category (used to count skipped rules); the message names
    the rule file.

    Examples
    --------
    >>> str(UnsupportedRule("r.yml", "placeholder", "%known_dcs% needs a value"))
    'r.yml: placeholder: %known_dcs% needs a value'
    """

    def __init__(self, rule: str, reason: str, detail: str) -> None:
        self.rule = rule
        self.reason = reason
        self.detail = detail
        super().__init__(f"{rule}: {reason}: {detail}")
