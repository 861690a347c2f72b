"""Read what a range run left behind into small typed records the measurements join.

Ground truth (one JSON line per attack attempt), the benign users' request log, the agents'
events (alerts, decisions and feedback as JSON lines, or Suricata EVE alerts), fail2ban's log and
the zone captures (metered into flows by ``acquire.pcap.read_pcap``). Timestamps become float
seconds since the epoch, whatever shape they arrived in (epoch number, ISO 8601 text).

Example
-------
>>> epoch("2026-01-01T00:00:01Z"), epoch(1767225601.5)
(1767225601.0, 1767225601.5)
>>> line = "2026-01-01 00:00:05,250 fail2ban.actions [7]: NOTICE [sshd] Ban 10.200.9.10"
>>> [(e.kind, e.ip) for e in parse_fail2ban_lines([line])]
[('ban', '10.200.9.10')]
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from swarmguard.errors import InputError

__all__ = [
    "AlertEvent",
    "Attempt",
    "BenignRequest",
    "Enforcement",
    "Fail2banEvent",
    "FlowIndex",
    "epoch",
    "parse_fail2ban_lines",
    "read_benign_log",
    "read_events",
    "read_fail2ban_log",
    "read_flows",
    "read_ground_truth",
    "read_jsonl",
]

_log = logging.getLogger(__name__)

#: Actions that stop traffic (``notify`` and ``unblock`` do not).
STOPPING = frozenset({"block", "rate_limit", "quarantine"})


def epoch(value: Any) -> float:
    """Seconds since the epoch from a number or an ISO 8601 text (naive text is UTC)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            return float(text)
        except ValueError:
            pass
        stamp = datetime.fromisoformat(text)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    raise ValueError(f"not a timestamp: {value!r}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """JSON objects, one per line; a torn last line (a process killed mid-write) is skipped."""
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if no == len(lines):
                _log.warning("%s:%d: torn last line skipped", path, no)
                continue
            raise InputError(path, "not a JSON object", line=no) from None
        if isinstance(obj, dict):
            records.append(obj)
    return records


@dataclass(frozen=True)
class Attempt:
    """One scheduled attack as the range's ground truth logged it."""

    attempt_id: str
    attack: str
    tool: str
    category: str
    src_ip: str
    dst_ip: str
    dst_port: int | None
    zone: str
    ts_start: float
    ts_end: float
    first_packet_ts: float | None = None


def read_ground_truth(path: Path) -> list[Attempt]:
    """The attempts of a run, in start order; a record missing a key names the line."""
    attempts: list[Attempt] = []
    for no, r in enumerate(read_jsonl(path), 1):
        try:
            port = r.get("dst_port")
            first = r.get("first_packet_ts")
            attempts.append(
                Attempt(
                    attempt_id=str(r["attempt_id"]),
                    attack=str(r.get("attack") or r.get("tool") or "attack"),
                    tool=str(r.get("tool", "")),
                    category=str(r["category"]),
                    src_ip=str(r["src_ip"]),
                    dst_ip=str(r.get("dst_ip") or ""),
                    dst_port=int(port) if port not in (None, "") else None,
                    zone=str(r.get("zone", "")),
                    ts_start=epoch(r["ts_start"]),
                    ts_end=epoch(r.get("ts_end") or r["ts_start"]),
                    first_packet_ts=epoch(first) if first not in (None, "") else None,
                )
            )
        except (KeyError, ValueError) as exc:
            raise InputError(path, f"ground truth record {no}: bad or missing {exc}") from None
    return sorted(attempts, key=lambda a: a.ts_start)


@dataclass(frozen=True)
class BenignRequest:
    """One request of a benign user and whether it worked."""

    ts: float
    user: str
    zone: str
    kind: str
    target: str
    ok: bool
    error: str = ""


def read_benign_log(path: Path) -> list[BenignRequest]:
    """The benign users' requests (``{"ts","user","zone","kind","target","ok","error"}``)."""
    return [
        BenignRequest(
            ts=epoch(r["ts"]),
            user=str(r.get("user", "")),
            zone=str(r.get("zone", "")),
            kind=str(r.get("kind", "")),
            target=str(r.get("target", "")),
            ok=bool(r.get("ok")),
            error=str(r.get("error") or ""),
        )
        for r in read_jsonl(path)
        if "ts" in r
    ]


@dataclass(frozen=True)
class AlertEvent:
    """An alert reduced to what the join needs; ``dest_ip`` None matches any peer."""

    ts: float
    src_ip: str
    dest_ip: str | None
    category: str = ""
    detector: str = ""
    sensor: str = ""
    uid: str = ""


@dataclass(frozen=True)
class Enforcement:
    """A stopping decision that an enforcer made live, and when."""

    ts: float
    action: str
    scope: str
    value: str
    ttl_s: float
    sensor: str
    detected_at: float | None = None
    uid: str = ""
    policy: str = ""


def _alert(r: dict[str, Any], sensor: str) -> AlertEvent | None:
    if r.get("type") == "alert" or ("alert" in r and "detector" in r):
        info = r.get("alert") or {}
        return AlertEvent(
            ts=epoch(r["ts"]),
            src_ip=str(r["src_ip"]),
            dest_ip=str(r["dest_ip"]) if r.get("dest_ip") else None,
            category=str(info.get("category", "")),
            detector=str(r.get("detector", "")),
            sensor=str(r.get("sensor_id", sensor)),
            uid=str(r.get("uid", "")),
        )
    if r.get("event_type") == "alert":  # Suricata EVE
        info = r.get("alert") or {}
        return AlertEvent(
            ts=epoch(r["timestamp"]),
            src_ip=str(r["src_ip"]),
            dest_ip=str(r["dest_ip"]) if r.get("dest_ip") else None,
            category=str(info.get("category", "")),
            detector="eve",
            sensor=sensor,
        )
    return None


def read_events(
    paths: Iterable[Path], sensor: str = ""
) -> tuple[list[AlertEvent], list[Enforcement]]:
    """Alerts and live enforcements from agents' event files (or EVE alert files).

    A decision counts as enforced when it was not simulated, stops traffic, and an enforcer
    reported it applied: at the decision's ``enforced_at`` or the applied feedback's ``ts``,
    whichever is earlier.
    """
    alerts: list[AlertEvent] = []
    decisions: dict[str, dict[str, Any]] = {}
    applied_at: dict[str, float] = {}
    seen: set[tuple[str, float, str]] = set()
    for path in paths:
        for r in read_jsonl(path):
            kind = r.get("type")
            if kind == "decision":
                decisions.setdefault(str(r["uid"]), {**r, "_sensor": sensor or path.parent.name})
                if r.get("applied") and r.get("enforced_at") is not None:
                    uid = str(r["uid"])
                    t = epoch(r["enforced_at"])
                    applied_at[uid] = min(applied_at.get(uid, t), t)
            elif kind == "feedback":
                if r.get("status") == "applied":
                    uid = str(r["decision_uid"])
                    t = epoch(r["ts"])
                    applied_at[uid] = min(applied_at.get(uid, t), t)
            else:
                a = _alert(r, sensor or path.parent.name)
                if a is not None and (a.uid, a.ts, a.sensor) not in seen:
                    seen.add((a.uid, a.ts, a.sensor))
                    alerts.append(a)
    enforcements: list[Enforcement] = []
    for uid, d in decisions.items():
        if uid not in applied_at or d.get("simulated", True) or d.get("action") not in STOPPING:
            continue
        detected = d.get("detected_at")
        enforcements.append(
            Enforcement(
                ts=applied_at[uid],
                action=str(d["action"]),
                scope=str(d.get("scope", "ip")),
                value=str(d["value"]),
                ttl_s=float(d.get("ttl_s", 0.0)),
                sensor=str(d.get("origin") or d["_sensor"]),
                detected_at=epoch(detected) if detected is not None else None,
                uid=uid,
                policy=str(d.get("policy", "")),
            )
        )
    alerts.sort(key=lambda a: a.ts)
    enforcements.sort(key=lambda e: e.ts)
    return alerts, enforcements


@dataclass(frozen=True)
class Fail2banEvent:
    """One line of fail2ban's log that matters: a failure found, a ban or an unban."""

    ts: float
    kind: str  # found | ban | unban
    jail: str
    ip: str


_F2B = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)?)\s+fail2ban\.\w+\s*\[\d+\]:\s*\w+\s+"
    r"\[(?P<jail>[^\]]+)\]\s+(?P<what>Found|Ban|Unban|Restore Ban)\s+(?P<ip>[0-9a-fA-F.:]+)"
)


