"""Request and response bodies of the coordinator's REST API (they document the OpenAPI schema).

Examples
--------
>>> RegisterRequest(agent_id="edge1").enforcers
[]
>>> IntakeResponse(accepted=2, duplicates=1).model_dump()
{'accepted': 2, 'duplicates': 1}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from swarmguard.records.alert import Alert
from swarmguard.records.decision import Decision, Feedback

__all__ = [
    "AgentInfo",
    "AgentList",
    "AlertBatch",
    "AlertList",
    "CrowdsecStream",
    "DecisionList",
    "DecisionsIn",
    "DecisionsResponse",
    "FeedbackIn",
    "FeedbackResponse",
    "HeartbeatRequest",
    "IntakeResponse",
    "RatePoint",
    "RegisterRequest",
    "RegisterResponse",
    "RevokeResponse",
    "Stats",
    "StreamResponse",
    "StoredAlert",
]

AGENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Body):
    """An agent announcing itself (again after every restart)."""

    agent_id: str = Field(pattern=AGENT_ID, description="the agent's name; must match its token")
    version: str = Field("", max_length=100, description="swarmguard version of the agent")
    addresses: list[str] = Field(default_factory=list, description="addresses it protects")
    enforcers: list[str] = Field(default_factory=list, description="enforcers it runs")


class RegisterResponse(BaseModel):
    """Registration accepted; heartbeat this often."""

    agent_id: str
    heartbeat_s: float


class HeartbeatRequest(_Body):
    """Free-form health figures of an agent (queue depth, alerts/s, errors, ...)."""

    health: dict[str, JsonValue] = Field(default_factory=dict)


class AlertBatch(_Body):
    """A batch of alerts; sending it again is harmless (deduplicated on alert uid)."""

    batch_id: str = Field(min_length=1, max_length=200, description="the agent's batch id")
    alerts: list[Alert] = Field(description="at most 1000 alerts (more: 413)")


class IntakeResponse(BaseModel):
    """How many alerts of a batch were new and how many were already stored."""

    accepted: int
    duplicates: int


class DecisionsIn(_Body):
    """Decisions an agent took locally (or an administrator adds), to share with every agent."""

    decisions: list[Decision]


class DecisionsResponse(BaseModel):
    """What became of the decisions sent.

    ``accepted``: new and in force. ``refused``: new but stored refused, never served (an
    allow-listed target, or one of ``capped``: the coordinator's ``max_active`` decisions were
    already in force). ``duplicates``: already known by uid, nothing changed. An agent's
    decisions are stored with origin ``agent:<its id>`` whatever they claim.
    """

    accepted: int
    refused: int = 0
    capped: int = 0
    duplicates: int = 0


class FeedbackIn(_Body):
    """Enforcer reports (applied, failed, revoked, effective ...)."""

    feedback: list[Feedback]


class FeedbackResponse(BaseModel):
    """What became of the reports sent.

    ``accepted``: stored. ``duplicates``: already stored (by uid). ``unknown``: about a decision
    the coordinator does not have; dropped (the rest of the batch is still stored).
    """

    accepted: int
    duplicates: int = 0
    unknown: int = 0


class StreamResponse(BaseModel):
    """The shared blocklist since a cursor: pass ``cursor`` back as ``since`` next time."""

    new: list[Decision]
    deleted: list[Decision]
    cursor: int


class DecisionList(BaseModel):
    """Decisions in force."""

    decisions: list[Decision]


class RevokeResponse(BaseModel):
    """The decision that was revoked."""

    revoked: Decision


class StoredAlert(BaseModel):
    """An alert as received: who sent it and when."""

    agent_id: str
    received_at: float = Field(description="UNIX time the coordinator stored it")
    alert: dict[str, Any] = Field(description="the Alert record (EVE-shaped JSON)")


class AlertList(BaseModel):
    """The most recent alerts, newest first, and how many are stored in all."""

    alerts: list[StoredAlert]
    total: int


class AgentInfo(BaseModel):
    """A registered agent and its health."""

    agent_id: str
    version: str
    addresses: list[str]
    enforcers: list[str]
    registered_at: float
    last_seen: float
    alive: bool = Field(description="a heartbeat came within three heartbeat intervals")
    health: dict[str, Any]


class AgentList(BaseModel):
    """Every registered agent."""

    agents: list[AgentInfo]


class RatePoint(BaseModel):
    """Alerts received in one time bucket."""

    t: float = Field(description="bucket start, UNIX time")
    count: int


class Stats(BaseModel):
    """Figures for the dashboard."""

    now: float
    alerts_total: int
    agents: int
    decisions_active: int
    bucket_s: float
    rate: list[RatePoint]


class CrowdsecStream(BaseModel):
    """The CrowdSec Local API's ``DecisionsStreamResponse``."""

    new: list[dict[str, Any]] | None
    deleted: list[dict[str, Any]] | None
