"""``swarmguard defend``: train adaptive defenders and evaluate them against CALDERA profiles."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from swarmguard.cli.console import err, guarded, out, setup_logging
from swarmguard.errors import SwarmguardError

__all__ = ["HELD_OUT", "defend_app", "profile_notes"]

defend_app = typer.Typer(help="Adaptive defence: RL defenders against CALDERA adversary profiles.")

HELD_OUT = ("Thief", "Windows Worm #2", "Super Spy", "Advanced Thief via FTP")
"""Profiles kept out of the shipped policy's training (leave-profile-out evaluation)."""


def _defender(policy: str) -> Any:
    from swarmguard.defend.baselines import BASELINES, make_baseline
    from swarmguard.defend.policy import DEFAULT_POLICY
    from swarmguard.defend.train import NetDefender, load_net

    if policy.startswith("baseline:"):
        name = policy.split(":", 1)[1]
        if name not in BASELINES:
            raise SwarmguardError(f"unknown baseline {name}: use one of {', '.join(BASELINES)}")
        return make_baseline(name)
    folder = DEFAULT_POLICY if policy == "default" else Path(policy)
    net, _ = load_net(folder)
    return NetDefender(net, name=policy)


def profile_notes(resolved: Any, profile: Any, *, seed: int, planner: str) -> dict[str, Any]:
    """What a reader must know about a runnable profile before trusting its figures.

    ``objective_reachable`` is false when the objective never succeeds with no defence at
    all (every defender then "stops" it; such profiles are left out of ``overall``);
    ``stand_in_steps`` counts steps mapped by ATT&CK technique from a missing ability's name.
    """
    from swarmguard.defend.measure import reachability

    ok, why = reachability(profile, seed=seed, planner=planner)
    return {
        "runnable": True,
        "objective_reachable": ok,
        "objective_unreachable_reason": None if ok else why,
        "stand_in_steps": len(resolved.surrogates),
        "stand_in_only": len(resolved.surrogates) == len(resolved.steps),
        "missing_abilities": list(resolved.missing),
        "mapped_by_technique": list(resolved.surrogates),
        "held_out_of_default_training": resolved.adversary.name in HELD_OUT,
    }


