"""swarmguard decisions in the shape CrowdSec's Local API gives its bouncers.

A bouncer (``crowdsec-firewall-bouncer``, any go-cs-bouncer ``StreamBouncer``) pulls
``GET /v1/decisions/stream?startup=true`` once, then ``startup=false`` every
``update_frequency``; each answer is ``{"new": [...], "deleted": [...]}`` of ``models.Decision``
objects (``id``, ``origin``, ``type``, ``scope``, ``value``, ``duration`` as a Go duration,
``scenario``, ``until``). Only ``block`` decisions on an ``ip`` / ``cidr`` / ``host`` become
``ban`` items; the others (rate limits, notifications) have no CrowdSec equivalent.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.decision import Decision, DecisionReason
>>> d = Decision(ts=datetime(2026, 1, 1, tzinfo=UTC), action="block", scope="cidr",
...              value="203.0.113.0/24", ttl_s=14400, origin="coordinator",
...              reason=DecisionReason(category="probe"), simulated=False)
>>> item = to_crowdsec(d, now=datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC))
>>> item["type"], item["scope"], item["duration"], item["scenario"], item["until"]
('ban', 'Range', '3h59m58s', 'swarmguard/probe', '2026-01-01T04:00:00Z')
>>> go_duration(59.5), go_duration(-61)
('59s', '-1m1s')
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from swarmguard.records.decision import Decision

__all__ = ["CrowdsecDecision", "decision_id", "go_duration", "matches", "to_crowdsec"]


class CrowdsecDecision(BaseModel):
    """One ``models.Decision`` of the CrowdSec Local API."""

    id: int = Field(description="stable numeric id (from the swarmguard uid)")
    uuid: str = Field(description="the swarmguard decision uid")
    origin: str = Field("swarmguard", description="always swarmguard")
    type: str = Field("ban", description="always ban")
    scope: str = Field(description="Ip or Range")
    value: str = Field(description="the address or CIDR")
    duration: str = Field(description="time left, as a Go duration (3h59m58s)")
    scenario: str = Field(description="swarmguard/<category>")
    until: str = Field(description="expiry, RFC 3339")
    simulated: bool = False


def go_duration(seconds: float) -> str:
    """Whole seconds as a Go ``time.Duration`` string (``1h2m3s``, ``59s``, ``-1m1s``)."""
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def decision_id(uid: str) -> int:
    """A stable positive integer id for a decision uid (53 bits: safe in JavaScript too).

    Examples
    --------
    >>> decision_id("abc") == decision_id("abc") > 0
    True
    """
    return int.from_bytes(hashlib.sha256(uid.encode()).digest()[:7], "big") >> 3 or 1


def bannable(decision: Decision, *, simulated: bool = False) -> bool:
    """True when the decision maps onto a CrowdSec ``ban``."""
    return decision.action == "block" and (simulated or not decision.simulated)


def to_crowdsec(decision: Decision, *, now: datetime) -> dict[str, Any]:
    """The CrowdSec ``models.Decision`` JSON object for a swarmguard block decision."""
    left = (decision.expires_at - now).total_seconds()
    until = decision.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return CrowdsecDecision(
        id=decision_id(decision.uid),
        uuid=decision.uid,
        scope="Range" if decision.scope == "cidr" else "Ip",
        value=decision.value,
        duration=go_duration(left),
        scenario=f"swarmguard/{decision.reason.category or decision.policy}",
        until=until,
        simulated=decision.simulated,
    ).model_dump()


def _split(param: str | None) -> set[str] | None:
    if not param:
        return None
    return {p.strip().lower() for p in param.split(",") if p.strip()}


def matches(
    decision: Decision,
    *,
    scopes: str | None = None,
    origins: str | None = None,
    ip: str | None = None,
    range_: str | None = None,
    value: str | None = None,
) -> bool:
    """Apply the Local API's query filters to a decision.

    ``scopes`` and ``origins`` are comma lists (case-insensitive, as bouncers send them); ``ip``
    matches a decision on that address or on a range containing it; ``range_`` a decision inside
    that range.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> d = Decision(ts=datetime(2026, 1, 1, tzinfo=UTC), action="block", scope="cidr",
    ...              value="203.0.113.0/24", ttl_s=60, origin="coordinator")
    >>> matches(d, ip="203.0.113.9"), matches(d, scopes="ip"), matches(d, scopes="ip,range")
    (True, False, True)
    """
    scope_set = _split(scopes)
    if scope_set is not None and ("range" if decision.scope == "cidr" else "ip") not in scope_set:
        return False
    origin_set = _split(origins)
    if origin_set is not None and "swarmguard" not in origin_set:
        return False
    if value is not None and decision.value != value:
        return False
    target = ipaddress.ip_network(decision.value, strict=False)
    if ip is not None:
        addr = ipaddress.ip_address(ip)
        if addr.version != target.version or addr not in target:
            return False
    if range_ is not None:
        net = ipaddress.ip_network(range_, strict=False)
        if net.version != target.version or not target.subnet_of(net):  # type: ignore[arg-type]
            return False
    return True


def stream_items(
    decisions: Iterable[Decision], *, now: datetime, simulated: bool, **filters: str | None
) -> list[dict[str, Any]]:
    """CrowdSec items for the bannable decisions that pass the query filters."""
    return [
        to_crowdsec(d, now=now)
        for d in decisions
        if bannable(d, simulated=simulated) and matches(d, **filters)
    ]
