"""Tiny synthetic range artifacts for the measurement tests (mechanics only, no quality claims)."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def tcp_frame(src: str, dst: str, sport: int, dport: int, flags: int = 0x02) -> bytes:
    """An Ethernet + IPv4 + TCP frame without payload."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 1024, 0, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(tcp),
        1,
        0,
        64,
        6,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    return bytes(6) + bytes(6) + b"\x08\x00" + ip + tcp


def write_pcap(path: Path, packets: Iterable[tuple[float, bytes]]) -> Path:
    """A classic little-endian microsecond pcap of ``(ts, frame)`` records."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ts, frame in packets:
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def attempt(
    attempt_id: str,
    tool: str,
    category: str,
    src: str,
    dst: str,
    port: int | None,
    start: float,
    end: float,
) -> dict[str, Any]:
    """A ground-truth record as the range writes it."""
    return {
        "attempt_id": attempt_id,
        "attack": tool,
        "tool": tool.split(":")[-1],
        "category": category,
        "src_ip": src,
        "dst_ip": dst,
        "dst_port": port,
        "zone": "servers",
        "ts_start": start,
        "ts_end": end,
        "first_packet_ts": None,
    }


def alert(
    ts: str, src: str, dst: str, category: str = "brute_force", uid: str = "a"
) -> dict[str, Any]:
    """An agent event line of type alert (the fields the join reads)."""
    return {
        "type": "alert",
        "ts": ts,
        "uid": uid,
        "sensor_id": "servers",
        "src_ip": src,
        "src_port": 40000,
        "dest_ip": dst,
        "dest_port": 22,
        "proto": "TCP",
        "alert": {"signature_id": 1, "signature": "x", "category": category, "severity": 2},
        "detector": "rules",
        "score": 1.0,
    }


def decision(
    uid: str,
    value: str,
    enforced_at: float,
    *,
    action: str = "block",
    simulated: bool = False,
    applied: bool = True,
) -> dict[str, Any]:
    """An agent event line of type decision."""
    return {
        "type": "decision",
        "uid": uid,
        "ts": "2026-01-01T00:00:00Z",
        "action": action,
        "scope": "ip",
        "value": value,
        "ttl_s": 600.0,
        "origin": "agent:servers",
        "policy": "playbook",
        "simulated": simulated,
        "enforced_at": enforced_at,
        "detected_at": enforced_at - 0.01,
        "detect_to_enforce_ms": 10.0,
        "applied": ["nftables"] if applied else [],
    }