@defend_app.command("evaluate")
def evaluate_command(
    caldera: Annotated[Path, typer.Option(help="CALDERA data folder (abilities/, sources/ ...)")],
    adversary: Annotated[list[Path], typer.Option(help="adversary profile YAML (repeatable)")],
    json_out: Annotated[Path, typer.Option("--json", help="write the measurements here")],
    policy: Annotated[str, typer.Option(help="default, baseline:NAME or a policy folder")] = (
        "default"
    ),
    episodes: Annotated[int, typer.Option(min=1, help="episodes per adversary")] = 100,
    seed: Annotated[int, typer.Option(min=0, help="evaluation seed")] = 0,
    planner: Annotated[str, typer.Option(help="atomic, batch, buckets or mix")] = "atomic",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Measure a defender against each adversary profile (same seeds for every defender)."""
    setup_logging(verbose)
    with guarded():
        from swarmguard.defend.caldera import load_adversary, load_library, resolve
        from swarmguard.defend.env import compile_profile
        from swarmguard.defend.measure import CONTRACT_FIELDS, run_episodes, summarise

        # validate every profile first: a malformed one stops the run with its reason
        advs = [load_adversary(p) for p in adversary]
        lib = load_library(caldera)
        defender = _defender(policy)
        result: dict[str, Any] = {"policy": policy, "seed": seed, "planner": planner}
        per: dict[str, Any] = {}
        counted: list[dict[str, Any]] = []
        unreachable: list[dict[str, Any]] = []
        excluded: list[str] = []
        idle: list[dict[str, Any]] | None = None
        for adv in advs:
            resolved = resolve(adv, lib)
            key = adv.name if adv.name not in per else f"{adv.name} ({adv.adversary_id})"
            if not resolved.runnable:
                reason = (
                    f"cannot run: none of its {len(set(adv.atomic_ordering))} abilities is in "
                    f"{caldera} or mappable by ATT&CK technique"
                )
                err.print(f"warning: {adv.path}: profile {adv.name!r} {reason}")
                per[key] = {
                    **dict.fromkeys(CONTRACT_FIELDS),
                    "runnable": False,
                    "reason": reason,
                }
                continue
            profile = compile_profile(resolved, lib)
            if idle is None:  # the same idle episodes (attacker off) for every profile
                idle = run_episodes(
                    defender, profile, episodes=episodes, seed=seed, planner=planner, idle=True
                )
            notes = profile_notes(resolved, profile, seed=seed, planner=planner)
            stats = run_episodes(defender, profile, episodes=episodes, seed=seed, planner=planner)
            if notes["objective_reachable"]:
                counted += stats
            else:
                unreachable += stats
                excluded.append(key)
                err.print(
                    f"warning: profile {adv.name!r}: {notes['objective_unreachable_reason']}; "
                    "left out of overall"
                )
            row = {**summarise(stats, idle), **notes}
            per[key] = row
            out.print(
                f"{key}: reward {row['reward_mean']:.2f} ± {row['reward_ci95']:.2f}, "
                f"stopped {row['ops_stopped_before_objective']:.3f}, precision "
                f"{row['false_response_precision']}"
            )
        result["adversaries"] = per
        if not counted and not unreachable:
            raise SwarmguardError("no adversary profile could run: nothing to measure")
        # profiles whose objective no attacker reaches say nothing about the defender; they
        # count only when nothing else ran
        result["overall"] = {
            **summarise(counted or unreachable, idle),
            "excluded_unreachable": excluded if counted else [],
        }
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


@defend_app.command("train")
def train_command(
    caldera: Annotated[Path, typer.Option(help="CALDERA data folder")],
    out_dir: Annotated[Path, typer.Option("--out", help="policy folder to write")],
    algorithm: Annotated[str, typer.Option(help="mappo, ippo or ppo (single agent)")] = "mappo",
    iterations: Annotated[int, typer.Option(min=1, help="PPO iterations")] = 300,
    envs: Annotated[int, typer.Option(min=1, help="episodes per iteration")] = 16,
    seed: Annotated[int, typer.Option(min=0, help="training seed")] = 0,
    shaping: Annotated[float, typer.Option(help="potential-based shaping weight (0 = off)")] = 0.0,
    false_response_cost: Annotated[
        float, typer.Option(help="training-only cost per host a response touches needlessly")
    ] = 0.0,
    false_response_warmup: Annotated[
        int, typer.Option(min=0, help="iterations over which that cost grows from 0")
    ] = 0,
    hold_out: Annotated[
        str, typer.Option(help="comma-separated profile names kept out of training")
    ] = ",".join(HELD_OUT),
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train a defender (logs and a learning curve go next to the policy)."""
    setup_logging(verbose)
    with guarded():
        import torch

        from swarmguard.defend.caldera import load_library, resolve
        from swarmguard.defend.env import compile_profile
        from swarmguard.defend.train import TrainConfig, save_net, train

        torch.set_num_threads(1)
        lib = load_library(caldera)
        held = {h.strip() for h in hold_out.split(",") if h.strip()}
        profiles = []
        for adv in sorted(lib.adversaries.values(), key=lambda a: a.name):
            resolved = resolve(adv, lib)
            if resolved.runnable and adv.name not in held:
                profiles.append(compile_profile(resolved, lib))
        if not profiles:
            raise SwarmguardError("no runnable training profile left after --hold-out")
        cfg = TrainConfig(
            algorithm=algorithm,
            iterations=iterations,
            envs=envs,
            seed=seed,
            shaping=shaping,
            false_response_cost=false_response_cost,
            false_response_warmup=false_response_warmup,
        )

        def show(row: dict[str, Any]) -> None:
            if row["iteration"] % 10 == 0:
                err.print(
                    f"it {row['iteration']}: reward {row['reward_mean']:.2f} "
                    f"stopped {row['ops_stopped']} precision {row['false_response_precision']}"
                )

        net, log = train(profiles, cfg, progress=show)
        command = (
            f"swarmguard defend train --caldera {shlex.quote(str(caldera))} --out "
            f"{shlex.quote(str(out_dir))} --algorithm {algorithm} --iterations {iterations} "
            f"--envs {envs} --seed {seed} --shaping {shaping} "
            f"--false-response-cost {false_response_cost} "
            f"--false-response-warmup {false_response_warmup} --hold-out {shlex.quote(hold_out)}"
        )
        save_net(
            net,
            out_dir,
            {
                "command": command,
                "seed": seed,
                "algorithm": algorithm,
                "iterations": iterations,
                "envs": envs,
                "shaping": shaping,
                "false_response_cost": false_response_cost,
                "false_response_warmup": false_response_warmup,
                "trained_on": [p.name for p in profiles],
                "held_out": sorted(held),
                "tick_seconds": 10,
            },
        )
        (out_dir / "train_log.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in log), encoding="utf-8"
        )
        _plot(log, out_dir / "learning_curve.png", f"{algorithm} (seed {seed})")
        out.print(f"policy written to {out_dir} ({len(log)} iterations)")


def _plot(log: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    eps = [r["episodes"] for r in log]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(eps, [r["reward_mean"] for r in log])
    ax[0].set_xlabel("training episodes")
    ax[0].set_ylabel("mean episode reward")
    ax[1].plot(eps, [r["ops_stopped"] if r["ops_stopped"] is not None else 0 for r in log])
    ax[1].set_xlabel("training episodes")
    ax[1].set_ylabel("operations stopped")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
