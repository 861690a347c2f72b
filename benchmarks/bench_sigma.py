"""Sigma and UEBA figures (issue 7): throughput, memory, coverage on the shared samples.

Prints, with the command ``python benchmarks/bench_sigma.py``:

1. rule loading: files, loaded, skipped per reason, seconds (rules/, rules-emerging-threats/,
   rules-threat-hunting/);
2. events/s through the SigmaHQ Windows rules on the EVTX samples (datasets/logs/evtx), for
   the indexed matcher and the every-rule-on-every-event baseline (the evaluator choice), and
   peak memory (tracemalloc) of engine + events;
3. per tactic folder: share of sample .evtx files with at least one alert, ATT&CK techniques
   named by the rules that fired;
4. loghub OpenSSH and Linux: brute-forcing sources flagged by ``ueba`` against labels derived
   from the whole log (a source is labelled brute-forcing when it has at least 5 failed
   attempts and tried at least 2 user names, or at least 20 failed attempts, over the file;
   attempts counted as ``ueba.failed_attempts`` does).
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from swarmguard.acquire.logs import read_logs  # noqa: E402
from swarmguard.detect.sigma import SigmaEngine, load_rules  # noqa: E402
from swarmguard.detect.sigma.fields import event_view  # noqa: E402
from swarmguard.detect.ueba import UebaDetector, failed_attempts  # noqa: E402
from swarmguard.records.log import LogEvent  # noqa: E402
from swarmguard.shared_data import shared_dir  # noqa: E402

SHARED = shared_dir()
SIGMA = SHARED / "sigma"
EVTX = SHARED / "datasets" / "logs" / "evtx"
LOGHUB = SHARED / "datasets" / "logs" / "loghub"


def load_all(show: bool = True) -> SigmaEngine:
    rules = []
    total = Counter[str]()
    files = 0
    start = time.perf_counter()
    for name in ("rules", "rules-emerging-threats", "rules-threat-hunting"):
        files += sum(1 for _ in (SIGMA / name).rglob("*.yml"))
        loaded, report = load_rules(SIGMA / name, skip_unsupported=True)
        rules.extend(loaded)
        total.update(report.skipped)
    took = time.perf_counter() - start
    if show:
        print(f"rules: {files} files, {len(rules)} loaded, skipped {dict(total)}, {took:.1f} s")
    return SigmaEngine(rules)


def throughput(engine: SigmaEngine, events: list[LogEvent]) -> None:
    """Best of 5 interleaved runs (the CPU is shared; the best run is the least disturbed)."""
    windows = SigmaEngine([r for r in engine.rules if r.product == "windows"])
    engines = {
        "logsource index + anchors": windows,
        "logsource index only": SigmaEngine(windows.rules, anchored=False),
        "every rule on every event": SigmaEngine(windows.rules, indexed=False, anchored=False),
    }
    anchored = sum(r.anchors is not None for r in windows.rules)
    print(f"windows rules: {len(windows.rules)} ({anchored} anchored); events: {len(events)}")
    views = [event_view(e) for e in events]
    best_view = float("inf")
    best: dict[str, float] = dict.fromkeys(engines, float("inf"))
    hits: dict[str, int] = {}
    for _ in range(5):
        start = time.perf_counter()
        views = [event_view(e) for e in events]
        best_view = min(best_view, time.perf_counter() - start)
        for label, eng in engines.items():
            start = time.perf_counter()
            hits[label] = sum(len(eng.match_view(v)) for v in views)
            best[label] = min(best[label], time.perf_counter() - start)
    print(f"  field views (JSON parse) alone: {len(events) / best_view:9.0f} events/s")
    for label, took in best.items():
        total = took + best_view
        print(
            f"  {label:26s}: matching {len(events) / took:7.0f} events/s, "
            f"end to end {len(events) / total:7.0f} events/s ({hits[label]} hits)"
        )


def coverage(engine: SigmaEngine, events: list[LogEvent]) -> None:
    by_file: dict[tuple[str, str], list[LogEvent]] = defaultdict(list)
    for e in events:
        origin = e.origin_file or "?"
        by_file[(origin.split("/")[0], origin)].append(e)
    per_tactic: dict[str, list[bool]] = defaultdict(list)
    techniques: dict[str, Counter[str]] = defaultdict(Counter)
    for (tactic, _), evs in sorted(by_file.items()):
        hits = engine.match(evs)
        per_tactic[tactic].append(bool(hits))
        for h in hits:
            techniques[tactic].update(set(h.rule.techniques))
    for tactic, flags in per_tactic.items():
        share = sum(flags) / len(flags)
        named = ", ".join(t for t, _ in techniques[tactic].most_common())
        print(
            f"  {tactic}: {sum(flags)}/{len(flags)} files alert ({share:.0%}); techniques: {named}"
        )


def brute_force() -> None:
    for path in (LOGHUB / "OpenSSH" / "OpenSSH_2k.log", LOGHUB / "Linux" / "Linux_2k.log"):
        events = read_logs(path, "auth")
        fails: Counter[str] = Counter()
        users: dict[str, set[str]] = defaultdict(set)
        for e in failed_attempts(events):
            fails[str(e.src_ip)] += 1
            if e.user:
                users[str(e.src_ip)].add(e.user)
        labels = {ip for ip, n in fails.items() if (n >= 5 and len(users[ip]) >= 2) or n >= 20}
        flagged = set(UebaDetector().flag_sources(events))
        tp = len(flagged & labels)
        print(
            f"  {path.name}: {len(events)} lines, {len(fails)} failing sources, "
            f"{len(labels)} labelled brute-forcing, {len(flagged)} flagged, tp {tp}, "
            f"precision {tp / max(len(flagged), 1):.2f}, recall {tp / max(len(labels), 1):.2f}"
        )
        missed = sorted(labels - flagged)[:5]
        extra = sorted(flagged - labels)[:5]
        print(f"    missed {missed} flagged-unlabelled {extra}")


def main() -> None:
    engine = load_all()
    tracemalloc.start()  # memory on a second load: tracemalloc slows loading several-fold
    kept = load_all(show=False)
    after_rules, _ = tracemalloc.get_traced_memory()
    events = [e for f in sorted(EVTX.glob("*.jsonl.gz")) for e in read_logs(f)]
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"memory: rules {after_rules / 2**20:.0f} MiB after loading; with "
        f"{len(events)} events {current / 2**20:.0f} MiB (peak {peak / 2**20:.0f} MiB); "
        f"{len(kept.rules)} rules held"
    )
    throughput(engine, events)
    print("EVTX-ATTACK-SAMPLES coverage (all shipped rules):")
    coverage(engine, events)
    print("loghub brute force (ueba failure bursts, 10 in 60 s):")
    brute_force()


if __name__ == "__main__":
    main()
