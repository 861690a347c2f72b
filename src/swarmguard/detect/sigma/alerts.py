"""Sigma hits as EVE alerts, shaped like traffic alerts.

=====================  ============================================================
EVE field              from
=====================  ============================================================
alert.signature        rule title
alert.signature_id     3e9 + 30 bits of SHA-256 of the rule id (stable, fits uint32)
alert.category         the rule's first ATT&CK tactic (``credential-access``), else
                       ``sigma``; SSH/RDP brute force (T1110) gives ``brute_force``
alert.severity         level: critical/high 1, medium 2, low 3, informational 4
score                  level: critical 1.0, high 0.9, medium 0.7, low 0.5, info 0.3
src_ip, dest_ip ...    the event's addresses
alert.metadata         ``sigma_id``, ``level``, ``logsource``, ``tags`` (ATT&CK), as
                       Suricata logs rule metadata: key -> list of values
evidence               the event (``file:line`` or ``file#record``) and its uid
detector               ``sigma``
=====================  ============================================================

Examples
--------
>>> sigma_signature_id("0e1b3c3e-0000-4000-8000-000000000001")
3131718778
>>> severity_for_level("high"), severity_for_level("informational")
(1, 4)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from swarmguard.detect.sigma.engine import SigmaHit
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.log import LogEvent

__all__ = ["alert_from_hit", "event_reference", "severity_for_level", "sigma_signature_id"]

_SEVERITY = {"critical": 1, "high": 1, "medium": 2, "low": 3, "informational": 4}
_SCORE = {"critical": 1.0, "high": 0.9, "medium": 0.7, "low": 0.5, "informational": 0.3}


def sigma_signature_id(rule_id: str) -> int:
    """A stable signature id for a Sigma rule id: 3,000,000,000 plus 30 bits of its SHA-256.

    Stays within Suricata's unsigned 32-bit ``signature_id`` and away from common sid ranges.
    """
    digest = int.from_bytes(hashlib.sha256(rule_id.encode("utf-8")).digest()[:4], "big")
    return 3_000_000_000 + (digest & 0x3FFFFFFF)


def severity_for_level(level: str) -> int:
    """Suricata severity (1 high ... 4 informational) for a Sigma level."""
    return _SEVERITY.get(level.lower(), 2)


def event_reference(event: LogEvent) -> str:
    """``file:line`` (or ``file#record``) of the event, naming the exported .evtx when known."""
    where = event.source_file or "?"
    if event.source_line is not None:
        where = f"{where}:{event.source_line}"
    elif event.record_id is not None:
        where = f"{where}#{event.record_id}"
    if event.origin_file is not None:
        where = f"{where} ({event.origin_file}#{event.record_id})"
    return where


def _category(tags: Sequence[str], tactics: Sequence[str]) -> str:
    if any(t.startswith("attack.t1110") for t in tags):
        return "brute_force"
    return tactics[0] if tactics else "sigma"


def alert_from_hit(hit: SigmaHit, *, sensor_id: str = "local") -> Alert:
    """The EVE alert for one Sigma hit (see the module docs for the field mapping)."""
    rule = hit.rule
    event = hit.event
    evidence = [event_reference(event), f"event:{event.uid}"]
    metadata: dict[str, list[str]] = {"sigma_id": [rule.id], "level": [rule.level]}
    if rule.logsource:
        metadata["logsource"] = [rule.logsource]
    if rule.tags:
        metadata["tags"] = list(rule.tags)
    return Alert(
        ts=event.ts,
        sensor_id=sensor_id,
        src_ip=event.src_ip,
        src_port=event.src_port,
        dest_ip=event.dest_ip,
        dest_port=event.dest_port,
        app_proto=event.product,
        alert=AlertInfo(
            signature_id=sigma_signature_id(rule.id),
            signature=rule.title,
            category=_category(rule.tags, rule.tactics),
            severity=severity_for_level(rule.level),
            metadata=metadata,
        ),
        detector="sigma",
        score=_SCORE.get(rule.level, 0.7),
        evidence=evidence,
    )
