"""Measure the shipped defender and the rule baselines on every runnable CALDERA profile.

Usage: python benchmarks/bench_defend.py --caldera DIR --episodes N --seed S --out FILE.json
Same seeds for every defender; prints a markdown table (mean with 95 % CI).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from swarmguard.cli.defend import HELD_OUT, _defender
from swarmguard.defend.caldera import load_library, resolve
from swarmguard.defend.env import compile_profile
from swarmguard.defend.measure import run_episodes, summarise

DEFENDERS = (
    "default",
    "baseline:none",
    "baseline:restore-on-alert",
    "baseline:block-after-n",
    "baseline:analyse-remove",
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--caldera", type=Path, required=True)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--planner", default="atomic")
    ap.add_argument("--defenders", default=",".join(DEFENDERS))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lib = load_library(args.caldera)
    profiles = []
    for adv in sorted(lib.adversaries.values(), key=lambda a: a.name):
        r = resolve(adv, lib)
        if r.runnable:
            profiles.append(compile_profile(r, lib))
    result: dict[str, Any] = {"episodes": args.episodes, "seed": args.seed, "defenders": {}}
    for name in args.defenders.split(","):
        t0 = time.monotonic()
        d = _defender(name)
        idle = run_episodes(d, profiles[0], episodes=args.episodes, seed=args.seed, idle=True)
        per: dict[str, Any] = {}
        seen: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        for p in profiles:
            stats = run_episodes(d, p, episodes=args.episodes, seed=args.seed, planner=args.planner)
            per[p.name] = summarise(stats, idle)
            (held if p.name in HELD_OUT else seen).extend(stats)
        result["defenders"][name] = {
            "adversaries": per,
            "overall": summarise(seen + held, idle),
            "trained_profiles": summarise(seen, idle),
            "held_out_profiles": summarise(held, idle),
            "seconds": round(time.monotonic() - t0, 1),
        }
        o = result["defenders"][name]["overall"]
        print(
            f"{name}: reward {o['reward_mean']:.2f}±{o['reward_ci95']:.2f} "
            f"stopped {o['ops_stopped_before_objective']:.3f} "
            f"precision {o['false_response_precision']} idle {o['idle_cost']:.2f} "
            f"({result['defenders'][name]['seconds']} s)",
            flush=True,
        )
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
