"""PlaybookPolicy: alerts to decisions by configured rules (the ``playbook`` policy).

Each rule says which alerts it takes (category words, detector, minimum score, severity), how
many of them from one target within a window make it act, and what to do: action, TTL, scope
(the address, or its /24 or /64 network) and target (the alert's source, destination, or the
local host involved). Repeat offenders get longer TTLs: ``ttl_s * ttl_growth ** offences``, capped
at ``max_ttl_s``. The first matching rule wins, as in a firewall. A target already under an active
decision of the same action is not decided again.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.alert import Alert, AlertInfo
>>> from swarmguard.respond.base import PolicyContext
>>> pb = PlaybookPolicy(rules=[{"name": "scan", "match": ["recon"], "min_count": 2,
...                             "window_s": 60, "action": "block", "ttl_s": 600}])
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> a = Alert(ts=now, src_ip="203.0.113.7", dest_ip="10.0.0.2",
...           alert=AlertInfo(signature_id=1, signature="scan", category="recon", severity=2),
...           detector="rules", score=1.0)
>>> pb.decide([a], PolicyContext(now=now))
[]
>>> [d] = pb.decide([a.model_copy(update={"uid": "x"})],
...                 PolicyContext(now=now, offences={"203.0.113.7": 1}))
>>> d.action, d.value, d.ttl_s, d.simulated, d.reason.summary
('block', '203.0.113.7', 1200.0, True, 'scan: 2 alert(s) from 203.0.113.7 in 60 s (offence 2)')
"""

from __future__ import annotations

import ipaddress
import logging
import tomllib
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from swarmguard.errors import InputError
from swarmguard.records.alert import Alert
from swarmguard.records.decision import Action, Decision, DecisionReason
from swarmguard.respond.base import PolicyContext

__all__ = ["DEFAULT_RULES", "PlaybookPolicy", "PlaybookRule", "load_playbook"]

log = logging.getLogger(__name__)


