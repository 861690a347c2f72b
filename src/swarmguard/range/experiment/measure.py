"""Join ground truth to captures, alerts and enforcements: one row of Table 1.

An attempt's flows are the captured flows between its source and its target (either direction)
from just before its start to a grace period after its end; its first packet is the earliest of
them (the ground truth's own ``first_packet_ts`` only when the capture holds none, and the row
says so). It is detected when an alert names its source and target in that window, and
enforced when a live, stopping decision covering its source (a quarantine covering either end)
was applied after its first packet. Response time is enforcement minus first packet; detection
to enforcement is enforcement minus the moment the enforcing agent's detector raised the alert
behind it (its ``detected_at``; the first matching alert's time otherwise); attempts before the
block are its flows that began before enforcement. Flows of no attempt are benign; a benign flow
is alerted when an alert that matches no attempt names its endpoints during the flow.

Example
-------
>>> import numpy as np
>>> from swarmguard.range.experiment.artifacts import Attempt, AlertEvent, Enforcement, FlowIndex
>>> a = Attempt("a1", "ssh guessing", "hydra-ssh", "brute_force", "10.0.9.5", "10.0.1.2", 22,
...             "dmz", ts_start=100.0, ts_end=120.0)
>>> f = FlowIndex(ts=np.array([100.5, 101.0, 103.0, 50.0]), end=np.array([101, 102, 104, 51.]),
...     src=np.array(["10.0.9.5"] * 3 + ["10.0.1.7"]), dst=np.array(["10.0.1.2"] * 4),
...     sport=np.array([1, 2, 3, 4]), dport=np.array([22, 22, 22, 80]),
...     proto=np.array(["tcp"] * 4), zone=np.array(["dmz"] * 4))
>>> alerts = [AlertEvent(101.2, "10.0.9.5", "10.0.1.2", "brute_force", "rules")]
>>> blocks = [Enforcement(101.7, "block", "ip", "10.0.9.5", 600.0, "agent:dmz")]
>>> row = measure_row("rules", [a], f, alerts, blocks, [])
>>> row["detection_rate"], round(row["response_ms_p50"]), round(row["detect_to_enforce_ms_p50"])
(1.0, 1200, 500)
>>> row["attempts_before_block_median"], row["false_alarm_rate"]
(2.0, 0.0)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from swarmguard.range.experiment.artifacts import (
    AlertEvent,
    Attempt,
    BenignRequest,
    Enforcement,
    Fail2banEvent,
    FlowIndex,
)

__all__ = [
    "Windows",
    "attempt_mask",
    "fail2ban_row",
    "is_ssh_guessing",
    "measure_row",
    "percentile",
]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Windows:
    """Slack around an attempt.

    ``pre_s`` before its start, ``grace_s`` after its end for its flows and ``alert_grace_s``
    for alerts and enforcement (detectors on metered flows speak only when a flow is cut).
    """

    pre_s: float = 1.0
    grace_s: float = 5.0
    alert_grace_s: float = 20.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear), or None for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([], 95)
    (2.5, None)
    """
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _member(values: npt.NDArray[np.str_], text: str) -> BoolArray:
    """Which addresses lie in ``text`` (an address or a network; empty text: all)."""
    net = _net(text)
    if net is None:
        return np.ones(values.size, dtype=bool)
    if net.num_addresses == 1:
        return np.asarray(values == str(net.network_address))
    uniq, inverse = np.unique(values, return_inverse=True)
    hit = np.array([_in(u, net) for u in uniq], dtype=bool)
    return hit[inverse] if uniq.size else np.zeros(values.size, dtype=bool)


