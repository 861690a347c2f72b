"""Alert: a detection, shaped as a Suricata EVE ``alert`` event so it can go straight to a SIEM.

EVE fields (``timestamp``, ``event_type``, ``src_ip`` ... ``alert``) come first; swarmguard's own
fields (``detector``, ``score``, ``sensor_id``, ``evidence``) sit beside them at the top level.

Examples
--------
>>> from datetime import datetime, UTC
>>> a = Alert(ts=datetime(2017, 7, 7, 12, 59, tzinfo=UTC), src_ip="10.0.0.1", src_port=1234,
...           dest_ip="10.0.0.2", dest_port=80, proto="TCP",
...           alert=AlertInfo(signature_id=1, signature="x", category="dos", severity=2),
...           detector="svm", score=0.9, evidence=["f.pcap:3"])
>>> eve = a.to_eve()
>>> eve["event_type"], eve["alert"]["severity"], eve["timestamp"][:19]
('alert', 2, '2017-07-07T12:59:00')
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from swarmguard.records.base import RecordModel

__all__ = ["Alert", "AlertInfo", "Endpoint", "EtherInfo", "FlowInfo", "HttpInfo", "PacketInfo"]


class Endpoint(BaseModel):
    """An EVE ``alert.source`` / ``alert.target`` object (rules with ``target``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ip: str
    port: int | None = None


class AlertInfo(BaseModel):
    """The EVE ``alert`` object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["allowed", "blocked"] = "allowed"
    gid: int = 1
    signature_id: int = Field(description="rule sid, or a detector's fixed id")
    rev: int = 1
    signature: str = Field(description="human-readable name of what fired")
    category: str = Field(description="classtype description or taxonomy class")
    severity: int = Field(ge=1, le=4, description="1 high ... 4 informational (Suricata)")
    source: Endpoint | None = None
    target: Endpoint | None = None
    metadata: dict[str, list[str]] | None = Field(
        default=None, description="rule metadata, key -> values (as Suricata logs it)"
    )


class EtherInfo(BaseModel):
    """The EVE ``ether`` object (MAC addresses of the alerting packet)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    src_mac: str
    dest_mac: str


class FlowInfo(BaseModel):
    """The EVE ``flow`` object of an alert: the flow's counters when the alert fired."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pkts_toserver: int
    pkts_toclient: int
    bytes_toserver: int
    bytes_toclient: int
    start: str = Field(description="flow start, EVE format (2009-10-16T16:44:16.083524+0000)")
    src_ip: str | None = None
    dest_ip: str | None = None
    src_port: int | None = None
    dest_port: int | None = None


class HttpInfo(BaseModel):
    """The EVE ``http`` object of an alert on an HTTP transaction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hostname: str | None = None
    url: str | None = None
    http_user_agent: str | None = None
    http_content_type: str | None = None
    http_refer: str | None = None
    http_method: str | None = None
    protocol: str | None = None
    status: int | None = None
    length: int | None = None


class PacketInfo(BaseModel):
    """The EVE ``packet_info`` object (link type of the logged ``packet``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    linktype: int


class Alert(RecordModel):
    """A scored detection about one flow, packet or log event."""

    event_type: Literal["alert"] = "alert"
    src_ip: str | None = None
    src_port: int | None = None
    dest_ip: str | None = None
    dest_port: int | None = None
    proto: str | None = None
    community_id: str | None = None
    flow_id: int | None = None
    app_proto: str | None = None
    alert: AlertInfo
    pcap_cnt: int | None = Field(default=None, description="packet number in the capture")
    tx_id: int | None = Field(default=None, description="application transaction id")
    direction: Literal["to_server", "to_client"] | None = None
    pkt_src: str | None = Field(default=None, description="wire/pcap, stream (flow timeout)")
    stream: int | None = Field(default=None, description="1 if matched on the stream")
    ether: EtherInfo | None = None
    flow: FlowInfo | None = None
    http: HttpInfo | None = None
    packet: str | None = Field(default=None, description="base64 of the packet")
    packet_info: PacketInfo | None = None
    detector: str = Field(description="registry name of the detector that fired")
    score: float = Field(ge=0.0, le=1.0, description="attack score in [0, 1]")
    evidence: list[str] = Field(default_factory=list, description="uids of flows, events, rows")

    def attacker_ip(self) -> str | None:
        """The address that acted: ``alert.source`` where the alert names one, else ``src_ip``.

        An alert that names a target but no source aggregates many senders (a rule whose
        threshold counts packets per destination): whoever sent the packet that crossed the
        threshold is not known to be the attacker, so there is none to act on.

        >>> from datetime import UTC, datetime
        >>> info = AlertInfo(signature_id=1, signature="flood", category="dos", severity=2)
        >>> a = Alert(ts=datetime(2026, 1, 1, tzinfo=UTC), src_ip="10.0.0.4", dest_ip="10.0.0.2",
        ...           alert=info, detector="rules", score=1.0)
        >>> a.attacker_ip()
        '10.0.0.4'
        >>> aggregate = info.model_copy(update={"target": Endpoint(ip="10.0.0.2")})
        >>> a.model_copy(update={"alert": aggregate}).attacker_ip() is None
        True
        """
        if self.alert.source is not None:
            return self.alert.source.ip
        if self.alert.target is not None:
            return None
        return self.src_ip

    def to_eve(self) -> dict[str, Any]:
        """Return the alert as one EVE JSON object (``timestamp`` instead of ``ts``)."""
        data = self.model_dump(mode="json", exclude_none=True)
        ts = data.pop("ts")
        return {"timestamp": ts, **data}

    def to_eve_line(self) -> str:
        """Return the EVE JSON object as one line (no trailing newline)."""
        return json.dumps(self.to_eve(), separators=(",", ":"))
