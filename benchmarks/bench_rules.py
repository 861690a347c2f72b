"""Rule engine throughput: packets/s on the StopDDoS SYN-flood capture, and peak memory.

Runs the shipped rule set, then 1,000 rules (the shipped set plus generated content rules in
the shape of public rule sets: ports, flow, a distinct content each), each with and without the
multi-pattern prefilter, and the same on the nmap capture (payloads, HTTP). Prints one line per
run: rules, packets, seconds, packets/s, alerts, peak Python memory of the engine (tracemalloc,
from a separate traced run; the decoded packets are held in memory beforehand and not counted)
and the process's maximum resident set size.

    .venv/bin/python benchmarks/bench_rules.py [--repeat N]   (default: best of 3)
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import tracemalloc
from pathlib import Path

from _paths import datasets_dir, synflood_pcap
from swarmguard.acquire.rawpackets import Packet, iter_packets
from swarmguard.cli.detect import default_rules_path
from swarmguard.detect.rules import EngineConfig, Rule, RuleEngine, parse_rules, parse_rules_text


def generated_rules(n: int, seed: int = 0) -> list[Rule]:
    """``n`` content rules shaped like public rule sets (not meant to match this traffic)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789/_-."
    lines = []
    for i in range(n):
        word = "".join(rng.choice(letters) for _ in range(rng.randint(6, 14)))
        port = rng.choice(["any", "80", "$HTTP_PORTS", "[21,22,23]", "1024:", "53"])
        proto = rng.choice(["tcp", "tcp", "udp"])
        flow = "flow:to_server,established; " if proto == "tcp" else ""
        lines.append(
            f'alert {proto} $EXTERNAL_NET any -> $HOME_NET {port} (msg:"GEN {i}"; {flow}'
            f'content:"{word}"; nocase; classtype:misc-activity; sid:{8_000_000 + i}; rev:1;)'
        )
    return parse_rules_text("\n".join(lines))


def run(rules: list[Rule], packets: list[Packet], *, prefilter: bool) -> tuple[float, int]:
    engine = RuleEngine(rules, EngineConfig(prefilter=prefilter))
    t0 = time.perf_counter()
    alerts = sum(1 for _ in engine.run(packets))
    return time.perf_counter() - t0, alerts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = ap.parse_args()
    shipped = parse_rules(default_rules_path())
    thousand = shipped + generated_rules(1000 - len(shipped))
    captures = {
        "synflood": synflood_pcap(),
        "nmap": datasets_dir() / "pcaps" / "esnet" / "nmap" / "nmap_80_all.pcap",
    }
    for name, path in captures.items():
        t0 = time.perf_counter()
        packets = list(iter_packets(Path(path)))
        decode_s = time.perf_counter() - t0
        print(
            f"{name}: {len(packets)} packets decoded in {decode_s:.2f} s "
            f"({len(packets) / decode_s:,.0f} packets/s)"
        )
        for label, rules in (("shipped", shipped), ("1000", thousand)):
            for prefilter in (True, False):
                best, alerts = min(
                    run(rules, packets, prefilter=prefilter) for _ in range(args.repeat)
                )
                peak = 0
                if prefilter:  # memory from a separate traced run (tracing slows Python down)
                    tracemalloc.start()
                    run(rules, packets, prefilter=prefilter)
                    _, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                pf = "on " if prefilter else "off"
                print(
                    f"  {label:>7} rules ({len(rules):4d}) prefilter={pf}"
                    f": {best:6.2f} s, {len(packets) / best:9,.0f} packets/s, {alerts} alerts, "
                    f"peak traced {peak / 2**20:.1f} MiB, max RSS {rss:.0f} MiB"
                )


if __name__ == "__main__":
    main()
