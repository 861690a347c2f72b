"""Train defenders with PPO: MAPPO / IPPO (one agent per zone, shared weights) or single-agent PPO.

Environments run in lockstep (episodes have a fixed length), so every rollout is one episode per
environment; advantages use GAE on the team reward (with optional potential-based shaping); the
MAPPO critic sees the global state, the IPPO critic each agent's own view. Training seeds start
at ``2**31`` and never meet evaluation seeds.

Examples
--------
>>> from swarmguard.defend.env import demo_profile
>>> cfg = TrainConfig(iterations=1, envs=2, seed=0)
>>> net, log = train([demo_profile()], cfg)
>>> len(log), sorted(log[0])[:3]
(1, ['disruptive_per_100_ticks', 'entropy', 'episodes'])
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from swarmguard.defend.baselines import Obs
from swarmguard.defend.env import H_MAX, N_FEATURES, AttackProfile, DefenceEnv
from swarmguard.defend.net import DefenceNet, entropy, masked_log_probs
from swarmguard.errors import InputError

__all__ = ["TRAIN_SEED_BASE", "NetDefender", "TrainConfig", "load_net", "save_net", "train"]

TRAIN_SEED_BASE = 2**31


@dataclass
class TrainConfig:
    """PPO settings (defaults are the shipped policy's)."""

    algorithm: str = "mappo"
    iterations: int = 300
    envs: int = 16
    seed: int = 0
    lr: float = 3e-4
    gamma: float = 0.99
    lam: float = 0.95
    clip: float = 0.2
    epochs: int = 4
    minibatches: int = 4
    entropy: float = 0.01
    hidden: int = 64
    shaping: float = 0.0
    false_response_cost: float = 0.0
    """Training-only cost per host a response (remove, block ...) touches with no attacker."""
    false_response_warmup: int = 0
    """Iterations over which that cost grows linearly from 0 (0: in full from the start)."""
    idle_prob: float = 0.1
    planner: str = "mix"
    reward_scale: float = 0.1


class NetDefender:
    """A trained network as a defender (greedy, or sampling when ``greedy`` is false)."""

    def __init__(self, net: DefenceNet, name: str = "rl", greedy: bool = True) -> None:
        self.net = net
        self.name = name
        self.greedy = greedy

    def reset(self) -> None:
        """No per-episode memory."""

    def act_batch(self, batch: Sequence[Obs]) -> list[dict[str, int]]:
        """Act in several environments with one forward pass per zone count."""
        keys = [(i, a) for i, obs in enumerate(batch) for a in obs]
        out: list[dict[str, int]] = [{} for _ in batch]
        by_size: dict[int, list[tuple[int, str]]] = {}
        for i, a in keys:
            by_size.setdefault(batch[i][a]["observation"].shape[0], []).append((i, a))
        with torch.no_grad():
            for size, group in by_size.items():
                x = torch.as_tensor(np.stack([batch[i][a]["observation"] for i, a in group]))
                m = torch.as_tensor(np.stack([batch[i][a]["action_mask"] for i, a in group]))
                logits, _ = self.net(x, zones=size // (H_MAX * N_FEATURES))
                logp = masked_log_probs(logits, m)
                if self.greedy:
                    acts = logp.argmax(1)
                else:
                    acts = torch.multinomial(logp.exp(), 1, True).squeeze(1)
                for (i, a), act in zip(group, acts.tolist(), strict=True):
                    out[i][a] = int(act)
        return out


def save_net(net: DefenceNet, folder: str | Path, manifest: dict[str, Any]) -> None:
    """Write ``model.pt`` (state dict) and ``manifest.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().to(torch.float32) for k, v in net.state_dict().items()}
    torch.save(state, folder / "model.pt")
    body = {"hidden": net.hidden, **manifest}
    (folder / "manifest.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def load_net(folder: str | Path) -> tuple[DefenceNet, dict[str, Any]]:
    """Load a policy folder written by :func:`save_net`."""
    folder = Path(folder)
    model, man = folder / "model.pt", folder / "manifest.json"
    if not model.is_file() or not man.is_file():
        raise InputError(folder, "not a policy folder (needs model.pt and manifest.json)")
    manifest = json.loads(man.read_text(encoding="utf-8"))
    net = DefenceNet(hidden=int(manifest.get("hidden", 64)))
    try:
        net.load_state_dict(torch.load(model, map_location="cpu", weights_only=True))
    except (RuntimeError, KeyError) as exc:
        raise InputError(model, f"weights do not fit the network: {exc}") from exc
    net.eval()
    return net, manifest


def _flat(obs: Obs, agents: Sequence[str]) -> tuple[NDArray[Any], NDArray[Any]]:
    return (
        np.stack([obs[a]["observation"] for a in agents]),
        np.stack([obs[a]["action_mask"] for a in agents]),
    )


def train(
    profiles: Sequence[AttackProfile],
    cfg: TrainConfig,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[DefenceNet, list[dict[str, Any]]]:
    """Train a defender against ``profiles``; return the network and one log row per iteration."""
    if cfg.algorithm not in ("mappo", "ippo", "ppo"):
        raise ValueError(f"unknown algorithm {cfg.algorithm}: use mappo, ippo or ppo")
    torch.manual_seed(cfg.seed)
    single = cfg.algorithm == "ppo"
    envs = [
        DefenceEnv(
            profiles,
            planner=cfg.planner,
            single_agent=single,
            shaping=cfg.shaping,
            false_response_cost=cfg.false_response_cost,
            idle_prob=cfg.idle_prob,
        )
        for _ in range(cfg.envs)
    ]
    agents = list(envs[0].possible_agents)
    zones = 3 if single else 1
    n_ag = len(agents)
    net = DefenceNet(hidden=cfg.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    log: list[dict[str, Any]] = []
    episode = 0
    t0 = time.monotonic()
    for it in range(cfg.iterations):
        ramp = cfg.false_response_warmup
        for env in envs:
            env.false_response_cost = cfg.false_response_cost * min(
                1.0, (it + 1) / ramp if ramp else 1.0
            )
        obs_l, mask_l, act_l, logp_l, val_l, rew_l, state_l = [], [], [], [], [], [], []
        obs = [
            env.reset(seed=TRAIN_SEED_BASE + cfg.seed * 10_000_000 + episode + k)[0]
            for k, env in enumerate(envs)
        ]
        episode += len(envs)
        while envs[0].agents:
            flat = [_flat(o, agents) for o in obs]
            x = torch.as_tensor(np.concatenate([f[0] for f in flat]))
            m = torch.as_tensor(np.concatenate([f[1] for f in flat]))
            with torch.no_grad():
                logits, v_local = net(x, zones=zones)
                logp_all = masked_log_probs(logits, m)
                act = torch.multinomial(logp_all.exp(), 1, True).squeeze(1)
                if cfg.algorithm == "mappo":
                    st = torch.as_tensor(np.stack([env.state() for env in envs]))
                    v = net.value(st, zones=3).repeat_interleave(n_ag)
                    state_l.append(st.repeat_interleave(n_ag, 0))
                else:
                    v = v_local
            acts = act.numpy().reshape(len(envs), n_ag)
            rewards = []
            new_obs = []
            for env, a in zip(envs, acts, strict=True):
                o, r, _, _, _ = env.step({ag: int(a[j]) for j, ag in enumerate(agents)})
                new_obs.append(o)
                rewards.append([r[ag] for ag in agents])
            obs_l.append(x)
            mask_l.append(m)
            act_l.append(act)
            logp_l.append(logp_all.gather(1, act[:, None]).squeeze(1))
            val_l.append(v)
            rew_l.append(torch.as_tensor(np.array(rewards, dtype=np.float32).reshape(-1)))
            obs = new_obs
        steps = len(rew_l)
        rew = torch.stack(rew_l) * cfg.reward_scale
        val = torch.stack(val_l)
        adv = torch.zeros_like(rew)
        last = torch.zeros_like(rew[0])
        for t in reversed(range(steps)):
            nxt = val[t + 1] if t + 1 < steps else torch.zeros_like(val[0])
            delta = rew[t] + cfg.gamma * nxt - val[t]
            last = delta + cfg.gamma * cfg.lam * last
            adv[t] = last
        ret = (adv + val).reshape(-1)
        adv = adv.reshape(-1)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        X = torch.cat(obs_l)
        M = torch.cat(mask_l)
        A = torch.cat(act_l)
        LP = torch.cat(logp_l)
        S = torch.cat(state_l) if state_l else None
        n = X.shape[0]
        mb = max(1, n // cfg.minibatches)
        ent_sum = 0.0
        for _ in range(cfg.epochs):
            perm = torch.randperm(n)
            for s in range(0, n, mb):
                idx = perm[s : s + mb]
                logits, v_local = net(X[idx], zones=zones)
                logp_all = masked_log_probs(logits, M[idx])
                lp = logp_all.gather(1, A[idx][:, None]).squeeze(1)
                ratio = (lp - LP[idx]).exp()
                a_mb = adv[idx]
                pg = -torch.min(ratio * a_mb, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * a_mb).mean()
                v_pred = net.value(S[idx], zones=3) if S is not None else v_local
                vloss = 0.5 * ((v_pred - ret[idx]) ** 2).mean()
                ent = entropy(logp_all).mean()
                loss = pg + vloss - cfg.entropy * ent
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
                opt.step()
                ent_sum = float(ent.detach())
        stats = [env.episode_stats() for env in envs]
        attacked = [s for s in stats if not s["idle"]]
        disr = sum(s["disruptive"] for s in stats)
        resp = sum(s["responses"] for s in stats)
        row = {
            "iteration": it,
            "episodes": episode,
            "seconds": round(time.monotonic() - t0, 2),
            "reward_mean": float(np.mean([s["reward"] for s in stats])),
            "ops_stopped": float(np.mean([not s["objective"] for s in attacked]))
            if attacked
            else None,
            "false_response_precision": (resp - sum(s["false_responses"] for s in stats)) / resp
            if resp
            else None,
            "responses_per_100_ticks": 100.0 * resp / sum(s["ticks"] for s in stats),
            "disruptive_per_100_ticks": 100.0 * disr / sum(s["ticks"] for s in stats),
            "entropy": ent_sum,
        }
        log.append(row)
        if progress is not None:
            progress(row)
    return net, log
