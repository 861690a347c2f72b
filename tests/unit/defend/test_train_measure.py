from __future__ import annotations

from pathlib import Path

import pytest
import torch

from swarmguard.defend.baselines import BASELINES, make_baseline
from swarmguard.defend.caldera import TACTIC_ORDER
from swarmguard.defend.env import OSES, AttackProfile, DefenceEnv, Step, demo_profile
from swarmguard.defend.measure import eval_seed, reachability, run_episodes, summarise, wilson
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


def _worm() -> AttackProfile:
    """Discover the neighbours, move to one, collect and exfiltrate: spreads when undefended."""

    def mk(aid: str, tactic: str, needs: tuple[str, ...] = (), prod: tuple[str, ...] = ()) -> Step:
        moves = tactic == "lateral-movement"
        return Step(
            aid,
            tactic,
            0,
            TACTIC_ORDER.index(tactic),
            frozenset(OSES),
            frozenset(needs),
            frozenset(),
            frozenset(),
            frozenset(prod),
            moves,
            moves,
            tactic == "exfiltration",
            False,
            False,
            False,
            60,
        )

    steps = (
        mk("d1", "discovery", prod=("remote.host.fqdn",)),
        mk("l1", "lateral-movement"),
        mk("c1", "collection", prod=("host.dir.compress",)),
        mk("x1", "exfiltration", needs=("host.dir.compress",)),
    )
    return AttackProfile("worm", steps, frozenset(), frozenset(OSES))


def test_same_seeds_for_every_defender() -> None:
    """Common random numbers: defenders see the same legitimate traffic and the same attacker
    until their first action can take effect (actions complete a tick after they start)."""
    prof = _worm()
    acted = spread = 0
    for seed in range(6):
        runs = {}
        for name in ("none", "restore-on-alert", "analyse-remove", "block-after-n"):
            env = DefenceEnv([prof])
            obs, _ = env.reset(seed=eval_seed(3, seed))
            defender = make_baseline(name)
            first = None
            while env.agents:
                act = defender.act(obs)
                if first is None and any(act.values()):
                    first = env.t
                obs, *_ = env.step(act)
            runs[name] = (env, first)
        base = runs["none"][0]
        spread += len(base.compromised_at) >= 2
        assert base.green_log, "legitimate users raise alerts"
        for name, (env, first) in runs.items():
            assert env.green_log == base.green_log, name
            if first is None:
                assert env.link_log == base.link_log, name
                continue
            acted += 1
            assert [x for x in env.link_log if x[0] <= first] == [
                x for x in base.link_log if x[0] <= first
            ], name
            early = {h: t for h, t in base.compromised_at.items() if t <= first}
            assert {h: t for h, t in env.compromised_at.items() if t <= first} == early
    assert spread >= 3 and acted >= 6  # the check is not vacuous: the worm moves, defenders act
    a = run_episodes(make_baseline("none"), prof, episodes=4, seed=3)
    b = run_episodes(make_baseline("none"), prof, episodes=4, seed=3, batch=3)
    assert [s["reward"] for s in a] == [s["reward"] for s in b]


def test_precision_is_undefined_without_responses() -> None:
    stats = run_episodes(make_baseline("none"), demo_profile(), episodes=3, seed=0)
    s = summarise(stats)
    assert s["false_response_precision"] is None and s["disruptive_precision"] is None
    assert s["responses"] == 0 and s["responses_per_100_ticks"] == 0.0
    r = summarise(
        run_episodes(make_baseline("restore-on-alert"), demo_profile(), episodes=3, seed=0)
    )
    lo, hi = r["false_response_precision_ci95"]
    assert lo <= r["false_response_precision"] <= hi
    assert r["disruptive_precision"] == r["false_response_precision"]  # restores only
    assert wilson(0, 0) is None


def test_unreachable_objective_is_detected() -> None:
    ok, why = reachability(demo_profile(), episodes=3)
    assert ok and why == ""
    lateral_only = AttackProfile("stuck", _worm().steps[1:2], frozenset(), frozenset(OSES))
    ok, why = reachability(lateral_only, episodes=3)
    assert not ok and "no link completes" in why and "remote host" in why


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