class PlaybookRule(BaseModel):
    """One playbook line: which alerts, how many, and what to do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    match: list[str] = Field(
        default_factory=lambda: ["*"],
        description="words, any of which in the alert's category or signature selects it; * any",
    )
    detector: str = Field("*", description="detector registry name, or * for any")
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    max_severity: int = Field(4, ge=1, le=4, description="1 high ... 4 informational")
    min_count: int = Field(1, ge=1, description="alerts needed within window_s")
    window_s: float = Field(60.0, gt=0)
    action: Action = "block"
    target: Literal["src", "dest", "local"] = "src"
    scope: Literal["ip", "cidr"] = "ip"
    prefix_v4: int = Field(24, ge=0, le=32, description="network size for scope=cidr")
    prefix_v6: int = Field(64, ge=0, le=128)
    ttl_s: float = Field(600.0, gt=0)
    ttl_growth: float = Field(2.0, ge=1.0, description="TTL factor per earlier offence")
    max_ttl_s: float = Field(86_400.0, gt=0)
    rate_limit_pps: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> PlaybookRule:
        if self.action == "rate_limit" and self.rate_limit_pps is None:
            raise ValueError("a rate_limit rule needs rate_limit_pps")
        return self

    def selects(self, alert: Alert) -> bool:
        """True when ``alert`` is one this rule counts."""
        if alert.score < self.min_score or alert.alert.severity > self.max_severity:
            return False
        if self.detector != "*" and alert.detector != self.detector:
            return False
        if "*" in self.match:
            return True
        text = f"{alert.alert.category} {alert.alert.signature}".lower()
        if alert.alert.metadata:
            text += " " + " ".join(v for vs in alert.alert.metadata.values() for v in vs).lower()
        return any(word.lower() in text for word in self.match)


DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "denial of service",
        "match": ["denial of service", "dos", "flood"],
        "min_score": 0.5,
        "ttl_s": 600,
    },
    {
        "name": "reconnaissance",
        "match": ["information leak", "recon", "scan", "probe", "sweep"],
        "min_score": 0.5,
        "ttl_s": 900,
    },
    {
        "name": "brute force",
        "match": ["privilege gain", "brute", "login", "credential", "password"],
        "min_score": 0.5,
        "ttl_s": 1800,
    },
    {
        "name": "web attack",
        "match": ["web application attack", "sql", "xss", "injection"],
        "min_count": 3,
        "window_s": 60,
        "ttl_s": 900,
    },
    {
        "name": "compromised host",
        "match": ["trojan", "successful administrator", "successful user", "botnet"],
        "action": "quarantine",
        "target": "local",
        "ttl_s": 3600,
        "ttl_growth": 1.0,
    },
    {
        "name": "learned detector, sustained",
        "min_score": 0.9,
        "min_count": 5,
        "window_s": 30,
        "ttl_s": 300,
    },
]
"""The default playbook: block DoS, scans and brute force at once, web attacks after 3, quarantine
a local host caught in trojan traffic, and block a source learned detectors flag 5 times in 30 s."""


def load_playbook(path: str | Path) -> dict[str, Any]:
    """Read a playbook configuration (``rules = [...]``, ``dry_run``) from TOML or YAML."""
    p = Path(path)
    try:
        text = p.read_text()
        data = tomllib.loads(text) if p.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InputError(p, f"cannot read the playbook: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(p, "a playbook is a mapping with a 'rules' list")
    section = data.get("playbook", data)
    return dict(section) if isinstance(section, Mapping) else {}


class PlaybookPolicy:
    """The configured playbook (registry name ``playbook``).

    Parameters
    ----------
    rules
        Rule dicts or ``PlaybookRule`` objects, first match wins (the default playbook if None).
    dry_run
        Mark every decision simulated (the default; the rails must also allow enforcement).
    sensor_id
        Written on the decisions.
    """

    name = "playbook"

    def __init__(
        self,
        rules: Sequence[PlaybookRule | Mapping[str, Any]] | None = None,
        *,
        dry_run: bool = True,
        sensor_id: str = "local",
    ) -> None:
        try:
            self.rules = [
                r if isinstance(r, PlaybookRule) else PlaybookRule.model_validate(dict(r))
                for r in (DEFAULT_RULES if rules is None else rules)
            ]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise InputError("playbook", f"bad rule field {where}: {first['msg']}") from exc
        self.dry_run = dry_run
        self.sensor_id = sensor_id
        self._windows: dict[tuple[int, str], deque[tuple[datetime, Alert]]] = {}
        self._issued: dict[tuple[str, str], datetime] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PlaybookPolicy:
        """Build from a mapping like ``{"rules": [...], "dry_run": false}``."""
        rules = config.get("rules")
        return cls(
            rules=list(rules) if rules is not None else None,
            dry_run=bool(config.get("dry_run", True)),
            sensor_id=str(config.get("sensor_id", "local")),
        )

    def _target(self, rule: PlaybookRule, alert: Alert, local: PolicyContext) -> str | None:
        if rule.target == "src":
            return alert.attacker_ip()
        if rule.target == "dest":
            return alert.dest_ip
        for ip in (alert.dest_ip, alert.src_ip):
            if local.is_local(ip):
                return ip
        return None

    def _value(self, rule: PlaybookRule, ip: str) -> str:
        if rule.scope == "ip":
            return str(ipaddress.ip_address(ip))
        addr = ipaddress.ip_address(ip)
        prefix = rule.prefix_v4 if addr.version == 4 else rule.prefix_v6
        return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))

    def _covered(self, action: str, value: str, context: PolicyContext) -> bool:
        until = self._issued.get((action, value))
        if until is not None and until > context.now:
            return True
        net = ipaddress.ip_network(value, strict=False)
        for d in context.active:
            if d.action != action or d.expires_at <= context.now:
                continue
            have = ipaddress.ip_network(d.value, strict=False)
            if have.version == net.version and net.subnet_of(have):  # type: ignore[arg-type]
                return True
        return False

    def decide(self, alerts: Sequence[Alert], context: PolicyContext) -> list[Decision]:
        """Count the alerts against the rules and return the decisions whose threshold is met."""
        out: list[Decision] = []
        self._prune(context.now)
        for alert in alerts:
            for index, rule in enumerate(self.rules):
                if not rule.selects(alert):
                    continue
                ip = self._target(rule, alert, context)
                if ip is None:
                    break
                if rule.target == "src" and context.is_local(ip):
                    log.debug("playbook: not acting on local host %s", ip)
                    break
                try:
                    value = self._value(rule, ip)
                except ValueError:
                    log.warning("playbook: alert %s has a bad address %r", alert.uid, ip)
                    break
                decision = self._count(index, rule, value, alert, context)
                if decision is not None:
                    out.append(decision)
                break
        return out

    def _prune(self, now: datetime) -> None:
        if len(self._issued) > 10_000:
            self._issued = {k: t for k, t in self._issued.items() if t > now}
        if len(self._windows) > 10_000:
            self._windows = {k: w for k, w in self._windows.items() if w}

    def _count(
        self, index: int, rule: PlaybookRule, value: str, alert: Alert, context: PolicyContext
    ) -> Decision | None:
        key = (index, value)
        window = self._windows.setdefault(key, deque())
        window.append((alert.ts, alert))
        horizon = max(alert.ts, context.now) - timedelta(seconds=rule.window_s)
        while window and window[0][0] < horizon:
            window.popleft()
        if len(window) < rule.min_count:
            return None
        if self._covered(rule.action, value, context):
            window.clear()
            return None
        seen = [a for _, a in window]
        window.clear()
        offences = context.offences.get(value, 0)
        ttl = min(rule.max_ttl_s, rule.ttl_s * rule.ttl_growth**offences)
        self._issued[(rule.action, value)] = context.now + timedelta(seconds=ttl)
        detectors = sorted({a.detector for a in seen})
        return Decision(
            ts=context.now,
            sensor_id=self.sensor_id,
            action=rule.action,
            scope="cidr" if rule.scope == "cidr" else ("host" if rule.target == "local" else "ip"),
            value=value,
            ttl_s=ttl,
            origin=context.origin,
            policy=self.name,
            reason=DecisionReason(
                alert_uids=[a.uid for a in seen][-100:],
                detector=",".join(detectors),
                category=seen[-1].alert.category,
                summary=(
                    f"{rule.name}: {len(seen)} alert(s) from {value} in {rule.window_s:g} s"
                    + (f" (offence {offences + 1})" if offences else "")
                ),
            ),
            confidence=max(a.score for a in seen),
            simulated=self.dry_run,
            rate_limit_pps=rule.rate_limit_pps if rule.action == "rate_limit" else None,
        )
