from __future__ import annotations

import numpy as np
from pettingzoo.test import parallel_api_test  # type: ignore[import-untyped]

from swarmguard.defend.env import (
    H_MAX,
    HOST_ACTIONS,
    N_FEATURES,
    N_HOST_ACT,
    ZONE_ACTIONS,
    DefenceEnv,
    demo_profile,
)


def _run(env: DefenceEnv, seed: int, action: int = 0) -> DefenceEnv:
    env.reset(seed=seed)
    while env.agents:
        env.step(dict.fromkeys(env.agents, action))
    return env


def test_parallel_api() -> None:
    parallel_api_test(DefenceEnv([demo_profile()], seed=0), num_cycles=100)
    parallel_api_test(DefenceEnv([demo_profile()], seed=0, single_agent=True), num_cycles=100)


def test_seeded_runs_are_identical() -> None:
    a = _run(DefenceEnv([demo_profile()], planner="mix"), 7)
    b = _run(DefenceEnv([demo_profile()], planner="mix"), 7)
    assert a.link_log == b.link_log and a.link_log
    assert a.raw_return == b.raw_return
    c = _run(DefenceEnv([demo_profile()], planner="mix"), 8)
    assert c.link_log != a.link_log or c.raw_return != a.raw_return


def test_undefended_operation_reaches_objective() -> None:
    env = _run(DefenceEnv([demo_profile()]), 3)
    stats = env.episode_stats()
    assert stats["objective"] and stats["compromised"] >= 1
    assert [t for _, _, _, t, _ in env.link_log][-1] == "exfiltration"


def test_green_noise_exists_against_idle_attacker() -> None:
    env = DefenceEnv([demo_profile()])
    env.reset(seed=1, options={"idle": True})
    total = 0.0
    while env.agents:
        obs, *_ = env.step(dict.fromkeys(env.agents, 0))
        total += sum(
            float(o["observation"].reshape(-1, N_FEATURES)[:, :8].sum()) for o in obs.values()
        )
    assert total > 0, "legitimate users must raise false alerts"
    assert not env.red.present.any() and env.episode_stats()["compromised"] == 0


def test_action_costs_and_masks() -> None:
    env = DefenceEnv([demo_profile()], randomise=False)
    obs, _ = env.reset(seed=2, options={"idle": True})
    mask = obs["defender_user"]["action_mask"]
    assert mask[0] == 1
    # the user zone has 4 hosts, server zone 3: slot 3 of the server zone is padding
    srv = obs["defender_server"]["action_mask"]
    assert srv[1 + 3 * N_HOST_ACT : 1 + 4 * N_HOST_ACT].sum() == 0
    restore = 1 + HOST_ACTIONS.index("restore")
    _, rew, *_ = env.step({"defender_user": restore, "defender_server": 0, "defender_critical": 0})
    assert rew["defender_user"] <= -1.0  # restore costs 1 (plus downtime)
    obs, *_ = env.step(dict.fromkeys(env.agents, 0))
    assert obs["defender_user"]["action_mask"][restore] == 0  # host busy while re-imaging
    assert env.episode_stats()["false_disruptive"] == 1


def test_observation_has_no_ground_truth() -> None:
    """With sensors blind, an attacked network looks exactly like an idle one."""
    env_a = DefenceEnv([demo_profile()], randomise=False)
    env_b = DefenceEnv([demo_profile()], randomise=False)
    env_a.reset(seed=5)
    env_b.reset(seed=5, options={"idle": True})
    for env in (env_a, env_b):
        env.p_detect[:] = 0.0
        env.p_false = 0.0
    for _ in range(20):
        oa, *_ = env_a.step(dict.fromkeys(env_a.agents, 0))
        ob, *_ = env_b.step(dict.fromkeys(env_b.agents, 0))
        for agent in oa:
            assert np.array_equal(oa[agent]["observation"], ob[agent]["observation"])
    assert env_a.red.present.any() and env_a.link_log


def test_analyse_then_remove_evicts_attacker() -> None:
    env = DefenceEnv([demo_profile()], randomise=False)
    env.reset(seed=4)
    h = int(np.flatnonzero(env.red.present)[0])
    assert h < H_MAX  # the foothold is a user host
    analyse = 1 + h * N_HOST_ACT + HOST_ACTIONS.index("analyse")
    remove = 1 + h * N_HOST_ACT + HOST_ACTIONS.index("remove")
    env.step({"defender_user": analyse, "defender_server": 0, "defender_critical": 0})
    for _ in range(2):
        env.step(dict.fromkeys(env.agents, 0))
    env.step({"defender_user": remove, "defender_server": 0, "defender_critical": 0})
    for _ in range(3):
        env.step(dict.fromkeys(env.agents, 0))
    assert not env.red.present[h]
    stats = env.episode_stats()
    assert stats["ttc"] and stats["ttd"] == [0]


def _zone_action(name: str) -> int:
    return 1 + H_MAX * N_HOST_ACT + ZONE_ACTIONS.index(name)


def test_zone_response_counts_every_host_it_touches() -> None:
    env = DefenceEnv([demo_profile()], randomise=False)
    env.reset(seed=4)
    env.step(
        {"defender_user": _zone_action("firewall"), "defender_server": 0, "defender_critical": 0}
    )
    stats = env.episode_stats()
    # 4 user hosts, the attacker on one: 1 correct and 3 false responses, one disruptive action
    assert (stats["responses"], stats["false_responses"]) == (4, 3)
    assert (stats["disruptive_hosts"], stats["false_disruptive_hosts"]) == (4, 3)
    assert (stats["disruptive"], stats["false_disruptive"]) == (1, 0)


def test_remove_on_a_clean_host_is_a_false_response_but_not_disruptive() -> None:
    env = DefenceEnv([demo_profile()], randomise=False)
    env.reset(seed=4)
    clean = next(h for h in range(H_MAX) if env.valid[h] and not env.red.present[h])
    remove = 1 + clean * N_HOST_ACT + HOST_ACTIONS.index("remove")
    env.step({"defender_user": remove, "defender_server": 0, "defender_critical": 0})
    stats = env.episode_stats()
    assert (stats["responses"], stats["false_responses"]) == (1, 1)
    assert stats["disruptive"] == stats["disruptive_hosts"] == 0
    # touching a host that is not compromised is no detection: TTD only counts touches after it
    assert clean not in env.first_touch


def test_detection_requires_containment_before_the_next_tactic_stage() -> None:
    for late, expected in ((False, 1), (True, 0)):
        env = DefenceEnv([demo_profile()], randomise=False)
        env.reset(seed=4)
        h = int(np.flatnonzero(env.red.present)[0])
        if late:  # the attacker completed one more tactic since it reached the host
            env.red.stage = env.compromise_stage[h] + 1
        env._evict(h)
        stats = env.episode_stats()
        assert stats["detected"] == expected and h in env.contained_at
