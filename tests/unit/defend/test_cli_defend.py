from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from swarmguard.cli.defend import defend_app
from swarmguard.defend.caldera import load_library, resolve
from swarmguard.defend.env import compile_profile, demo_profile
from swarmguard.defend.measure import CONTRACT_FIELDS
from swarmguard.defend.policy import DEFAULT_POLICY
from swarmguard.defend.train import TrainConfig, save_net, train

FIELDS = set(CONTRACT_FIELDS)


def _evaluate(caldera: Path, out: Path, policy: str, profiles: list[Path], episodes: int) -> dict:  # type: ignore[type-arg]
    args = ["evaluate", "--policy", policy, "--caldera", str(caldera)]
    for p in profiles:
        args += ["--adversary", str(p)]
    args += ["--episodes", str(episodes), "--seed", "5", "--json", str(out)]
    res = CliRunner().invoke(defend_app, args)
    assert res.exit_code == 0, res.output
    data: dict = json.loads(out.read_text())  # type: ignore[type-arg]
    return data


@pytest.mark.parametrize("policy", ["default", "baseline:block-after-n"])
def test_evaluate_contract(
    tmp_path: Path, caldera: Path, profile_path: Callable[[str], Path], policy: str
) -> None:
    profiles = [profile_path("Thief"), profile_path("Discovery")]
    data = _evaluate(caldera, tmp_path / "out.json", policy, profiles, 4)
    assert set(data["adversaries"]) == {"Thief", "Discovery"}
    for row in [*data["adversaries"].values(), data["overall"]]:
        assert set(row) >= FIELDS
    assert data["overall"]["episodes"] == 8
    thief = data["adversaries"]["Thief"]
    assert thief["objective_reachable"] and thief["stand_in_steps"] == 0
    assert thief["held_out_of_default_training"]


def test_policy_folder_and_profile_from_elsewhere(
    tmp_path: Path, caldera: Path, profile_path: Callable[[str], Path]
) -> None:
    """``--policy PATH`` (a saved checkpoint) and an adversary file outside DIR."""
    torch.set_num_threads(1)
    net, _ = train([demo_profile()], TrainConfig(iterations=1, envs=2))
    save_net(net, tmp_path / "ckpt", {"seed": 0})
    outside = tmp_path / "mine" / "thief-copy.yml"
    outside.parent.mkdir()
    shutil.copy(profile_path("Thief"), outside)
    data = _evaluate(caldera, tmp_path / "o.json", str(tmp_path / "ckpt"), [outside], 3)
    assert data["policy"] == str(tmp_path / "ckpt")
    assert data["adversaries"]["Thief"]["episodes"] == 3


def test_profile_with_missing_abilities(tmp_path: Path, caldera: Path) -> None:
    lib = load_library(caldera)
    thief = next(a for a in lib.adversaries.values() if a.name == "Thief")
    prof = tmp_path / "partial.yml"
    prof.write_text(
        "adversary_id: partial-1\nname: Partial\natomic_ordering:\n"
        f"- {thief.atomic_ordering[0]}\n"
        "- 00000000-0000-0000-0000-000000000001 # Exfil Staged Archive over HTTP\n"
        "- 00000000-0000-0000-0000-000000000002\n"
    )
    data = _evaluate(caldera, tmp_path / "o.json", "baseline:none", [prof], 2)
    row = data["adversaries"]["Partial"]
    assert row["runnable"] and row["episodes"] == 2
    assert len(row["missing_abilities"]) == 2 and len(row["mapped_by_technique"]) == 1
    assert row["stand_in_steps"] == 1 and not row["stand_in_only"]


def test_malformed_profile_exits_non_zero(tmp_path: Path, caldera: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("name: no id here\natomic_ordering: [a]\n")
    res = CliRunner().invoke(
        defend_app,
        ["evaluate", "--caldera", str(caldera), "--adversary", str(bad), "--episodes", "1"]
        + ["--seed", "0", "--json", str(tmp_path / "o.json")],
    )
    assert res.exit_code != 0
    assert "bad.yml" in res.output and "no id" in res.output


def test_shipped_policy_has_manifest() -> None:
    manifest = json.loads((DEFAULT_POLICY / "manifest.json").read_text())
    assert manifest["command"].startswith("swarmguard defend train") and "seed" in manifest
    size = sum(p.stat().st_size for p in DEFAULT_POLICY.iterdir())
    assert size < 400_000


def test_unrunnable_and_unreachable_profiles_are_reported(
    tmp_path: Path, caldera: Path, profile_path: Callable[[str], Path]
) -> None:
    names = ["Check", "Service Creation Lateral Movement", "Thief"]
    data = _evaluate(
        caldera, tmp_path / "o.json", "baseline:none", [profile_path(n) for n in names], 2
    )
    check = data["adversaries"]["Check"]
    assert check["runnable"] is False and "cannot run" in check["reason"]
    assert set(check) >= FIELDS and all(check[f] is None for f in FIELDS)
    svc = data["adversaries"]["Service Creation Lateral Movement"]
    assert svc["objective_reachable"] is False and "remote" in svc["objective_unreachable_reason"]
    # every defender "stops" it, so it stays out of overall
    assert data["overall"]["episodes"] == 2
    assert data["overall"]["excluded_unreachable"] == ["Service Creation Lateral Movement"]


def test_shipped_policy_quality(caldera: Path) -> None:
    """A broken shipped policy fails CI: 20 seeded episodes on two profiles."""
    from swarmguard.cli.defend import _defender
    from swarmguard.defend.measure import run_episodes, summarise

    torch.set_num_threads(1)
    lib = load_library(caldera)
    profiles = [
        compile_profile(resolve(a, lib), lib)
        for a in lib.adversaries.values()
        if a.name in ("Thief", "Windows Worm #1")
    ]
    rows = {}
    for name in ("default", "baseline:none", "baseline:block-after-n"):
        stats = [s for p in profiles for s in run_episodes(_defender(name), p, episodes=10, seed=9)]
        rows[name] = summarise(stats)
    best = rows["default"]
    assert best["ops_stopped_before_objective"] >= 0.75
    assert best["reward_mean"] > rows["baseline:block-after-n"]["reward_mean"]
    assert best["reward_mean"] > rows["baseline:none"]["reward_mean"]


def test_committed_train_log_is_reproduced(tmp_path: Path, caldera: Path) -> None:
    """The manifest's command, cut to 2 iterations, gives the committed log's first rows."""
    manifest = json.loads((DEFAULT_POLICY / "manifest.json").read_text())
    args = shlex.split(manifest["command"])[2:]  # after "swarmguard defend"
    for flag, value in (("--caldera", str(caldera)), ("--out", str(tmp_path / "p"))):
        args[args.index(flag) + 1] = value
    args[args.index("--iterations") + 1] = "2"
    res = CliRunner().invoke(defend_app, args)
    assert res.exit_code == 0, res.output
    mine = (tmp_path / "p" / "train_log.jsonl").read_text().splitlines()
    committed = (DEFAULT_POLICY / "train_log.jsonl").read_text().splitlines()[:2]
    for a, b in zip(mine, committed, strict=True):
        row_a, row_b = json.loads(a), json.loads(b)
        row_a.pop("seconds"), row_b.pop("seconds")
        assert row_a == row_b