def parse_fail2ban_lines(lines: Iterable[str]) -> list[Fail2banEvent]:
    """Found / Ban / Unban events; fail2ban writes local time with milliseconds."""
    events: list[Fail2banEvent] = []
    for line in lines:
        m = _F2B.match(line.strip())
        if not m:
            continue
        stamp, _, ms = m["ts"].partition(",")
        ts = time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + (
            int(ms) / 10 ** len(ms) if ms else 0.0
        )
        kind = {"Found": "found", "Unban": "unban"}.get(m["what"], "ban")
        events.append(Fail2banEvent(ts=ts, kind=kind, jail=m["jail"], ip=m["ip"]))
    return events


def read_fail2ban_log(path: Path | None) -> list[Fail2banEvent]:
    """fail2ban's events from its log file (none when there is no file)."""
    if path is None or not path.exists():
        return []
    return parse_fail2ban_lines(path.read_text(encoding="utf-8", errors="replace").splitlines())


@dataclass
class FlowIndex:
    """The flows of all zone captures as arrays, each flow once.

    A flow crossing the router shows up in two zone captures; the copy seen later is dropped.
    """

    ts: npt.NDArray[np.float64]
    end: npt.NDArray[np.float64]
    src: npt.NDArray[np.str_]
    dst: npt.NDArray[np.str_]
    sport: npt.NDArray[np.int64]
    dport: npt.NDArray[np.int64]
    proto: npt.NDArray[np.str_]
    zone: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.ts.size)

    @classmethod
    def from_tables(cls, tables: dict[str, pa.Table], dedupe_s: float = 2.0) -> FlowIndex:
        """Build from flow tables per zone (the ``FLOW_SCHEMA`` columns)."""
        parts: list[dict[str, npt.NDArray[Any]]] = []
        for zone, t in tables.items():
            if t.num_rows == 0:
                continue
            ts = t.column("ts").cast(pa.int64()).to_numpy() / 1e6
            parts.append(
                {
                    "ts": ts,
                    "end": ts + t.column("duration_s").to_numpy(zero_copy_only=False),
                    "src": np.asarray(t.column("src_ip").to_pylist(), dtype=str),
                    "dst": np.asarray(t.column("dest_ip").to_pylist(), dtype=str),
                    "sport": t.column("src_port").to_numpy(zero_copy_only=False).astype(np.int64),
                    "dport": t.column("dest_port").to_numpy(zero_copy_only=False).astype(np.int64),
                    "proto": np.asarray(t.column("proto").to_pylist(), dtype=str),
                    "zone": np.full(t.num_rows, zone, dtype=object).astype(str),
                }
            )
        if not parts:
            e = np.zeros(0)
            s = np.zeros(0, dtype=str)
            n = np.zeros(0, dtype=np.int64)
            return cls(e, e.copy(), s, s.copy(), n, n.copy(), s.copy(), s.copy())
        cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.argsort(cols["ts"], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        keep = np.ones(order.size, dtype=bool)
        last: dict[tuple[str, str, int, int, str], float] = {}
        for i in range(order.size):
            key = (
                str(cols["src"][i]),
                str(cols["dst"][i]),
                int(cols["sport"][i]),
                int(cols["dport"][i]),
                str(cols["proto"][i]),
            )
            t = float(cols["ts"][i])
            prev = last.get(key)
            if prev is not None and t - prev <= dedupe_s:
                keep[i] = False
            else:
                last[key] = t
        return cls(**{k: v[keep] for k, v in cols.items()})


def read_flows(captures: dict[str, Path]) -> FlowIndex:
    """Meter every zone capture into flows (missing or empty captures give no flows)."""
    from swarmguard.acquire.pcap import read_pcap

    tables: dict[str, pa.Table] = {}
    for zone, pcap in captures.items():
        if not pcap.exists() or pcap.stat().st_size <= 24:
            _log.warning("%s: no capture for zone %s", pcap, zone)
            continue
        tables[zone] = read_pcap(pcap, skip_bad=True)
    return FlowIndex.from_tables(tables)
