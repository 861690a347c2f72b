"""Measure the shipped defender and the rule baselines on every runnable CALDERA profile.

Usage: python benchmarks/bench_defend.py [--caldera DIR] [--episodes N] [--seed S] [--out FILE]
       [--jobs J]

``--caldera`` defaults to ``$SWARMGUARD_CALDERA``, else ``../shared/caldera/data`` beside the
repository; ``--out`` to ``defend-bench.json``. The same seeds, topologies and legitimate traffic
for every defender; profiles whose objective no attacker reaches (even with no defence) are
reported but left out of ``overall``. Prints Markdown tables (means with 95 % CIs).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from swarmguard.cli.defend import HELD_OUT, _defender, profile_notes
from swarmguard.defend.caldera import load_library, resolve
from swarmguard.defend.env import AttackProfile, compile_profile
from swarmguard.defend.measure import run_episodes, summarise

REPO = Path(__file__).resolve().parents[1]
DEFENDERS = (
    "default",
    "baseline:none",
    "baseline:restore-on-alert",
    "baseline:block-after-n",
    "baseline:analyse-remove",
)


def default_caldera() -> Path:
    """``$SWARMGUARD_CALDERA``, else the shared CALDERA data beside the repository."""
    env = os.environ.get("SWARMGUARD_CALDERA")
    return Path(env) if env else REPO.parent / "shared" / "caldera" / "data"


def _profiles(caldera: Path, seed: int, planner: str) -> list[tuple[AttackProfile, dict[str, Any]]]:
    lib = load_library(caldera)
    out = []
    for adv in sorted(lib.adversaries.values(), key=lambda a: a.name):
        r = resolve(adv, lib)
        if r.runnable:
            prof = compile_profile(r, lib)
            out.append((prof, profile_notes(r, prof, seed=seed, planner=planner)))
    return out


def measure(name: str, caldera: Path, episodes: int, seed: int, planner: str) -> dict[str, Any]:
    """Every profile against one defender; overall, trained and held-out summaries."""
    torch.set_num_threads(1)
    t0 = time.monotonic()
    profiles = _profiles(caldera, seed, planner)
    d = _defender(name)
    idle = run_episodes(d, profiles[0][0], episodes=episodes, seed=seed, idle=True)
    per: dict[str, Any] = {}
    seen: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for p, notes in profiles:
        stats = run_episodes(d, p, episodes=episodes, seed=seed, planner=planner)
        per[p.name] = {**summarise(stats, idle), **notes}
        if notes["objective_reachable"]:
            (held if p.name in HELD_OUT else seen).extend(stats)
    return {
        "adversaries": per,
        "overall": summarise(seen + held, idle),
        "trained_profiles": summarise(seen, idle),
        "held_out_profiles": summarise(held, idle),
        "excluded_unreachable": [p.name for p, n in profiles if not n["objective_reachable"]],
        "seconds": round(time.monotonic() - t0, 1),
    }


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _ci(lo_hi: list[float] | None) -> str:
    return "" if lo_hi is None else f" [{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]"


def _row(label: str, o: dict[str, Any]) -> str:
    ttd = _f(o["ttd_ticks_median"], 0)
    ttc = _f(o["ttc_ticks_median"], 0)
    return (
        f"| {label} | {o['reward_mean']:.2f} ± {o['reward_ci95']:.2f} "
        f"| {o['ops_stopped_before_objective']:.3f} ± {o['ops_stopped_ci95']:.3f} "
        f"| {_f(o['detection_rate'])}{_ci(o['detection_rate_ci95'])} "
        f"| {_f(o['false_response_precision'])}{_ci(o['false_response_precision_ci95'])} "
        f"| {_f(o['disruptive_precision'])} ({o['disruptive_actions']}) "
        f"| {_f(o['responses_per_100_ticks'], 2)} | {ttd} / {ttc} "
        f"| {o['idle_cost']:.2f} ± {o['idle_cost_ci95']:.2f} |"
    )


def table(result: dict[str, Any]) -> str:
    """The Markdown tables of a finished benchmark."""
    head = (
        "| defender | reward | ops stopped | detection rate | false-response precision "
        "| disruptive precision (actions) | responses / 100 ticks | TTD / TTC (ticks) "
        "| idle cost |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for name, r in result["defenders"].items():
        lines.append(_row(name, r["overall"]))
    if "default" in result["defenders"]:
        r = result["defenders"]["default"]
        lines.append(_row("default, trained profiles", r["trained_profiles"]))
        lines.append(_row("default, held-out profiles", r["held_out_profiles"]))
    names = list(result["defenders"])
    first = result["defenders"][names[0]]["adversaries"]
    lines += [
        "",
        "| profile | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for prof, row in first.items():
        tags = []
        if row["held_out_of_default_training"]:
            tags.append("held out")
        if row["stand_in_only"]:
            tags.append("stand-in steps only")
        if not row["objective_reachable"]:
            tags.append("objective unreachable, excluded")
        label = prof + (f" ({', '.join(tags)})" if tags else "")
        cells = []
        for n in names:
            a = result["defenders"][n]["adversaries"][prof]
            cells.append(
                f"{a['reward_mean']:.2f} ± {a['reward_ci95']:.2f} / "
                f"{a['ops_stopped_before_objective']:.3f}"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--caldera", type=Path, default=default_caldera())
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--planner", default="atomic")
    ap.add_argument("--defenders", default=",".join(DEFENDERS))
    ap.add_argument("--jobs", type=int, default=1, help="defenders measured in parallel")
    ap.add_argument("--out", type=Path, default=Path("defend-bench.json"))
    args = ap.parse_args()
    t0 = time.monotonic()
    names = args.defenders.split(",")
    result: dict[str, Any] = {
        "episodes": args.episodes,
        "seed": args.seed,
        "planner": args.planner,
        "caldera": str(args.caldera),
        "defenders": {},
    }
    job = (args.caldera, args.episodes, args.seed, args.planner)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = {n: pool.submit(measure, n, *job) for n in names}
            for n in names:
                result["defenders"][n] = futures[n].result()
                print(f"{n}: {result['defenders'][n]['seconds']} s", flush=True)
    else:
        for n in names:
            result["defenders"][n] = measure(n, *job)
            print(f"{n}: {result['defenders'][n]['seconds']} s", flush=True)
    result["seconds"] = round(time.monotonic() - t0, 1)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\nwall time {result['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
