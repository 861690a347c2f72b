"""Sandbox throughput: detonations per minute with 1, 2 and 4 sandboxes at once, and overhead.

Each setting runs ``--samples`` distinct copies of one small sample (one DNS lookup, one HTTP
request, one second of sleep: a sample's own run time of about 1 s) through ``run_sandbox`` on
one local Ray node with ``--parallel`` slots. Prints, per setting: detonations, seconds from
submission to the last result, detonations per minute, and the medians of the sample's own run
time, the node's overhead (namespaces, simulated internet, capture, teardown) and the analysis
(flows, alerts, files); plus Ray's start/stop cost (wall time minus detonation time). Needs
root.

    sudo .venv/bin/python benchmarks/bench_sandbox.py [--samples 8] [--parallel 1 2 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from swarmguard.sandbox.scheduler import SandboxConfig, run_sandbox

SAMPLE = """#!/bin/sh
# swarmguard-label: Bot
getent hosts bench{i}.example >/dev/null
curl -s -m 3 http://bench{i}.example/ping >/dev/null
sleep 1
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    print(
        f"{'parallel':>8} {'n':>3} {'det s':>7} {'det/min':>8} {'run s':>6} "
        f"{'overhead s':>10} {'analysis s':>10} {'ray s':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="sgs-bench-") as d:
        base = Path(d)
        for p in args.parallel:
            samples = []
            for i in range(args.samples):
                path = base / f"p{p}" / f"bench{i}.sh"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(SAMPLE.format(i=i))
                samples.append(path)
            cfg = SandboxConfig(
                samples=samples, out_dir=base / f"out{p}", nodes=1, parallel=p, timeout_s=30
            )
            run = run_sandbox(cfg)
            s = run["summary"]
            reports = [r for r in run["samples"] if r["status"] == "ok"]
            det_s = s["detonation_seconds"]

            def med(key: str, rows: list[dict[str, float]] = reports) -> float:
                return statistics.median(float(r[key]) for r in rows) if rows else float("nan")

            print(
                f"{p:>8} {s['completed']:>3} {det_s:>7.1f} {60 * s['completed'] / det_s:>8.1f} "
                f"{med('duration_s'):>6.2f} {med('overhead_s'):>10.2f} {med('analysis_s'):>10.2f} "
                f"{s['wall_seconds'] - det_s:>6.1f}"
            )


if __name__ == "__main__":
    main()
