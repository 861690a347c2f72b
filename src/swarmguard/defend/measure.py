"""Measure a defender against adversary profiles: same seeds, topologies and green traffic for all.

Episode ``i`` of an evaluation with seed ``S`` uses environment seed ``S * 1_000_003 + i`` for every
defender and every profile (training uses seeds from ``2**31`` up, so they never overlap). The
idle-attacker cost reuses the same seeds with the attacker switched off.

Examples
--------
>>> from swarmguard.defend.baselines import make_baseline
>>> from swarmguard.defend.env import demo_profile
>>> stats = run_episodes(make_baseline("none"), demo_profile(), episodes=2, seed=0)
>>> s = summarise(stats)
>>> s["episodes"], s["ops_stopped_before_objective"]
(2, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from swarmguard.defend.baselines import Defender
from swarmguard.defend.env import TICK_S, AttackProfile, DefenceEnv

__all__ = ["eval_seed", "run_episodes", "summarise"]


def eval_seed(seed: int, episode: int) -> int:
    """Environment seed of evaluation episode ``episode`` under evaluation seed ``seed``."""
    return seed * 1_000_003 + episode


def run_episodes(
    defender: Defender,
    profile: AttackProfile,
    *,
    episodes: int,
    seed: int,
    planner: str = "atomic",
    idle: bool = False,
    batch: int = 64,
) -> list[dict[str, Any]]:
    """Run ``episodes`` seeded episodes, ``batch`` environments in lockstep; return their stats."""
    out: list[dict[str, Any]] = []
    for start in range(0, episodes, batch):
        n = min(batch, episodes - start)
        envs = [DefenceEnv([profile], planner=planner) for _ in range(n)]
        obs = [
            env.reset(seed=eval_seed(seed, start + i), options={"idle": idle})[0]
            for i, env in enumerate(envs)
        ]
        defender.reset()
        while envs[0].agents:
            actions = defender.act_batch(obs)
            obs = [env.step(a)[0] for env, a in zip(envs, actions, strict=True)]
        out += [env.episode_stats() for env in envs]
    return out


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def summarise(
    stats: Sequence[dict[str, Any]], idle: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The contract's fields for a set of episodes (and the idle-attacker episodes)."""
    rewards = np.array([s["reward"] for s in stats], dtype=float)
    n = len(stats)
    ci = 1.96 * float(rewards.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    comp = sum(s["compromised"] for s in stats)
    disr = sum(s["disruptive"] for s in stats)
    false = sum(s["false_disruptive"] for s in stats)
    ticks = sum(s["ticks"] for s in stats)
    stopped = np.array([not s["objective"] for s in stats], dtype=float)
    out: dict[str, Any] = {
        "episodes": n,
        "reward_mean": float(rewards.mean()) if n else 0.0,
        "reward_ci95": ci,
        "ops_stopped_before_objective": float(stopped.mean()) if n else 0.0,
        "ops_stopped_ci95": 1.96 * float(stopped.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0,
        "detection_rate": sum(s["detected"] for s in stats) / comp if comp else None,
        # no disruptive action at all: no false response either, precision 1.0 (vacuous;
        # ``disruptive_actions`` says so)
        "false_response_precision": (disr - false) / disr if disr else 1.0,
        "disruptive_actions": disr,
        "false_responses": false,
        "ttd_ticks_median": _median([t for s in stats for t in s["ttd"]]),
        "ttc_ticks_median": _median([t for s in stats for t in s["ttc"]]),
        "disruptive_actions_per_100_ticks": 100.0 * disr / ticks if ticks else 0.0,
        "idle_cost": None,
        "tick_seconds": TICK_S,
    }
    if idle:
        idle_r = np.array([s["reward"] for s in idle], dtype=float)
        out["idle_cost"] = float(idle_r.mean())
        out["idle_cost_ci95"] = (
            1.96 * float(idle_r.std(ddof=1)) / math.sqrt(len(idle)) if len(idle) > 1 else 0.0
        )
    return out
