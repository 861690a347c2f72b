"""``RlPolicy``: the trained defender as a response ``Policy`` (registered as ``rl``).

Live alerts are mapped to the simulator's host features: each alert is charged to the address
that acts (its source); a source among ``PolicyContext.local_hosts`` is a compromised local host,
any other source an outside attacker. Category and signature give the alert type (scan ->
discovery, brute force -> credential, flood -> other ...); a detector score of at least 0.8
counts as a positive analysis; decisions in force set the blocked / isolated flags. The network
scores each host's actions against the no-op; chosen actions become decisions with TTLs:
block -> ``block`` of the address (600 s); isolate / restore -> ``quarantine`` of a local host
(900 s; a block when the address is not local); remove -> a 60 s block of an outside address
(``notify`` for a local host: no live enforcer kills processes); analyse / decoy -> ``notify``.
Because remove can become a block live, the simulator counts it as a response in
false-response precision (``defend.measure``).
TTLs grow with repeat offences. Decisions are ``simulated`` (dry-run) unless told otherwise;
the agent's allow-list and enforcers stay in charge.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.respond.base import PolicyContext
>>> p = RlPolicy("default")
>>> p.decide([], PolicyContext(now=datetime(2026, 1, 1, tzinfo=UTC)))
[]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from swarmguard.defend.env import ALERT_TYPES, H_MAX, HOST_ACTIONS, N_FEATURES, N_HOST_ACT
from swarmguard.defend.net import DefenceNet
from swarmguard.defend.train import load_net
from swarmguard.records.alert import Alert
from swarmguard.records.decision import Action, Decision, DecisionReason, Scope
from swarmguard.respond.base import PolicyContext

__all__ = ["DEFAULT_POLICY", "RlPolicy", "alert_type"]

DEFAULT_POLICY = Path(__file__).parent / "default"
_KEYWORDS = (
    (("scan", "probe", "recon", "sweep", "discover", "portscan"), "discovery"),
    (("brute", "login", "credential", "password", "auth", "ssh", "ftp-patator"), "credential"),
    (("exfil", "leak", "upload"), "exfil"),
    (("lateral", "smb", "rdp", "wmi", "psexec"), "lateral"),
    (("trojan", "c2", "beacon", "botnet", "malware", "bot"), "c2"),
    (("exploit", "shell", "exec", "inject", "web-attack", "sql"), "execution"),
    (("collect", "staging", "archive"), "collection"),
)
_TTL = {"block": 600.0, "quarantine": 900.0, "notify": 300.0}
_SHORT = {**_TTL, "block": 60.0}


def alert_type(alert: Alert) -> int:
    """Index in :data:`ALERT_TYPES` of a live alert, from its category and signature.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> from swarmguard.records.alert import AlertInfo
    >>> a = Alert(ts=datetime(2026, 1, 1, tzinfo=UTC), src_ip="10.0.0.9", detector="rules",
    ...           score=0.9, alert=AlertInfo(signature_id=1, signature="SSH brute force",
    ...                                      category="credential", severity=2))
    >>> ALERT_TYPES[alert_type(a)]
    'credential'
    """
    text = f"{alert.alert.category} {alert.alert.signature}".lower()
    for words, kind in _KEYWORDS:
        if any(w in text for w in words):
            return ALERT_TYPES.index(kind)
    return ALERT_TYPES.index("other")


class RlPolicy:
    """A trained defend/ network behind the ``Policy`` protocol (see the module docstring)."""

    name = "rl"

    def __init__(
        self, path: str | Path = "default", *, dry_run: bool = True, ttl_scale: float = 1.0
    ) -> None:
        folder = DEFAULT_POLICY if str(path) in ("", "default") else Path(path)
        self.net: DefenceNet
        self.net, self.manifest = load_net(folder)
        self.path = str(folder)
        self.dry_run = dry_run
        self.ttl_scale = ttl_scale
        self.ema: dict[str, np.ndarray] = {}

    def _features(
        self,
        hosts: list[str],
        counts: dict[str, np.ndarray],
        scores: dict[str, float],
        context: PolicyContext,
    ) -> np.ndarray:
        active = {(d.action, d.value) for d in context.active}
        f = np.zeros((len(hosts), N_FEATURES), dtype=np.float32)
        for i, h in enumerate(hosts):
            c = counts.get(h, np.zeros(len(ALERT_TYPES)))
            ema = 0.7 * self.ema.get(h, np.zeros(len(ALERT_TYPES))) + c
            self.ema[h] = ema
            f[i, 0:8] = np.minimum(c, 3) / 3
            f[i, 8:16] = np.minimum(ema, 3) / 3
            if scores.get(h, 0.0) >= 0.8:
                f[i, 16] = 1.0
            f[i, 19] = float(("block", h) in active)
            f[i, 20] = float(("quarantine", h) in active)
            f[i, 24] = 0.5 if context.is_local(h) else 0.1
            f[i, 26] = 1.0  # OS unknown live: the commonest server OS
            f[i, 28] = 1.0
            f[i, 30] = 1.0
        return f

    def decide(self, alerts: Sequence[Alert], context: PolicyContext) -> list[Decision]:
        """Map a batch of alerts (and the hosts' state) to decisions with TTLs."""
        counts: dict[str, np.ndarray] = {}
        scores: dict[str, float] = {}
        by_host: dict[str, list[Alert]] = {}
        for a in alerts:
            host = a.attacker_ip()  # the actor; a local actor is a compromised host
            if not host:
                continue  # no source, or an aggregate alert (many senders to one target)
            counts.setdefault(host, np.zeros(len(ALERT_TYPES)))[alert_type(a)] += 1
            scores[host] = max(scores.get(host, 0.0), a.score)
            by_host.setdefault(host, []).append(a)
        hosts = sorted(by_host)
        if not hosts:
            return []
        feats = self._features(hosts, counts, scores, context)
        pad = (-len(hosts)) % H_MAX
        x = np.concatenate([feats, np.zeros((pad, N_FEATURES), dtype=np.float32)])
        zones = x.shape[0] // H_MAX
        with torch.no_grad():
            logits, _ = self.net(torch.as_tensor(x.reshape(1, -1)), zones=zones)
        lg = logits[0].numpy()
        noop = float(lg[0])
        host_logits = lg[1 : 1 + zones * H_MAX * N_HOST_ACT].reshape(-1, N_HOST_ACT)
        probs = torch.softmax(logits[0], 0).numpy()
        decisions = []
        active = {(d.action, d.value) for d in context.active}
        for i, host in enumerate(hosts):
            best = int(host_logits[i].argmax())
            if host_logits[i, best] <= noop:
                continue
            act = HOST_ACTIONS[best]
            action: Action
            scope: Scope = "ip"
            ttl = _TTL
            local = context.is_local(host)
            if act in ("analyse", "decoy") or (act == "remove" and local):
                action = "notify"  # no live enforcer kills processes: ask a human
            elif act in ("isolate", "restore") and local:
                action, scope = "quarantine", "host"
            else:
                action = "block"
                if act == "remove":  # cut an outside actor's sessions: a short block
                    ttl = _SHORT
            if (action, host) in active or not _is_ip(host):
                continue
            repeat = context.offences.get(host, 0)
            group = by_host[host]
            decisions.append(
                Decision(
                    ts=context.now,
                    action=action,
                    scope=scope,
                    value=host,
                    ttl_s=ttl[action] * self.ttl_scale * (1 + repeat),
                    origin=context.origin,
                    policy=self.name,
                    reason=DecisionReason(
                        alert_uids=[a.uid for a in group][:50],
                        detector=",".join(sorted({a.detector for a in group})),
                        category=group[0].alert.category,
                        summary=f"rl chose {act} on {host} after {len(group)} alert(s)",
                    ),
                    confidence=float(min(1.0, max(0.0, probs[1 + i * N_HOST_ACT + best] * 10))),
                    simulated=self.dry_run,
                )
            )
        return decisions


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