def _in(ip: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(ip) in net
    except ValueError:
        return False


def _covers(value: str, ip: str) -> bool:
    net = _net(value)
    return net is not None and _in(ip, net)


def attempt_mask(
    ts: npt.NDArray[np.float64],
    src: npt.NDArray[np.str_],
    dst: npt.NDArray[np.str_],
    a: Attempt,
    w: Windows,
) -> BoolArray:
    """Which flows (first-packet times, originators, responders) belong to attempt ``a``."""
    when = (ts >= a.ts_start - w.pre_s) & (ts <= a.ts_end + w.grace_s)
    out = (src == a.src_ip) & _member(dst, a.dst_ip)
    back = (dst == a.src_ip) & _member(src, a.dst_ip)
    return np.asarray(when & (out | back))


def _flows_of(flows: FlowIndex, a: Attempt, w: Windows) -> BoolArray:
    return attempt_mask(flows.ts, flows.src, flows.dst, a, w)


def _alert_matches(al: AlertEvent, a: Attempt, w: Windows) -> bool:
    if not a.ts_start - w.pre_s <= al.ts <= a.ts_end + w.alert_grace_s:
        return False
    if al.src_ip == a.src_ip:
        peer = al.dest_ip
    elif al.dest_ip == a.src_ip:
        peer = al.src_ip
    else:
        return False
    return peer is None or not a.dst_ip or _covers(a.dst_ip, peer) or peer == a.dst_ip


def _stops(e: Enforcement, a: Attempt) -> bool:
    if _covers(e.value, a.src_ip):
        return True
    return e.action == "quarantine" and bool(a.dst_ip) and _covers(e.value, a.dst_ip)


def is_ssh_guessing(a: Attempt) -> bool:
    """SSH password guessing: fail2ban's part of the table.

    >>> is_ssh_guessing(Attempt("1", "ssh", "hydra-ssh", "brute_force", "a", "b", 22, "z", 0, 1))
    True
    """
    return a.tool.startswith("hydra-ssh") or (a.category == "brute_force" and a.dst_port == 22)


def _benign_alerted(
    flows: FlowIndex, benign: BoolArray, false_alerts: list[AlertEvent], w: Windows
) -> int:
    hit = np.zeros(len(flows), dtype=bool)
    for al in false_alerts:
        if al.dest_ip is None:
            ends = (flows.src == al.src_ip) | (flows.dst == al.src_ip)
        else:
            ends = ((flows.src == al.src_ip) & (flows.dst == al.dest_ip)) | (
                (flows.src == al.dest_ip) & (flows.dst == al.src_ip)
            )
        during = (flows.ts - w.pre_s <= al.ts) & (al.ts <= flows.end + w.alert_grace_s)
        hit |= benign & ends & during
    return int(hit.sum())


def measure_row(
    name: str,
    attempts: Sequence[Attempt],
    flows: FlowIndex,
    alerts: Sequence[AlertEvent],
    enforcements: Sequence[Enforcement],
    benign_requests: Sequence[BenignRequest],
    *,
    window: tuple[float, float] | None = None,
    windows: Windows | None = None,
    all_attempts: Sequence[Attempt] | None = None,
) -> dict[str, Any]:
    """Every figure of one configuration's row (see the module docstring).

    ``all_attempts`` (default: ``attempts``) decides which flows are benign, for a row judged
    on some attempts only.
    """
    w = windows or Windows()
    attack_flows = np.zeros(len(flows), dtype=bool)
    for a in all_attempts or ():
        attack_flows |= _flows_of(flows, a, w)
    matched: set[int] = set()
    per_attempt: list[dict[str, Any]] = []
    for a in attempts:
        fmask = _flows_of(flows, a, w)
        attack_flows |= fmask
        hits = [i for i, al in enumerate(alerts) if _alert_matches(al, a, w)]
        matched.update(hits)
        if fmask.any():
            first_pkt: float | None = float(flows.ts[fmask].min())
            first_src = "capture"
        else:
            first_pkt, first_src = a.first_packet_ts, "ground truth" if a.first_packet_ts else ""
        start = first_pkt if first_pkt is not None else a.ts_start
        first_alert = min((alerts[i].ts for i in hits), default=None)
        covering = [e for e in enforcements if _stops(e, a)]
        before = any(e.ts < start - w.pre_s and e.ts + e.ttl_s > start for e in covering)
        live = [e for e in covering if start - w.pre_s <= e.ts <= a.ts_end + w.alert_grace_s]
        enf = None if before or not live else live[0]
        rec: dict[str, Any] = {
            "attempt_id": a.attempt_id,
            "attack": a.attack,
            "category": a.category,
            "src_ip": a.src_ip,
            "dst_ip": a.dst_ip,
            "ts_start": a.ts_start,
            "ts_end": a.ts_end,
            "flows": int(fmask.sum()),
            "first_packet_ts": first_pkt,
            "first_packet_from": first_src,
            "detected": bool(hits),
            "first_alert_ts": first_alert,
            "blocked_before_start": before,
            "enforced_ts": enf.ts if enf else None,
            "enforced_by": enf.sensor if enf else None,
            "response_ms": None,
            "detect_to_enforce_ms": None,
            "attempts_before_block": None,
        }
        if enf is not None and first_pkt is not None:
            rec["response_ms"] = max(0.0, (enf.ts - first_pkt) * 1000.0)
            rec["attempts_before_block"] = int((fmask & (flows.ts < enf.ts)).sum())
        if enf is not None:
            # the agent stamps when its detector's alert reached the policy; a flow alert's
            # own ts is the flow's first packet, so it is the fallback (fail2ban: Found)
            detected = enf.detected_at if enf.detected_at is not None else first_alert
            if detected is not None and enf.ts >= detected:
                rec["detect_to_enforce_ms"] = (enf.ts - detected) * 1000.0
        per_attempt.append(rec)

    benign = ~attack_flows
    if window is not None:
        benign &= (flows.ts >= window[0]) & (flows.ts <= window[1])
    false_alerts = [al for i, al in enumerate(alerts) if i not in matched]
    n_benign = int(benign.sum())
    alerted = _benign_alerted(flows, benign, false_alerts, w)
    reqs = [r for r in benign_requests if window is None or window[0] <= r.ts <= window[1]]
    response = [r["response_ms"] for r in per_attempt if r["response_ms"] is not None]
    d2e = [r["detect_to_enforce_ms"] for r in per_attempt if r["detect_to_enforce_ms"] is not None]
    through = [
        float(r["attempts_before_block"])
        for r in per_attempt
        if r["attempts_before_block"] is not None
    ]
    detected = sum(1 for r in per_attempt if r["detected"])
    per_attack: dict[str, dict[str, Any]] = {}
    for r in per_attempt:
        s = per_attack.setdefault(
            r["attack"], {"category": r["category"], "attempts": 0, "detected": 0}
        )
        s["attempts"] += 1
        s["detected"] += int(r["detected"])
    for s in per_attack.values():
        s["detection_rate"] = s["detected"] / s["attempts"]
    return {
        "name": name,
        "detection_rate": detected / len(per_attempt) if per_attempt else None,
        "false_alarm_rate": alerted / n_benign if n_benign else 0.0,
        "response_ms_p50": percentile(response, 50),
        "response_ms_p95": percentile(response, 95),
        "detect_to_enforce_ms_p50": percentile(d2e, 50),
        "attempts_before_block_median": percentile(through, 50),
        "benign_requests_failed": sum(1 for r in reqs if not r.ok),
        "benign_requests": len(reqs),
        "attempts": len(per_attempt),
        "detected": detected,
        "enforced": len(response),
        "blocked_before_start": sum(1 for r in per_attempt if r["blocked_before_start"]),
        "benign_flows": n_benign,
        "benign_flows_alerted": alerted,
        "false_alerts": len(false_alerts),
        "alerts": len(alerts),
        "per_attack": per_attack,
        "per_attempt": per_attempt,
        "response_ms": response,
    }


def fail2ban_row(
    name: str,
    attempts: Sequence[Attempt],
    flows: FlowIndex,
    events: Sequence[Fail2banEvent],
    benign_requests: Sequence[BenignRequest],
    *,
    window: tuple[float, float] | None = None,
    windows: Windows | None = None,
    watched: set[str] | None = None,
) -> dict[str, Any]:
    """fail2ban's row: its ``Found`` lines are its alerts, its ``Ban`` lines its enforcement.

    It is judged on the SSH guessing attempts only (the one attack it is set up for) against
    the servers it ``watched`` (addresses; default all), and on every benign flow for false
    alarms, like the other rows.
    """
    alerts = [
        AlertEvent(e.ts, e.ip, None, "brute_force", "fail2ban") for e in events if e.kind == "found"
    ]
    bans = [
        Enforcement(e.ts, "block", "ip", e.ip, 1e9, f"fail2ban:{e.jail}")
        for e in events
        if e.kind == "ban"
    ]
    ssh = [a for a in attempts if is_ssh_guessing(a) and (watched is None or a.dst_ip in watched)]
    return measure_row(
        name,
        ssh,
        flows,
        alerts,
        bans,
        benign_requests,
        window=window,
        windows=windows,
        all_attempts=attempts,
    )
