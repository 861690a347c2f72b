from __future__ import annotations

from pathlib import Path

import pytest
import torch

from swarmguard.defend.baselines import BASELINES, make_baseline
from swarmguard.defend.env import demo_profile
from swarmguard.defend.measure import run_episodes, summarise
from swarmguard.defend.train import NetDefender, TrainConfig, load_net, save_net, train
from swarmguard.errors import InputError

FIELDS = {
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
}


def test_same_seeds_for_every_defender() -> None:
    prof = demo_profile()
    a = run_episodes(make_baseline("none"), prof, episodes=4, seed=3)
    b = run_episodes(make_baseline("none"), prof, episodes=4, seed=3, batch=3)
    assert [s["reward"] for s in a] == [s["reward"] for s in b]
    r = run_episodes(make_baseline("restore-on-alert"), prof, episodes=4, seed=3)
    assert [s["compromised"] for s in r] == [s["compromised"] for s in a]


def test_baselines_differ_and_summary_has_contract_fields() -> None:
    prof = demo_profile()
    rows = {}
    for name in BASELINES:
        stats = run_episodes(make_baseline(name), prof, episodes=20, seed=1)
        idle = run_episodes(make_baseline(name), prof, episodes=5, seed=1, idle=True)
        rows[name] = summarise(stats, idle)
        assert set(rows[name]) >= FIELDS
    assert rows["none"]["ops_stopped_before_objective"] == 0.0
    assert rows["none"]["idle_cost"] == 0.0
    assert rows["restore-on-alert"]["ops_stopped_before_objective"] > 0.5
    assert rows["restore-on-alert"]["idle_cost"] < -1.0  # false alerts cost re-images


@pytest.mark.parametrize("algorithm", ["mappo", "ippo", "ppo"])
def test_training_smoke(tmp_path: Path, algorithm: str) -> None:
    torch.set_num_threads(1)
    net, log = train([demo_profile()], TrainConfig(algorithm=algorithm, iterations=2, envs=2))
    assert len(log) == 2 and all("reward_mean" in r for r in log)
    save_net(net, tmp_path / "p", {"seed": 0})
    net2, manifest = load_net(tmp_path / "p")
    assert manifest["seed"] == 0
    for k, v in net.state_dict().items():
        assert torch.equal(v, net2.state_dict()[k])
    stats = run_episodes(NetDefender(net2), demo_profile(), episodes=2, seed=0)
    assert len(stats) == 2


def test_load_net_rejects_other_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a policy folder"):
        load_net(tmp_path)


def test_training_is_reproducible() -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig(iterations=2, envs=2, seed=3)
    a, log_a = train([demo_profile()], cfg)
    b, log_b = train([demo_profile()], cfg)
    assert [r["reward_mean"] for r in log_a] == [r["reward_mean"] for r in log_b]
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
