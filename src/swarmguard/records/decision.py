"""Decision and Feedback: what a policy chose to do about a threat, and what enforcing it did.

A Decision always has a TTL, an origin, a reason (alert uids, detector) and says whether it was
simulated (dry-run). Feedback is what an enforcer reports back: applied, failed, revoked, expired
or refused, with its timing, and later whether the attacking traffic actually stopped.

Examples
--------
>>> from datetime import datetime, UTC
>>> d = Decision(ts=datetime(2026, 1, 1, tzinfo=UTC), action="block", scope="ip",
...              value="203.0.113.7", ttl_s=600, origin="agent:edge1", policy="playbook",
...              reason=DecisionReason(alert_uids=["a1"], detector="rules", category="probe",
...                                    summary="port scan"),
...              confidence=0.9)
>>> d.expires_at.isoformat(), d.simulated
('2026-01-01T00:10:00+00:00', True)
>>> fb = Feedback(ts=d.ts, decision_uid=d.uid, enforcer="dryrun", status="applied",
...               duration_ms=0.02)
>>> fb.ok
True
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from swarmguard.records.base import RecordModel

__all__ = ["Action", "Decision", "DecisionReason", "Feedback", "FeedbackStatus", "Scope"]

Action = Literal["block", "rate_limit", "quarantine", "notify", "unblock"]
Scope = Literal["ip", "cidr", "host"]
FeedbackStatus = Literal[
    "applied", "failed", "revoked", "expired", "refused", "effective", "ineffective"
]


class DecisionReason(BaseModel):
    """Why a decision was taken: the alerts behind it and who judged them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_uids: list[str] = Field(default_factory=list, description="uids of the alerts behind it")
    detector: str = Field(default="", description="detector(s) that raised those alerts")
    category: str = Field(default="", description="taxonomy class of the threat (dos, probe ...)")
    summary: str = Field(default="", description="one human-readable line")
    agents: list[str] = Field(
        default_factory=list, description="agents that saw the source (after correlation)"
    )


class Decision(RecordModel):
    """A response to a threat, with its target, lifetime and reasons."""

    action: Action
    scope: Scope = Field(description="ip (one address), cidr (a network) or host (a local host)")
    value: str = Field(description="the target: an IP address, a CIDR, or a host address")
    ttl_s: float = Field(gt=0, description="lifetime in seconds; every decision expires")
    origin: str = Field(description="who decided: agent:ID, coordinator, ...")
    policy: str = Field(default="playbook", description="registry name of the deciding policy")
    reason: DecisionReason = Field(default_factory=DecisionReason)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    simulated: bool = Field(default=True, description="true when only logged (dry-run)")
    rate_limit_pps: int | None = Field(
        default=None, gt=0, description="packets/s allowed for rate_limit decisions"
    )

    @model_validator(mode="after")
    def _check_target(self) -> Decision:
        if self.scope == "ip" or self.scope == "host":
            ipaddress.ip_address(self.value)
        else:
            ipaddress.ip_network(self.value, strict=False)
        if self.action == "rate_limit" and self.rate_limit_pps is None:
            raise ValueError("a rate_limit decision needs rate_limit_pps")
        return self

    @property
    def expires_at(self) -> datetime:
        """When the decision lapses (``ts + ttl_s``)."""
        return self.ts + timedelta(seconds=self.ttl_s)


class Feedback(RecordModel):
    """What an enforcer did with a decision, and how long it took."""

    decision_uid: str
    enforcer: str = Field(description="registry name of the enforcer")
    status: FeedbackStatus
    duration_ms: float = Field(ge=0.0, description="time the enforcer spent on it")
    detail: str = Field(default="", description="error text, command run, or measurement")
    packets_after: int | None = Field(
        default=None, description="attacking packets seen after enforcement (effectiveness)"
    )

    @property
    def ok(self) -> bool:
        """True unless the enforcer failed or refused."""
        return self.status not in ("failed", "refused", "ineffective")
