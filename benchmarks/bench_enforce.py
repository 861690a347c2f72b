"""Detect-to-enforce latency: an Alert handed to the playbook, through the safety rails and the
nftables enforcer, until the kernel has confirmed its element live in the set.

The enforcer's transaction asks the kernel to echo what it created (NLM_F_ECHO), so "applied"
means the kernel itself reported the element; every decision is then looked up once more with
``get element`` (also timed, reported as ``with_lookup``) and counted a failure if missing.

Runs in a throwaway network namespace (needs root), N decisions per backend (libnftables through a
worker inside the namespace, and the ``nft`` CLI), each on a distinct source address so every one
is a new kernel element, recorded in a real SQLite ledger (WAL). Prints p50/p99/max per backend
and, last, one JSON line.

    sudo .venv/bin/python benchmarks/bench_enforce.py [--n 1000] [--backends lib,cli]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.respond.base import PolicyContext
from swarmguard.respond.enforcers.nftables import NftablesEnforcer
from swarmguard.respond.ledger import DecisionLedger
from swarmguard.respond.playbook import PlaybookPolicy
from swarmguard.respond.rails import RailsConfig, SafetyRails

TARGET_P99_MS = 10.0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def run_backend(backend: str, n: int, netns: str, workdir: Path) -> dict[str, float | int | str]:
    ledger = DecisionLedger(workdir / f"ledger-{backend}.db")
    enforcer = NftablesEnforcer(netns=netns, backend=backend, table=f"sgbench_{backend}")
    enforcer.start()
    rails = SafetyRails(ledger, [enforcer], config=RailsConfig(dry_run=False, max_active=n + 10))
    policy = PlaybookPolicy(dry_run=False)
    base = int(ipaddress.ip_address("10.220.128.0"))
    latencies: list[float] = []
    verified: list[float] = []
    failures = 0
    try:
        for i in range(n):
            src = str(ipaddress.ip_address(base + i))
            now = datetime.now(UTC)
            alert = Alert(
                ts=now,
                src_ip=src,
                src_port=40000,
                dest_ip="10.220.127.1",
                dest_port=22,
                proto="TCP",
                alert=AlertInfo(
                    signature_id=9300004,
                    signature="SWARMGUARD FLOW SSH brute force",
                    category="Attempted User Privilege Gain",
                    severity=1,
                ),
                detector="rules",
                score=1.0,
            )
            t0 = time.perf_counter()
            decisions = policy.decide([alert], PolicyContext(now=now, origin="agent:bench"))
            feedback = rails.submit_many(decisions)  # applied = the kernel echoed the element
            t1 = time.perf_counter()
            live = bool(decisions) and enforcer.contains(decisions[0])  # a second, separate look
            t2 = time.perf_counter()
            if not live or not feedback or not all(f.ok for f in feedback):
                failures += 1
                continue
            latencies.append((t1 - t0) * 1000.0)
            verified.append((t2 - t0) * 1000.0)
        in_kernel = len(enforcer.list())
    finally:
        enforcer.remove_table()
        enforcer.close()
        ledger.close()
    return {
        "backend": backend,
        "decisions": n,
        "failures": failures,
        "elements_in_kernel": in_kernel,
        "p50_ms": round(statistics.median(latencies), 3) if latencies else -1.0,
        "p99_ms": round(_pct(latencies, 99), 3) if latencies else -1.0,
        "max_ms": round(max(latencies), 3) if latencies else -1.0,
        "mean_ms": round(statistics.fmean(latencies), 3) if latencies else -1.0,
        "with_lookup_p50_ms": round(statistics.median(verified), 3) if verified else -1.0,
        "with_lookup_p99_ms": round(_pct(verified, 99), 3) if verified else -1.0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=1000, help="decisions per backend")
    ap.add_argument("--backends", default="lib,cli", help="comma-separated: lib, cli")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_enforce: needs root (network namespaces, nftables); skipped")
        return 0
    netns = f"sgr-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True, timeout=20)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="sgbench-") as tmp:
            for backend in args.backends.split(","):
                res = run_backend(backend.strip(), args.n, netns, Path(tmp))
                results.append(res)
                print(
                    f"{res['backend']:>4}: {res['decisions']} decisions, p50 {res['p50_ms']} ms,"
                    f" p99 {res['p99_ms']} ms, max {res['max_ms']} ms,"
                    f" failures {res['failures']}, in kernel {res['elements_in_kernel']};"
                    f" with a separate lookup p50 {res['with_lookup_p50_ms']} ms,"
                    f" p99 {res['with_lookup_p99_ms']} ms"
                )
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False, timeout=20)
    machine = f"{_cpu()}, {os.cpu_count()} CPUs, Linux {platform.release()}"
    print(f"machine: {machine}; target p99 < {TARGET_P99_MS} ms")
    summary = {"benchmark": "detect_to_enforce", "machine": machine, "results": results}
    print(json.dumps(summary))
    lib = [r for r in results if r["backend"] == "lib"]
    ok = all(r["failures"] == 0 for r in results)
    if lib and float(lib[0]["p99_ms"]) >= TARGET_P99_MS:
        print(f"bench_enforce: libnftables p99 {lib[0]['p99_ms']} ms >= {TARGET_P99_MS} ms")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
