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

__all__ = ["CONTRACT_FIELDS", "eval_seed", "reachability", "run_episodes", "summarise", "wilson"]


CONTRACT_FIELDS = (
    "episodes",
    "reward_mean",
    "reward_ci95",
    "ops_stopped_before_objective",
    "detection_rate",
    "false_response_precision",
    "ttd_ticks_median",
    "ttc_ticks_median",
    "disruptive_actions_per_100_ticks",
    "idle_cost",
)
"""The fields the evaluation contract promises per adversary and overall."""


def reachability(
    profile: AttackProfile, *, episodes: int = 20, seed: int = 0, planner: str = "atomic"
) -> tuple[bool, str]:
    """Whether the profile's objective succeeds at least once with no defence at all.

    A profile that never reaches its objective undefended is "stopped" by every defender, so
    it says nothing about them; the reason names what blocks it where it can be found
    statically (facts nothing produces, remote steps with no discovered host).

    Examples
    --------
    >>> from swarmguard.defend.env import demo_profile
    >>> reachability(demo_profile(), episodes=2)
    (True, '')
    """
    successes = 0
    for i in range(episodes):
        env = DefenceEnv([profile], planner=planner)
        env.reset(seed=eval_seed(seed, i))
        while env.agents:
            env.step(dict.fromkeys(env.agents, 0))
        if env.red.objective:
            return True, ""
        successes += sum(1 for *_, status in env.link_log if status == "success")
    known = set(profile.seeded) | {p for s in profile.steps for p in s.produces}
    hints = sorted({n for s in profile.steps for n in s.needs - known})
    # a step that itself needs a remote host cannot be the one that finds the first one
    discovers = any(
        not s.remote and any(p.startswith("remote.") for p in s.produces) for s in profile.steps
    ) or any(p.startswith("remote.") for p in profile.seeded)
    why = []
    if hints:
        why.append(f"steps need facts nothing produces ({', '.join(hints)})")
    if any(s.remote for s in profile.steps) and not discovers:
        why.append(
            "its remote steps need a remote host (remote.*) that no local step "
            "and no fact source provides"
        )
    done = "no link completes" if successes == 0 else "the objective never succeeds"
    detail = f": {'; '.join(why)}" if why else ""
    return False, f"{done} with no defence in {episodes} episodes{detail}"


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


def wilson(successes: int, n: int) -> list[float] | None:
    """95 % Wilson score interval ``[low, high]`` of a proportion (``None`` when ``n`` is 0).

    Examples
    --------
    >>> [round(x, 3) for x in wilson(9, 10)]
    [0.596, 0.982]
    """
    if n <= 0:
        return None
    z = 1.96
    p = successes / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return [max(0.0, mid - half), min(1.0, mid + half)]


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def summarise(
    stats: Sequence[dict[str, Any]], idle: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The contract's fields for a set of episodes (and the idle-attacker episodes).

    ``false_response_precision``: responses that act on hosts (remove, block, isolate, restore,
    firewall, emergency), counted per host they touch (a zone action counts every host of the
    zone), correct on hosts where the attacker is present, over all of them.
    ``disruptive_precision``: the same over disruptive actions only (remove excluded). Both are
    ``None`` (undefined) when there is no such action. Proportions come with 95 % Wilson
    intervals ``[low, high]`` (hosts pooled over episodes); means with half-widths.
    """
    rewards = np.array([s["reward"] for s in stats], dtype=float)
    n = len(stats)
    ci = 1.96 * float(rewards.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    comp = sum(s["compromised"] for s in stats)
    det = sum(s["detected"] for s in stats)
    disr = sum(s["disruptive"] for s in stats)
    resp = sum(s["responses"] for s in stats)
    false_resp = sum(s["false_responses"] for s in stats)
    d_hosts = sum(s["disruptive_hosts"] for s in stats)
    false_d_hosts = sum(s["false_disruptive_hosts"] for s in stats)
    ticks = sum(s["ticks"] for s in stats)
    stopped = np.array([not s["objective"] for s in stats], dtype=float)
    out: dict[str, Any] = {
        "episodes": n,
        "reward_mean": float(rewards.mean()) if n else None,
        "reward_ci95": ci,
        "ops_stopped_before_objective": float(stopped.mean()) if n else None,
        "ops_stopped_ci95": 1.96 * float(stopped.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0,
        "detection_rate": _ratio(det, comp),
        "detection_rate_ci95": wilson(det, comp),
        "false_response_precision": _ratio(resp - false_resp, resp),
        "false_response_precision_ci95": wilson(resp - false_resp, resp),
        "responses": resp,
        "false_responses": false_resp,
        "responses_per_100_ticks": 100.0 * resp / ticks if ticks else None,
        "disruptive_precision": _ratio(d_hosts - false_d_hosts, d_hosts),
        "disruptive_precision_ci95": wilson(d_hosts - false_d_hosts, d_hosts),
        "disruptive_actions": disr,
        "ttd_ticks_median": _median([t for s in stats for t in s["ttd"]]),
        "ttc_ticks_median": _median([t for s in stats for t in s["ttc"]]),
        "disruptive_actions_per_100_ticks": 100.0 * disr / ticks if ticks else None,
        "idle_cost": None,
        "idle_cost_ci95": None,
        "tick_seconds": TICK_S,
    }
    if idle:
        idle_r = np.array([s["reward"] for s in idle], dtype=float)
        out["idle_cost"] = float(idle_r.mean())
        out["idle_cost_ci95"] = (
            1.96 * float(idle_r.std(ddof=1)) / math.sqrt(len(idle)) if len(idle) > 1 else 0.0
        )
    return out
