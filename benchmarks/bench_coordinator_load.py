"""Coordinator load: ten simulated agents sending 5,000 alerts/s in total to one coordinator.

Starts ``swarmguard coordinator serve`` (uvicorn) in a subprocess on 127.0.0.1 with a fresh
SQLite store, then runs ``--agents`` asyncio agents (httpx), each sending a batch every
``--batch-ms`` so that together they send ``--rate`` alerts/s for ``--seconds``. A batch that
fails is sent again (at-least-once, as the real agent does). At the end it checks in the store
that every alert arrived exactly once, and prints the sustained rate, p50/p99 intake latency
(client-side, one batch request), the lost count and the machine, then one JSON line. Exits 1
when an alert was lost or duplicated, or the sustained rate fell under 95 % of ``--rate``.

    .venv/bin/python benchmarks/bench_coordinator_load.py [--seconds 60] [--rate 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench_enforce import _cpu  # one CPU-model helper for every benchmark that quotes a machine
from swarmguard.coordinator.store import AlertStore

ADMIN = "bench-admin-token"
MIN_RATE_SHARE = 0.95  # exit 1 when the sustained rate is under this share of --rate


@dataclass
class AgentStats:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0
    latencies: list[float] = field(default_factory=list)
    uids: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def template(agent: str) -> dict[str, Any]:
    return {
        "sensor_id": agent,
        "src_ip": "203.0.113.7",
        "src_port": 40000,
        "dest_ip": "198.51.100.10",
        "dest_port": 22,
        "proto": "TCP",
        "alert": {
            "signature_id": 2001,
            "signature": "ssh brute force",
            "category": "brute_force",
            "severity": 2,
        },
        "detector": "rules",
        "score": 0.9,
    }


async def run_agent(
    url: str,
    agent: str,
    token: str,
    *,
    rate: float,
    total: int,
    interval: float,
    start: float,
    max_batch: int,
) -> AgentStats:
    """Alerts fall due at ``rate``/s from ``start``; every ``interval`` send all that are due.

    A slow coordinator makes batches bigger (up to ``max_batch``), never drops alerts.
    """
    stats = AgentStats()
    base = template(agent)
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        r = await client.post("/api/v1/agents/register", json={"agent_id": agent})
        r.raise_for_status()
        seq = 0
        tick = start
        while seq < total:
            tick += interval
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
            due = min(total, int((time.monotonic() - start) * rate))
            count = min(due - seq, max_batch)
            if count <= 0:
                continue
            now = datetime.now(UTC).isoformat()
            alerts = []
            for _ in range(count):
                uid = f"{agent}-{seq}"
                seq += 1
                alerts.append({**base, "ts": now, "uid": uid, "src_port": 1024 + seq % 60000})
                stats.uids.append(uid)
            body = json.dumps({"batch_id": f"{agent}-b{seq}", "alerts": alerts}).encode()
            while True:  # at-least-once: resend until acknowledged
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/v1/alerts", content=body)
                    r.raise_for_status()
                except httpx.HTTPError:
                    stats.retries += 1
                    await asyncio.sleep(0.05)
                    continue
                stats.latencies.append(time.perf_counter() - t0)
                reply = r.json()
                stats.accepted += reply["accepted"]
                stats.duplicates += reply["duplicates"]
                break
            stats.sent += count
            tick = max(tick, time.monotonic() - interval)
    return stats


async def drive(
    url: str, tokens: dict[str, str], args: argparse.Namespace
) -> tuple[list[AgentStats], float]:
    per_agent = args.rate / len(tokens)
    total = int(per_agent * args.seconds)
    start = time.monotonic() + 0.5  # after every agent registered
    results = await asyncio.gather(
        *(
            run_agent(
                url,
                agent,
                token,
                rate=per_agent,
                total=total,
                interval=args.batch_ms / 1000.0,
                start=start,
                max_batch=1000,
            )
            for agent, token in tokens.items()
        )
    )
    return list(results), time.monotonic() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the agents send")
    parser.add_argument("--rate", type=float, default=5000.0, help="alerts/s, all agents")
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--batch-ms", type=float, default=100.0, help="batch interval per agent")
    parser.add_argument(
        "--no-correlate", action="store_true", help="skip cross-agent correlation (on by default)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sg-bench-coord-") as tmp:
        db = Path(tmp) / "coordinator.db"
        tokens = {f"agent{i:02d}": f"bench-token-{i:02d}" for i in range(args.agents)}
        tokens_file = Path(tmp) / "tokens.json"
        tokens_file.write_text(json.dumps(tokens), encoding="utf-8")
        port = free_port()
        cmd = [sys.executable, "-m", "swarmguard.cli.coordinator_serve", "--port", str(port),
               "--db", str(db), "--tokens", str(tokens_file),
               "--no-correlate" if args.no_correlate else "--correlate"]  # fmt: skip
        env = {**os.environ, "SWARMGUARD_ADMIN_TOKEN": ADMIN}
        server = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        sys.exit("the coordinator did not start")
                    time.sleep(0.2)
            results, elapsed = asyncio.run(drive(url, tokens, args))
            metrics = httpx.get(f"{url}/metrics", timeout=10).text
        finally:
            server.terminate()
            server.wait(timeout=30)
        store = AlertStore(f"sqlite:///{db}")
        stored = store.alert_uids()
        count = store.alert_count()
        store.close()

    expected = {u for r in results for u in r.uids}
    sent = sum(r.sent for r in results)
    accepted = sum(r.accepted for r in results)
    latencies = [x for r in results for x in r.latencies]
    lost = len(expected - stored)
    extra = count - len(expected & stored)
    server_sum = server_count = 0.0
    for line in metrics.splitlines():
        if line.startswith("swarmguard_intake_seconds_sum"):
            server_sum = float(line.split()[-1])
        elif line.startswith("swarmguard_intake_seconds_count"):
            server_count = float(line.split()[-1])
    report = {
        "agents": args.agents,
        "target_rate": args.rate,
        "seconds": round(elapsed, 2),
        "alerts_sent": sent,
        "alerts_stored": count,
        "alerts_lost": lost,
        "alerts_duplicated": extra,
        "sustained_rate": round(accepted / elapsed, 1),
        "batches": len(latencies),
        "retries": sum(r.retries for r in results),
        "intake_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "intake_ms_p99": round(percentile(latencies, 0.99) * 1000, 2),
        "intake_ms_max": round(max(latencies) * 1000, 2),
        "server_ms_mean": round(server_sum / server_count * 1000, 2) if server_count else None,
        "correlation": not args.no_correlate,
        "cpus": os.cpu_count(),
        "machine": f"{_cpu()}, {os.cpu_count()} CPUs, Linux {platform.release()}",
    }
    slow = report["sustained_rate"] < MIN_RATE_SHARE * args.rate
    print(
        f"{args.agents} agents, {sent} alerts in {elapsed:.1f} s: sustained "
        f"{report['sustained_rate']:.0f} alerts/s (target {args.rate:.0f}); intake latency "
        f"p50 {report['intake_ms_p50']} ms, p99 {report['intake_ms_p99']} ms per batch; "
        f"lost {lost}, duplicated {extra}, retries {report['retries']}"
    )
    print(json.dumps(report))
    if slow:
        print(
            f"sustained rate {report['sustained_rate']:.0f} alerts/s is under "
            f"{MIN_RATE_SHARE:.0%} of the target {args.rate:.0f}",
            file=sys.stderr,
        )
    if lost or extra or slow:
        sys.exit(1)


if __name__ == "__main__":
    main()
